package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// dedupMarks is the dedup buckets now in Redis: their MEMORY USAGE summed
// and the marks they hold (8 bytes each).
func dedupMarks(t *testing.T, rc redis.UniversalClient) (bytes, marks int64) {
	t.Helper()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "sb:{*}:d:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		n, err := rc.MemoryUsage(ctx, k, 0).Result()
		if errors.Is(err, redis.Nil) {
			continue // expired meanwhile
		}
		if err != nil {
			t.Fatal(err)
		}
		l, err := rc.StrLen(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		bytes += n
		marks += l / 8
	}
	return bytes, marks
}

func usedMemory(t *testing.T, rc redis.UniversalClient) int64 {
	t.Helper()
	return servicetest.InfoInt(t, rc, "memory", "used_memory")
}

// TestDedupMemoryFlat is the sustained run of the bounded dedup memory
// (make soak-dedup): events at a fixed rate (SWITCHBOARD_DEDUP_SOAK_RATE per
// second, default 100) on 200 sessions for SWITCHBOARD_DEDUP_SOAK (e.g.
// 5m), a provider retry of an event of a few seconds before after every
// tenth (each must be a duplicate), a worker pool delivering everything,
// with a short horizon (30 s) and task retention (5 s) so that every
// structure reaches its steady state within the run. It samples Redis
// used_memory and the dedup buckets (MEMORY USAGE) every 10 s and fails if,
// after the warm-up (3 horizons), the second half's samples rise above the
// first half's: used_memory by more than half plus 1 MiB (it carries the
// pending backlog, which moves with the CPU the workers get), the buckets
// by more than a quarter plus 16 KiB.
func TestDedupMemoryFlat(t *testing.T) {
	dur, err := time.ParseDuration(os.Getenv("SWITCHBOARD_DEDUP_SOAK"))
	if err != nil {
		t.Skip("set SWITCHBOARD_DEDUP_SOAK to a duration (make soak-dedup) for the sustained dedup memory run")
	}
	rate := 100
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_DEDUP_SOAK_RATE")); err == nil && v > 0 {
		rate = v
	}
	const horizon, taskTTL = 30 * time.Second, 5 * time.Second
	warmup := 3 * horizon
	if dur < warmup+4*10*time.Second {
		t.Fatalf("SWITCHBOARD_DEDUP_SOAK %s: want at least %s (warm-up %s, then samples)", dur, warmup+40*time.Second, warmup)
	}
	r := servicetest.StartRedis(t)
	rc := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { rc.Close() })
	e := newEnvOn(t, rc, 4, queue.WithRetention(horizon), queue.WithTaskRetention(taskTTL))
	e.redis = r
	for i := 0; i < 2; i++ {
		run(t, e.pool(fmt.Sprintf("w%d", i), func(c *Config) { c.Retention = horizon }))
	}
	ctx := context.Background()
	base := usedMemory(t, rc)
	var sent, dups, notDup atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	const sessions = 200
	jobs := make(chan int, 1024)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				ev := event(fmt.Sprintf("S%03d", n%sessions), n/sessions+1)
				if err := e.client.Enqueue(ctx, ev); err != nil {
					t.Errorf("enqueue: %v", err)
					return
				}
				sent.Add(1)
				if n%10 == 0 && n >= 10*rate {
					old := n - 5*rate // about 5 s before
					err := e.client.Enqueue(ctx, event(fmt.Sprintf("S%03d", old%sessions), old/sessions+1))
					switch {
					case errors.Is(err, queue.ErrDuplicate):
						dups.Add(1)
					case err == nil:
						notDup.Add(1)
					default:
						t.Errorf("retry: %v", err)
					}
				}
			}
		}()
	}
	// One producer paces the events; within a session they are in order
	// because event n of session s is queued only after n-sessions was taken.
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				close(jobs)
				return
			case <-tick.C:
				jobs <- n
			}
		}
	}()
	type sample struct {
		at                time.Duration
		mem, dedup, marks int64
	}
	var samples []sample
	start := time.Now()
	for time.Since(start) < dur {
		time.Sleep(10 * time.Second)
		s := sample{at: time.Since(start).Round(time.Second), mem: usedMemory(t, rc)}
		s.dedup, s.marks = dedupMarks(t, rc)
		samples = append(samples, s)
		perMark := 0.0
		if s.marks > 0 {
			perMark = float64(s.dedup) / float64(s.marks)
		}
		t.Logf("t=%s sent=%d delivered=%d used_memory=%d (+%d over the empty queue) dedup buckets %d B for %d marks (%.1f B/mark)",
			s.at, sent.Load(), e.agent.delivered(), s.mem, s.mem-base, s.dedup, s.marks, perMark)
		if t.Failed() {
			break
		}
	}
	close(stop)
	wg.Wait()
	if notDup.Load() != 0 {
		t.Errorf("%d provider retries inside the horizon were enqueued again", notDup.Load())
	}
	var first, second, dfirst, dsecond []int64
	var steady []sample
	for _, s := range samples {
		if s.at > warmup {
			steady = append(steady, s)
		}
	}
	for i, s := range steady {
		if i < len(steady)/2 {
			first, dfirst = append(first, s.mem), append(dfirst, s.dedup)
		} else {
			second, dsecond = append(second, s.mem), append(dsecond, s.dedup)
		}
	}
	if len(first) == 0 || len(second) == 0 {
		t.Fatalf("too few samples after the warm-up: %v", samples)
	}
	maxOf := func(v []int64) int64 {
		m := v[0]
		for _, x := range v {
			m = max(m, x)
		}
		return m
	}
	t.Logf("%d events at %d/s, %d retries all duplicates; used_memory after the warm-up: first half max %d, second half max %d (empty queue %d)",
		sent.Load(), rate, dups.Load(), maxOf(first), maxOf(second), base)
	t.Logf("dedup buckets after the warm-up: first half max %d B, second half max %d B", maxOf(dfirst), maxOf(dsecond))
	// The pending backlog (1.4 KB a task) moves with the workers' share of a
	// loaded machine: used_memory gets a wide margin, the buckets a narrow one.
	if maxOf(second) > maxOf(first)+maxOf(first)/2+1<<20 {
		t.Errorf("Redis memory grew under the sustained run: first half max %d, second half max %d", maxOf(first), maxOf(second))
	}
	if maxOf(dsecond) > maxOf(dfirst)+maxOf(dfirst)/4+16<<10 {
		t.Errorf("the dedup buckets grew under the sustained run: first half max %d B, second half max %d B", maxOf(dfirst), maxOf(dsecond))
	}
}
