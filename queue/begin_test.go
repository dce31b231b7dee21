package queue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
)

// TestFenceStart: Start answers, in one script, what Holds, Check and the
// attempt bookkeeping answered in four: no lease (or another's) is "not
// held" and counts nothing; the session's next task is Go with attempt 1,
// then 2 with the progress recorded meanwhile; a later task Waits naming
// its predecessor's reservation and counts nothing; a completed one is
// Done.
func TestFenceStart(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	const shards = 4
	c := NewClient(r.Addr, shards, WithRedisClient(rc))
	f := NewFence(rc, time.Hour, shards)
	l := NewLeases(rc, shards, time.Minute)
	var es []envelope.Envelope
	for i := 1; i <= 3; i++ {
		e := testEnvelope("C1", fmt.Sprintf("E%d", i))
		if err := c.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Seq = int64(i)
		es = append(es, e)
	}
	sk := es[0].SessionKey
	shard := Shard(sk, shards)
	token := NewToken("w1")
	start := func(sh int, e envelope.Envelope) Start {
		t.Helper()
		st, err := f.Start(ctx, sh, token, sk, e.ID, e.Seq)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	attempts := func(e envelope.Envelope) string {
		v, _ := rc.HGet(ctx, ProgressKey(sk, e.ID, shards), "attempts").Result()
		return v
	}
	if st := start(shard, es[0]); st.Holds {
		t.Fatalf("no lease taken, Start says held: %+v", st)
	}
	if a := attempts(es[0]); a != "" {
		t.Fatalf("not held, yet attempts = %q", a)
	}
	if ok, err := l.Acquire(ctx, shard, token); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	st := start(shard, es[0])
	if !st.Holds || st.Verdict != Go || st.Attempts != 1 || st.Progress["attempts"] != "1" {
		t.Fatalf("first start %+v, want held, go, attempt 1", st)
	}
	rc.HSet(ctx, ProgressKey(sk, es[0].ID, shards), "delivered", "1")
	st = start(shard, es[0])
	if st.Verdict != Go || st.Attempts != 2 || st.Progress["delivered"] != "1" {
		t.Fatalf("second start %+v, want go, attempt 2, delivered progress", st)
	}
	st = start(shard, es[1])
	if st.Verdict != Wait || st.Missing != 1 || st.MissingID != es[0].ID || st.ReservedAt.IsZero() || st.Attempts != 0 {
		t.Fatalf("successor start %+v, want wait on seq 1 (%s)", st, es[0].ID)
	}
	if a := attempts(es[1]); a != "" {
		t.Fatalf("waiting task counted an attempt: %q", a)
	}
	// Another worker's token does not hold.
	if st, err := f.Start(ctx, shard, NewToken("w2"), sk, es[0].ID, 1); err != nil || st.Holds {
		t.Fatalf("other token: %+v %v", st, err)
	}
	if err := f.Complete(ctx, sk, es[0].ID, 1); err != nil {
		t.Fatal(err)
	}
	if st := start(shard, es[0]); st.Verdict != Done {
		t.Fatalf("completed task: %+v, want done", st)
	}
	// Another shard's lease says nothing about this one.
	other := (shard + 1) % shards
	if ok, err := l.Acquire(ctx, other, NewToken("w3")); err != nil || !ok {
		t.Fatalf("acquire %d: %v %v", other, ok, err)
	}
	if st := start(other, es[1]); st.Holds {
		t.Fatalf("start under a lease of another worker: %+v", st)
	}
}
