package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestQueueReshardCommand(t *testing.T) {
	r := servicetest.StartRedis(t)
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rc.Close()
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runQueue(ctx, append(args, "--redis", r.Addr, "--shards", "4", "--poll", "10ms"), noEnv, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := run("layout")
	if err != nil || !strings.Contains(out, "layout: epoch 0, 4 shards, stable (none recorded: the --shards count)") {
		t.Fatalf("layout before any reshard: %v\n%s", err, out)
	}
	// Two events of sessions that move from 4 to 2 shards, queued, no worker.
	c := queue.NewClient("", 4, queue.WithRedisClient(rc))
	var moved []envelope.Envelope
	for i := 0; len(moved) < 2; i++ {
		ev := envelope.Envelope{Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", Conversation: fmt.Sprintf("C%d", i),
			EventID: fmt.Sprintf("Ev%d", i), AgentID: "agt_a", Text: "hi", ReceivedAt: time.Now().UTC()}.Finish()
		if err := c.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if queue.Shard(ev.SessionKey, 4) != queue.Shard(ev.SessionKey, 2) {
			moved = append(moved, ev)
		}
	}
	out, err = run("reshard", "--to", "2", "--dry-run")
	if err != nil || !strings.Contains(out, "dry run: 4 shards (epoch 0) → 2 shards (epoch 1)") ||
		!strings.Contains(out, "2 queued task(s) belong to sessions that would move") || !strings.Contains(out, "nothing changed") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if _, raw, _ := queue.ReadLayout(ctx, rc, 4); raw != "" {
		t.Fatal("the dry run recorded a layout")
	}
	var ref *queue.Refusal
	if out, err = run("reshard", "--to", "4"); !errors.As(err, &ref) || ref.Reason != queue.RefusedSameCount {
		t.Fatalf("reshard to the same count: %v\n%s", err, out)
	}
	if _, err = run("reshard"); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Fatalf("reshard without --to: %v", err)
	}
	var ee exitError
	if _, err = run("bogus"); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("unknown verb: %v", err)
	}
	out, err = run("reshard", "--to", "2", "--no-wait")
	if err != nil || !strings.Contains(out, "sealed: the 4 old shards refuse tasks of epoch 0") ||
		!strings.Contains(out, "opened: the 2 shards take tasks of epoch 1") || !strings.Contains(out, "run `switchboard queue reshard --to 2` again") {
		t.Fatalf("reshard --no-wait: %v\n%s", err, out)
	}
	out, err = run("layout")
	if err != nil || !strings.Contains(out, "layout: epoch 1, 2 shards, moving (recorded)") || !strings.Contains(out, "from 4 shards (epoch 0); workers consume 4 shards") {
		t.Fatalf("layout while moving: %v\n%s", err, out)
	}
	if out, err = run("reshard", "--to", "8", "--json"); !errors.As(err, &ref) || ref.Reason != queue.RefusedInProgress ||
		!strings.Contains(out, `"phase":"refused","reason":"in_progress"`) {
		t.Fatalf("another reshard while one is under way: %v\n%s", err, out)
	}
	// The moved sessions' tasks leave their old queues (as a worker would
	// consume them), while the resumed command waits for that.
	done := make(chan struct{})
	var resumed string
	go func() {
		defer close(done)
		resumed, err = run("reshard", "--to", "2", "--json")
	}()
	for _, ev := range moved {
		p := "asynq:{" + queue.QueueName(queue.Shard(ev.SessionKey, 4)) + "}:"
		if err := rc.LRem(ctx, p+"pending", 0, ev.ID).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.Del(ctx, p+"t:"+ev.ID).Err(); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if err != nil {
		t.Fatalf("resumed reshard: %v\n%s", err, resumed)
	}
	var phases []string
	for _, line := range strings.Split(strings.TrimSpace(resumed), "\n") {
		var p queue.ReshardProgress
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("JSON line %q: %v", line, err)
		}
		if !p.Resume || p.Epoch != 1 || p.From != 4 || p.To != 2 {
			t.Fatalf("progress %+v", p)
		}
		phases = append(phases, p.Phase)
	}
	if got := strings.Join(phases, ","); !strings.HasPrefix(got, "planned,sealed,opened,draining") || !strings.HasSuffix(got, "draining,finished") {
		t.Fatalf("phases %s", got)
	}
	var shown struct {
		queue.Layout
		Recorded    bool `json:"recorded"`
		LeaseShards int  `json:"lease_shards"`
	}
	out, err = run("layout", "--json")
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || !shown.Recorded || shown.State != queue.Stable || shown.Shards != 2 || shown.LeaseShards != 2 || len(shown.History) != 1 {
		t.Fatalf("layout --json after the reshard: %v\n%s", err, out)
	}
}
