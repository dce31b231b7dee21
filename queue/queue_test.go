package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestShardStable(t *testing.T) {
	// The mapping is part of the data layout: in range, deterministic, and pinned
	// to FNV-1a 64 by the known values below.
	cases := []struct {
		key    string
		shards int
	}{
		{"", 16},
		{"s1/org_a/slack/inst_b/C1//agt_c/", 16},
		{"s1/org_a/telegram/inst_b/42//agt_c/support", 64},
	}
	for _, c := range cases {
		got := Shard(c.key, c.shards)
		if got < 0 || got >= c.shards {
			t.Fatalf("Shard(%q,%d) = %d out of range", c.key, c.shards, got)
		}
		if got != Shard(c.key, c.shards) {
			t.Fatalf("Shard not deterministic")
		}
	}
	// FNV-1a 64 of "" is 0xcbf29ce484222325; mod 16 = 5.
	if got := Shard("", 16); got != 5 {
		t.Fatalf("Shard(\"\",16) = %d, want 5 (FNV-1a 64 offset basis mod 16)", got)
	}
	if got := Shard("a", 1000); got != int(uint64(0xaf63dc4c8601ec8c)%1000) {
		t.Fatalf("Shard(\"a\",1000) = %d, want FNV-1a 64 of \"a\" mod 1000", got)
	}
	if Shard("x", 0) != 0 {
		t.Fatal("Shard with 0 shards must be 0")
	}
	// Spread: 1600 keys over 16 shards, no shard empty or holding more than 3x its share.
	counts := make([]int, 16)
	for i := 0; i < 1600; i++ {
		counts[Shard(fmt.Sprintf("s1/org/slack/inst/C%d//agt/", i), 16)]++
	}
	for s, n := range counts {
		if n == 0 || n > 300 {
			t.Fatalf("shard %d got %d of 1600 keys: %v", s, n, counts)
		}
	}
	if QueueName(7) != "sb-shard-007" || QueueName(123) != "sb-shard-123" {
		t.Fatalf("QueueName: %s %s", QueueName(7), QueueName(123))
	}
}

func testEnvelope(conv, event string) envelope.Envelope {
	return envelope.Envelope{
		Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", Conversation: conv,
		EventID: event, AgentID: "agt_a", Text: "hello " + event, ReceivedAt: time.Unix(1700000000, 0).UTC(),
	}.Finish()
}

func newRedis(t testing.TB) (*servicetest.Redis, redis.UniversalClient) {
	r := servicetest.StartRedis(t)
	// No retries (tests see each failure), but a generous read timeout: the test
	// server fsyncs every write and CI machines may be loaded.
	rc := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second})
	t.Cleanup(func() { rc.Close() })
	return r, rc
}

func TestEnqueueAssignsSeqAndDedups(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient(r.Addr, 4)
	defer c.Close()
	insp := asynq.NewInspectorFromRedisClient(rc)

	a1, a2, b1 := testEnvelope("C1", "Ev1"), testEnvelope("C1", "Ev2"), testEnvelope("C2", "Ev3")
	for _, e := range []envelope.Envelope{a1, a2, b1} {
		if err := c.Enqueue(ctx, e); err != nil {
			t.Fatalf("enqueue %s: %v", e.EventID, err)
		}
	}
	// The same event again (a provider retry) is ErrDuplicate and burns no number.
	if err := c.Enqueue(ctx, a1); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second enqueue of the same event: %v, want ErrDuplicate", err)
	}
	a3 := testEnvelope("C1", "Ev4")
	if err := c.Enqueue(ctx, a3); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{a1.ID: 1, a2.ID: 2, a3.ID: 3, b1.ID: 1}
	for id, seq := range want {
		var env envelope.Envelope
		var info *asynq.TaskInfo
		var err error
		for _, e := range []envelope.Envelope{a1, a2, a3, b1} {
			if e.ID == id {
				env = e
			}
		}
		info, err = insp.GetTaskInfo(QueueName(Shard(env.SessionKey, 4)), id)
		if err != nil {
			t.Fatalf("task %s: %v", id, err)
		}
		got, err := envelope.Decode(info.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != seq {
			t.Errorf("event %s: seq %d, want %d", env.EventID, got.Seq, seq)
		}
		if info.Type != TaskType || info.MaxRetry != MaxRetry || info.Retention != DefaultTaskRetention {
			t.Errorf("task %s: type %q maxretry %d retention %s", id, info.Type, info.MaxRetry, info.Retention)
		}
	}
	// Invalid envelopes are refused before touching Redis.
	bad := a1
	bad.SessionKey = "forged"
	if err := c.Enqueue(ctx, bad); err == nil || errors.Is(err, ErrDuplicate) {
		t.Fatalf("enqueue with a forged session key: %v", err)
	}
}

// An enqueue whose Asynq step failed after the number was reserved is
// completed by the provider's retry under the same number: no gap.
func TestEnqueueRetryAfterPartialFailureKeepsSeq(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient(r.Addr, 4, WithRedisClient(rc))
	e1, e2 := testEnvelope("C1", "E1"), testEnvelope("C1", "E2")
	q := QueueName(Shard(e1.SessionKey, 4))
	// Simulate the first half of an enqueue of e1 (reservation without the task).
	if err := reserveScript.Run(ctx, rc, []string{sessionKeyOf(q, tag(e1.SessionKey)), idKey(q, e1.ID)}, e1.ID, 1, 60000, 60000).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(ctx, e1); err != nil {
		t.Fatalf("retry of e1: %v", err)
	}
	if err := c.Enqueue(ctx, e2); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rc)
	for e, want := range map[string]int64{e1.ID: 1, e2.ID: 2} {
		info, err := insp.GetTaskInfo(QueueName(Shard(e1.SessionKey, 4)), e)
		if err != nil {
			t.Fatal(err)
		}
		env, _ := envelope.Decode(info.Payload)
		if env.Seq != want {
			t.Fatalf("seq %d, want %d", env.Seq, want)
		}
	}
}

func TestEnqueueRedisDown(t *testing.T) {
	r, _ := newRedis(t)
	c := NewClient(r.Addr, 4)
	defer c.Close()
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := c.Enqueue(ctx, testEnvelope("C1", "E1"))
	if err == nil || errors.Is(err, ErrDuplicate) {
		t.Fatalf("enqueue with Redis down: %v, want an error", err)
	}
	r.Start()
	if err := c.Enqueue(context.Background(), testEnvelope("C1", "E1")); err != nil {
		t.Fatalf("enqueue after Redis came back: %v", err)
	}
}

func TestFence(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient(r.Addr, 4, WithRedisClient(rc))
	f := NewFence(rc, time.Hour, 4)
	var es []envelope.Envelope
	for i := 1; i <= 4; i++ {
		e := testEnvelope("C1", fmt.Sprintf("E%d", i))
		if err := c.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Seq = int64(i)
		es = append(es, e)
	}
	sk := es[0].SessionKey
	expect := func(e envelope.Envelope, v Verdict) Check {
		t.Helper()
		ch, err := f.Check(ctx, sk, e.ID, e.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if ch.Verdict != v {
			t.Fatalf("seq %d: verdict %v, want %v (%+v)", e.Seq, ch.Verdict, v, ch)
		}
		return ch
	}
	expect(es[0], Go)
	ch := expect(es[1], Wait)
	if ch.Missing != 1 || ch.MissingID != es[0].ID || ch.ReservedAt.IsZero() {
		t.Fatalf("wait check %+v", ch)
	}
	if err := f.Complete(ctx, sk, es[0].ID, 1); err != nil {
		t.Fatal(err)
	}
	expect(es[0], Done)
	expect(es[1], Go)
	// es[1] dead-lettered: the session moves on, es[1] is not done.
	if err := f.Abandon(ctx, sk, es[1].ID, 2); err != nil {
		t.Fatal(err)
	}
	expect(es[1], Late)
	expect(es[2], Go)
	// A gap: es[2] never comes; skip it (compare-and-set).
	if ok, err := f.Skip(ctx, sk, 3); err != nil || !ok {
		t.Fatalf("skip 3: %v %v", ok, err)
	}
	if ok, _ := f.Skip(ctx, sk, 3); ok {
		t.Fatal("second skip of 3 must not move the fence")
	}
	expect(es[3], Go)
	// Replay of the dead letter completes without moving the fence back or forth.
	if err := f.Complete(ctx, sk, es[1].ID, 2); err != nil {
		t.Fatal(err)
	}
	expect(es[1], Done)
	expect(es[3], Go)
}

func TestLeases(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	l := NewLeases(rc, 4, 300*time.Millisecond)
	ta, tb := NewToken("wa"), NewToken("wb")
	if TokenWorker(ta) != "wa" {
		t.Fatalf("TokenWorker(%q)", ta)
	}
	if ok, _ := l.Acquire(ctx, 1, ta); !ok {
		t.Fatal("acquire free shard")
	}
	if ok, _ := l.Acquire(ctx, 1, tb); ok {
		t.Fatal("second acquire of a held shard succeeded")
	}
	if ok, _ := l.Renew(ctx, 1, tb); ok {
		t.Fatal("renew with a foreign token succeeded")
	}
	if err := l.Release(ctx, 1, tb); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.Holds(ctx, 1, ta); !ok {
		t.Fatal("foreign release removed the lease")
	}
	time.Sleep(400 * time.Millisecond) // expiry: wa died
	if ok, _ := l.Renew(ctx, 1, ta); ok {
		t.Fatal("renew after expiry succeeded")
	}
	if ok, _ := l.Acquire(ctx, 1, tb); !ok {
		t.Fatal("takeover after expiry failed")
	}
	owners, err := l.Owners(ctx)
	if err != nil || owners[1] != tb || len(owners) != 1 {
		t.Fatalf("owners %v %v", owners, err)
	}
	live, err := l.Register(ctx, "wa")
	if err != nil || len(live) != 1 {
		t.Fatalf("register: %v %v", live, err)
	}
	if live, _ = l.Register(ctx, "wb"); len(live) != 2 {
		t.Fatalf("live %v", live)
	}
	time.Sleep(400 * time.Millisecond)
	if live, _ = l.Register(ctx, "wb"); len(live) != 1 || live[0] != "wb" {
		t.Fatalf("expired worker still live: %v", live)
	}
	if Target(16, 3) != 6 || Target(16, 0) != 16 || Target(4, 4) != 1 {
		t.Fatal("Target")
	}
}

// BenchmarkEnqueue and BenchmarkLPUSH run on the same private Redis so their
// ratio can be read from one run: `go test -bench . ./queue/`.
func BenchmarkEnqueue(b *testing.B) {
	r, rc := newRedis(b)
	c := NewClient(r.Addr, DefaultShards, WithRedisClient(rc))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Enqueue(ctx, testEnvelope(fmt.Sprintf("C%d", i%64), fmt.Sprintf("E%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLPUSH(b *testing.B) {
	_, rc := newRedis(b)
	ctx := context.Background()
	payload := []byte(`{"id":"0123456789abcdef0123456789abcdef","provider":"slack","text":"hello"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := rc.LPush(ctx, "bench:list", payload).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRequeueOrphansKeepsOrder: tasks a dead consumer left active go back
// to the dequeue end of the pending list oldest first, so the next owner
// takes them in the order they were enqueued (a reversed requeue made the
// successor go first and wait for its predecessor).
func TestRequeueOrphansKeepsOrder(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	p := "asynq:{" + QueueName(0) + "}:"
	for _, id := range []string{"t1", "t2", "t3", "t4"} {
		rc.LPush(ctx, p+"pending", id) // Asynq's enqueue: LPUSH
	}
	for range 3 { // a consumer takes three (Asynq's dequeue: RPOPLPUSH pending active) and dies
		if err := rc.RPopLPush(ctx, p+"pending", p+"active").Err(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := NewLeases(rc, 1, time.Minute).RequeueOrphans(ctx, 0)
	if err != nil || n != 3 {
		t.Fatalf("RequeueOrphans: %d, %v", n, err)
	}
	var got []string
	for {
		id, err := rc.RPop(ctx, p+"pending").Result()
		if err != nil {
			break
		}
		got = append(got, id)
	}
	if strings.Join(got, ",") != "t1,t2,t3,t4" {
		t.Fatalf("dequeue order after the requeue: %v, want t1,t2,t3,t4", got)
	}
}
