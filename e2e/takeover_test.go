package e2e

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/testevent"
)

// takeoverLeases are the --lease values TestWorkerCrashTakeover runs with:
// $SWITCHBOARD_TAKEOVER_LEASES (comma-separated durations, e.g. "2s,5s,15s"
// for the figures in docs/scaling.md), else one short lease.
func takeoverLeases(t *testing.T) []time.Duration {
	v := os.Getenv("SWITCHBOARD_TAKEOVER_LEASES")
	if v == "" {
		return []time.Duration{3 * time.Second}
	}
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < time.Second {
			t.Fatalf("SWITCHBOARD_TAKEOVER_LEASES: %q is not a duration of at least 1s", f)
		}
		out = append(out, d)
	}
	return out
}

// TestWorkerCrashTakeover kills a worker process (SIGKILL: nothing released)
// under a bounded load and checks that its shards are taken over by the
// other worker once its leases expire, that no acknowledged event is lost and
// that every conversation's events reach the agent in order (a redelivery of
// the killed worker's task in flight is the documented duplicate). It logs
// the takeover time: from the kill to the survivor owning every shard, and to
// the last delivery of what was sent meanwhile. The time is reported, not
// asserted (docs/scaling.md has the figures per --lease).
func TestWorkerCrashTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	for _, lease := range takeoverLeases(t) {
		t.Run("lease="+lease.String(), func(t *testing.T) { crashTakeover(t, lease) })
	}
}

func crashTakeover(t *testing.T, lease time.Duration) {
	ls := lease.String()
	s := startStack(t, stackOption{workerArgs: []string{"--lease", ls}})
	s.startWorker("worker-2", "e2e-worker-2", "--lease", ls)
	ctx := context.Background()
	leases := queue.NewLeases(s.rdb, shards, lease)
	owners := func() map[int]string { // shard -> worker id
		o, err := leases.Owners(ctx)
		if err != nil {
			t.Fatalf("lease owners: %v", err)
		}
		for sh, tok := range o {
			o[sh] = queue.TokenWorker(tok)
		}
		return o
	}
	// Both workers hold their fair share (2 of 4 shards each).
	s.waitFor("both workers owning shards", func() bool {
		n := map[string]int{}
		for _, w := range owners() {
			n[w]++
		}
		return len(owners()) == shards && n["e2e-worker"] > 0 && n["e2e-worker-2"] > 0
	})

	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Takeover"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	secret := randHex(16)
	in := s.newInstall(org, agent, "slack", "A0TAKE", "T0TAKE", map[string]string{"signing": secret}, nil,
		testevent.Credentials{Secret: secret}, "xoxb-take-"+randHex(8))
	s.waitFor("the edge to accept the installation", func() bool {
		code, _ := s.send(s.signed(s.edge, in, in.event("takeover probe"), in.cred))
		return code == 200
	})
	s.waitDelivered("takeover probe", 10*time.Second)

	// A bounded load: numbered events on 16 channels (so every shard has
	// sessions), from before the kill until the survivor owns every shard.
	const channels = 16
	// At most 50 events/s, and about 600 in all: the demo agent keeps its
	// last 1000 deliveries.
	load := s.startConvoLoad(in, "tk", channels, 0, max(20*time.Millisecond, (lease+3*time.Second)/600))
	time.Sleep(time.Second)
	var victim *proc
	for _, p := range s.procs {
		if p.name == "worker" {
			victim = p
		}
	}
	before := owners()
	var theirs []int
	for sh, w := range before {
		if w == "e2e-worker" {
			theirs = append(theirs, sh)
		}
	}
	sort.Ints(theirs)
	if len(theirs) == 0 {
		t.Fatalf("the worker to kill owns no shard: %v", before)
	}
	killedAt := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill worker: %v", err)
	}
	<-victim.done
	deadline := killedAt.Add(lease*2 + 20*time.Second)
	var takenOver time.Duration
	for {
		o, all := owners(), true
		for _, w := range o {
			all = all && w == "e2e-worker-2"
		}
		if all && len(o) == shards {
			takenOver = time.Since(killedAt)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed worker's shards %v were not taken over within %s: %v", theirs, lease*2+20*time.Second, owners())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if n := load.acknowledged(); n < channels*2 {
		t.Fatalf("only %d events acknowledged: the load did not run", n)
	}
	// Every acknowledged event reaches the agent; the first delivery of
	// each comes in the conversation's order.
	r := load.waitDeliveredInOrder(t, 30*time.Second)
	t.Logf("lease %s: killed worker owned shards %v; survivor owned every shard %s after the kill; %d acknowledged events all delivered, the longest from acknowledgement to delivery %s; %d redelivered; order kept on %d channels",
		lease, theirs, takenOver.Round(time.Millisecond), r.acked, r.maxStall.Round(time.Millisecond), r.dups, r.channels)
}
