package queue

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReshardDedupRace: a provider retry handled by a client on the new
// layout while a client still on the old layout writes the original is not
// enqueued twice when the reshard's seal and open fall between the new
// client's look into the old shard and its enqueue script (the layout is
// recorded, and read, before the old shards are sealed: the look is final
// only once the destination is open, and the script refuses a write whose
// look was not).
func TestReshardDedupRace(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	moved, _ := sessionsMoving(4, 7, 1)
	ev := testEnvelope(moved[0], "evt-retried")

	old := NewClient("", 4, WithRedisClient(rc)) // ingest A, layout epoch 0 cached
	if _, err := old.Layout(ctx); err != nil {
		t.Fatal(err)
	}
	cur, raw, err := ReadLayout(ctx, rc, 4)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanReshard(cur, 7, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Reshard step 1: the layout is recorded (moving), nothing sealed yet.
	raw, err = swapLayout(ctx, rc, raw, plan.Next)
	if err != nil {
		t.Fatal(err)
	}

	nu := NewClient("", 4, WithRedisClient(rc)) // ingest B, reads epoch 1
	calls := 0
	nu.now = func() time.Time {
		calls++
		if calls == 3 { // (the 3rd clock read: after a look into the old shard would have been made) while the new client maps and tries the session, before the reshard opened the new shards
			// The original, on ingest A, lands in the old shard (not sealed yet).
			if err := old.Enqueue(ctx, ev); err != nil {
				t.Errorf("original on the old layout: %v", err)
			}
			// Reshard steps 2 and 3: seal the old shards, open the new ones.
			plan.Resume = true
			if _, err := BeginReshard(ctx, rc, plan, raw); err != nil {
				t.Errorf("begin reshard: %v", err)
			}
		}
		return time.Now()
	}
	err = nu.Enqueue(ctx, ev) // the provider's retry, on ingest B
	oldQ := QueueName(Shard(ev.SessionKey, 4))
	newQ := QueueName(Shard(ev.SessionKey, 7))
	inOld, _ := rc.Exists(ctx, "asynq:{"+oldQ+"}:t:"+ev.ID).Result()
	inNew, _ := rc.Exists(ctx, "asynq:{"+newQ+"}:t:"+ev.ID).Result()
	t.Logf("retry's Enqueue: %v; task in old %s: %d, in new %s: %d", err, oldQ, inOld, newQ, inNew)
	if inOld == 1 && inNew == 1 {
		t.Fatalf("event %s enqueued twice (old queue %s and new queue %s): the retry was not recognised as a duplicate", ev.ID, oldQ, newQ)
	}
	if calls < 3 {
		t.Fatalf("the interleaving did not happen (%d clock reads)", calls)
	}
	if inOld != 1 || !errors.Is(err, ErrDuplicate) {
		t.Fatalf("the original is in the old queue: %d; the retry answered %v, want ErrDuplicate", inOld, err)
	}
}
