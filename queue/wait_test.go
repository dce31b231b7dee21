package queue

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestWaitReplicas: with WithWaitReplicas an enqueue is acknowledged only
// once a replica has it; a primary without its replica refuses it
// (ErrNotReplicated, ingest answers 503) although it wrote it, and the
// provider's retry, once the replica is back, is an acknowledged duplicate.
func TestWaitReplicas(t *testing.T) {
	primary := servicetest.StartRedisWith(t, "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0")
	replica := servicetest.StartRedisReplica(t, primary, "--appendfsync", "everysec")
	rc := redis.NewClient(&redis.Options{Addr: primary.Addr, MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	ctx := context.Background()
	c := NewClient("", 2, WithRedisClient(rc), WithWaitReplicas(1, 300*time.Millisecond))
	e1 := testEnvelope("C1", "E1")
	if err := c.Enqueue(ctx, e1); err != nil {
		info, _ := servicetest.Cli(primary.Addr, "info", "replication")
		rinfo, _ := servicetest.Cli(replica.Addr, "info", "replication")
		t.Fatalf("enqueue with a replica up: %v\n%s\n%s", err, info, rinfo)
	}
	rr := redis.NewClient(&redis.Options{Addr: replica.Addr})
	t.Cleanup(func() { rr.Close() })
	if n, err := rr.Exists(ctx, "asynq:{"+QueueName(Shard(e1.SessionKey, 2))+"}:t:"+e1.ID).Result(); err != nil || n != 1 {
		t.Fatalf("acknowledged task not on the replica: %d, %v", n, err)
	}
	replica.Stop()
	e2 := testEnvelope("C1", "E2")
	if err := c.Enqueue(ctx, e2); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("enqueue without a replica: %v, want ErrNotReplicated", err)
	}
	if err := c.Enqueue(ctx, e1); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("duplicate without a replica: %v, want ErrNotReplicated (not acknowledged either)", err)
	}
	t0 := time.Now()
	replica.Start()
	t.Logf("replica restarted in %s", time.Since(t0))
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Enqueue(ctx, e2)
		if errors.Is(err, ErrDuplicate) {
			break
		}
		if !errors.Is(err, ErrNotReplicated) || time.Now().After(deadline) {
			t.Fatalf("retry of e2 after the replica came back: %v, want ErrDuplicate", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("acknowledged %s after the restart", time.Since(t0))
	// Off: no wait, as on a single Redis.
	replica.Stop()
	c0 := NewClient("", 2, WithRedisClient(rc))
	if err := c0.Enqueue(ctx, testEnvelope("C1", "E3")); err != nil {
		t.Fatalf("enqueue without waiting: %v", err)
	}
}

// BenchmarkEnqueueWait is the cost of waiting for one replica after each
// enqueue (WithWaitReplicas(1, …)) against not waiting, on a primary with
// one replica on loopback, both with appendfsync everysec, one enqueue at a
// time (the latency a webhook sees) and 16 in parallel.
func BenchmarkEnqueueWait(b *testing.B) {
	primary := servicetest.StartRedisWith(b, "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0")
	servicetest.StartRedisReplica(b, primary, "--appendfsync", "everysec")
	rc := redis.NewClient(&redis.Options{Addr: primary.Addr, PoolSize: 32})
	b.Cleanup(func() { rc.Close() })
	var uniq atomic.Int64 // event ids unique across the benchmark's rounds
	for _, wait := range []int{0, 1} {
		c := NewClient("", 16, WithRedisClient(rc), WithWaitReplicas(wait, time.Second))
		b.Run(fmt.Sprintf("wait=%d/serial", wait), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := c.Enqueue(context.Background(), testEnvelope(fmt.Sprintf("C%d", i%100), fmt.Sprintf("S%d", uniq.Add(1)))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("wait=%d/parallel16", wait), func(b *testing.B) {
			b.SetParallelism(8) // 2 cores × 8
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := uniq.Add(1)
					if err := c.Enqueue(context.Background(), testEnvelope(fmt.Sprintf("C%d", i%100), fmt.Sprintf("P%d", i))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
