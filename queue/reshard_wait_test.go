package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestDuplicateAcrossReshardWaitsForReplicas: with WithWaitReplicas, a
// provider retry is acknowledged as a duplicate only once a replica has the
// original, also when the original is found in a shard of an earlier
// layout (the look-up writes, and WAIT on its connection covers the
// original): with the replica down the retry fails ErrNotReplicated (ingest
// answers 503, the provider retries) instead of a 2xx for an event no
// replica has; with the replica back it is a duplicate.
func TestDuplicateAcrossReshardWaitsForReplicas(t *testing.T) {
	primary := servicetest.StartRedisWith(t, "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0")
	replica := servicetest.StartRedisReplica(t, primary, "--appendfsync", "everysec")
	rc := redis.NewClient(&redis.Options{Addr: primary.Addr, MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	ctx := context.Background()
	moved, _ := sessionsMoving(4, 7, 1)
	ev := testEnvelope(moved[0], "E-moved")

	c := NewClient("", 4, WithRedisClient(rc), WithWaitReplicas(1, 300*time.Millisecond))
	replica.Stop()
	if err := c.Enqueue(ctx, ev); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("original without a replica: %v, want ErrNotReplicated", err)
	}
	if _, err := Reshard(ctx, rc, 7, ReshardOptions{Shards: 4, NoWait: true}); err != nil {
		t.Fatal(err)
	}
	c2 := NewClient("", 4, WithRedisClient(rc), WithWaitReplicas(1, 300*time.Millisecond))
	if err := c2.Enqueue(ctx, ev); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("retry after the reshard, replica down: %v, want ErrNotReplicated", err)
	}
	servicetest.StartRedisReplica(t, primary, "--appendfsync", "everysec")
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := c2.Enqueue(ctx, ev)
		if errors.Is(err, ErrDuplicate) {
			break
		}
		if !errors.Is(err, ErrNotReplicated) || time.Now().After(deadline) {
			t.Fatalf("retry after the reshard, replica back: %v, want ErrDuplicate", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
