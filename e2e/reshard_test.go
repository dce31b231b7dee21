package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestReshardThroughStack runs the documented resharding procedure against
// the stack's own processes (edge, ingest, workers, demo agent, the
// switchboard binary's `queue reshard`) under a bounded load of numbered
// events on 16 channels. The worker is stopped first, so that moved
// sessions' tasks pile up in their old queues; `queue reshard --to 7
// --no-wait` seals the 4 old shards and opens the 7 new ones while ingest
// (started with --shards 4, its layout cached) keeps accepting; two new
// workers, started with the old --shards 4, follow the recorded layout; a
// second `queue reshard --to 7` resumes, waits for the drain and finishes.
// Every acknowledged event reaches the agent, each channel's first
// deliveries in acknowledgement order, and no process logs a secret.
func TestReshardThroughStack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	s := startStack(t)
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Reshard"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	secret := randHex(16)
	in := s.newInstall(org, agent, "slack", "A0RESH", "T0RESH", map[string]string{"signing": secret}, nil,
		testevent.Credentials{Secret: secret}, "xoxb-resh-"+randHex(8))
	s.waitFor("the edge to accept the installation", func() bool {
		code, _ := s.send(s.signed(s.edge, in, in.event("reshard probe"), in.cred))
		return code == 200
	})
	s.waitDelivered("reshard probe", 10*time.Second)

	const channels, maxEvents = 16, 700                                          // the demo agent keeps its last 1000 deliveries
	load := s.startConvoLoad(in, "rs", channels, maxEvents, 25*time.Millisecond) // 40 events/s
	ackedN := load.acknowledged
	waitUntil(t, "the load running", 20*time.Second, func() bool { return ackedN() >= 2*channels })

	// The worker stops (cleanly): tasks pile up in the 4 old queues.
	var worker *proc
	for _, p := range s.procs {
		if p.name == "worker" {
			worker = p
		}
	}
	worker.stop()
	atStop := ackedN()
	waitUntil(t, "a backlog", 20*time.Second, func() bool { return ackedN() >= atStop+3*channels })

	reshard := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append([]string{"queue", "reshard", "--redis", s.redisAddr, "--shards", "4", "--poll", "100ms"}, args...)...)
		cmd.Env, cmd.Dir = s.env, s.dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("queue reshard %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dry := reshard("--to", "7", "--dry-run")
	if !strings.Contains(dry, "dry run: 4 shards (epoch 0) → 7 shards (epoch 1)") || strings.Contains(dry, "\n0 queued task(s)") {
		t.Fatalf("dry run with a backlog:\n%s", dry)
	}
	if out := reshard("--to", "7", "--no-wait"); !strings.Contains(out, "opened: the 7 shards take tasks of epoch 1") {
		t.Fatalf("reshard --no-wait:\n%s", out)
	}
	// Ingest goes on accepting under the new layout (its cached one is
	// refused by the sealed shards, it reads the new one).
	atOpen := ackedN()
	waitUntil(t, "events accepted under the new layout", 20*time.Second, func() bool { return ackedN() >= atOpen+2*channels })

	// Two new workers, started with the old --shards: they follow the layout.
	for _, w := range []string{"a", "b"} {
		s.startWorker("worker-"+w, "e2e-worker-"+w, "--metrics-listen", "127.0.0.1:"+strconv.Itoa(servicetest.FreePort(t)))
	}
	finished := reshard("--to", "7")
	if !strings.Contains(finished, "resuming reshard: 4 shards (epoch 0) → 7 shards (epoch 1)") || !strings.Contains(finished, "finished: 7 shards (epoch 1), stable") {
		t.Fatalf("resumed reshard:\n%s", finished)
	}
	atFinish := ackedN()
	waitUntil(t, "events accepted after the reshard", 20*time.Second, func() bool { return ackedN() >= atFinish+channels })
	r := load.waitDeliveredInOrder(t, 60*time.Second)
	cmd := exec.Command(binary, "queue", "layout", "--json", "--redis", s.redisAddr)
	cmd.Env, cmd.Dir = s.env, s.dir
	out, err := cmd.CombinedOutput()
	var lay queue.Layout
	if err != nil || json.Unmarshal(out, &lay) != nil || lay.Epoch != 1 || lay.Shards != 7 || lay.State != queue.Stable {
		t.Fatalf("queue layout --json: %v\n%s", err, out)
	}
	for _, name := range []string{"worker-a", "worker-b"} {
		b, _ := os.ReadFile(s.dir + "/" + name + ".log")
		if !strings.Contains(string(b), `msg="shard layout" worker=e2e-`+name+" epoch=1 shards=7") ||
			!strings.Contains(string(b), `msg="the shard layout recorded in Redis applies, not --shards" shards_flag=4 epoch=1 shards=7`) {
			t.Errorf("%s did not log the layout it follows:\n%s", name, tail(string(b), 10))
		}
	}
	s.checkLogsHoldNoSecret()
	t.Logf("%d events acknowledged through the stack across a reshard 4 → 7 (worker stopped first: a backlog of %d events in the old queues), all delivered, order kept on %d channels, %d redelivered; the drain:\n%s",
		r.acked, atOpen-atStop, r.channels, r.dups, finished)
}
