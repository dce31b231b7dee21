package worker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provenance"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/store"
)

// TestForgedTasksRefused: tasks written straight into Redis by anyone but
// ingest (here with an asynq client on the same real redis-server, as a
// holder of the Redis password would) are refused before delivery: the
// agent never sees them, each is dead-lettered with its reason, counted by
// reason and audited; the sessions they claimed keep flowing.
func TestForgedTasksRefused(t *testing.T) {
	e := newEnv(t, 2)
	reg := prometheus.NewRegistry()
	p := e.pool("w1", func(c *Config) { c.Metrics = reg })
	run(t, p)
	ctx := context.Background()

	// A genuine, sealed task first (it is delivered) to copy from.
	genuine := event("C1", 1)
	if err := e.client.Enqueue(ctx, genuine); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "genuine delivery", 10*time.Second, func() bool { return e.agent.delivered() == 1 })
	qname := queue.QueueName(queue.Shard(genuine.SessionKey, e.shards))
	info, err := p.insp.GetTaskInfo(qname, genuine.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sealed envelope.Envelope
	if err := json.Unmarshal(info.Payload, &sealed); err != nil || sealed.Seal == nil {
		t.Fatalf("enqueued payload is not sealed: %v %s", err, info.Payload)
	}

	otherKeys, _ := provenance.ParseKeys(provenance.Generate("p1"))
	forge := map[string]func() []byte{
		// An envelope with every field right but no seal, for a new session.
		string(provenance.ReasonUnsealed): func() []byte {
			ev := event("C9", 1)
			ev.Seq = 1
			b, _ := json.Marshal(ev)
			return b
		},
		// Sealed under a key the attacker made up with the same key id.
		string(provenance.ReasonBadSeal): func() []byte {
			ev := event("C8", 1)
			ev.Seq = 1
			ev, _ = otherKeys.Seal(ev)
			b, _ := json.Marshal(ev)
			return b
		},
		// The genuine sealed task with its text changed.
		string(provenance.ReasonBadDigest): func() []byte {
			ev := sealed
			ev.Text = "wire the money"
			b, _ := json.Marshal(ev)
			return b
		},
		string(provenance.ReasonUnknownKey): func() []byte {
			ev := sealed
			ev.Seal = &envelope.Seal{KeyID: "p7", BodyDigest: sealed.Seal.BodyDigest, MAC: sealed.Seal.MAC}
			b, _ := json.Marshal(ev)
			return b
		},
		string(provenance.ReasonUndecoded): func() []byte { return []byte(`{"provider":"slack"`) },
	}
	attacker := asynq.NewClientFromRedisClient(e.rc)
	ids := map[string]string{}
	for reason, payload := range forge {
		id := "forged-" + reason
		ids[reason] = id
		q := qname
		if reason == string(provenance.ReasonUnsealed) {
			q = queue.QueueName(queue.Shard(event("C9", 1).SessionKey, e.shards))
		}
		if reason == string(provenance.ReasonBadSeal) {
			q = queue.QueueName(queue.Shard(event("C8", 1).SessionKey, e.shards))
		}
		if _, err := attacker.EnqueueContext(ctx, asynq.NewTask(queue.TaskType, payload()), asynq.TaskID(id), asynq.Queue(q), asynq.MaxRetry(queue.MaxRetry)); err != nil {
			t.Fatalf("write forged task: %v", err)
		}
	}
	refusedTotal := func() float64 {
		n := 0.0
		for _, r := range provenance.Reasons {
			n += testutil.ToFloat64(p.refused.WithLabelValues(string(r)))
		}
		return n
	}
	waitFor(t, "every forged task refused", 10*time.Second, func() bool { return refusedTotal() == float64(len(forge)) })
	for reason, id := range ids {
		if got := testutil.ToFloat64(p.refused.WithLabelValues(reason)); got != 1 {
			t.Errorf("refused{reason=%s} = %v, want 1", reason, got)
		}
		var ti *asynq.TaskInfo
		for _, q := range []string{qname, queue.QueueName(queue.Shard(event("C9", 1).SessionKey, e.shards)), queue.QueueName(queue.Shard(event("C8", 1).SessionKey, e.shards))} {
			if x, err := p.insp.GetTaskInfo(q, id); err == nil {
				ti = x
			}
		}
		if ti == nil || ti.State != asynq.TaskStateArchived || !strings.Contains(ti.LastErr, reason) {
			t.Errorf("forged task %s: %+v, want archived (dead letter) with reason %s", id, ti, reason)
		}
	}
	if n := e.agent.delivered(); n != 1 {
		t.Fatalf("agent got %d deliveries, want only the genuine one", n)
	}
	// Counted in the registry the process serves as /metrics.
	if n, err := testutil.GatherAndCount(reg, "switchboard_worker_refused_tasks_total"); err != nil || n != len(provenance.Reasons) {
		t.Errorf("metric series: %d %v", n, err)
	}
	// Audited, platform-level (the claimed org is unverified).
	events, err := e.st.ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, ev := range events {
		if ev.Action == "task.refuse" {
			var d map[string]string
			_ = json.Unmarshal([]byte(ev.Detail), &d)
			audited[d["reason"]] = true
			if ev.OrgID != "" || strings.Contains(ev.Detail, "wire the money") {
				t.Errorf("audit event %+v: want platform-level, without the task's contents", ev)
			}
		}
	}
	for reason := range forge {
		if !audited[reason] {
			t.Errorf("no task.refuse audit event with reason %s (%v)", reason, audited)
		}
	}
	// The sessions the forged tasks claimed are untouched: their genuine
	// first events are delivered.
	for _, conv := range []string{"C9", "C8"} {
		if err := e.client.Enqueue(ctx, event(conv, 1)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "genuine events of the claimed sessions", 10*time.Second, func() bool { return e.agent.delivered() == 3 })
}

// TestWorkerNeedsProvenanceKeys: a worker without keys does not start.
func TestWorkerNeedsProvenanceKeys(t *testing.T) {
	_, err := New(Config{RedisAddr: "127.0.0.1:1", Store: nil, Keyring: nil})
	if err == nil {
		t.Fatal("worker without store, keyring and provenance keys started")
	}
	e := newEnv(t, 1)
	if _, err := New(Config{RedisAddr: e.redis.Addr, Store: e.st, Keyring: e.keys}); err == nil || !strings.Contains(err.Error(), "Provenance") {
		t.Fatalf("worker without provenance keys: %v", err)
	}
}
