package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// eventNumber is n of event(conv, n)'s event id "Ev-<conv>-<n>".
func eventNumber(env envelope.Envelope) int {
	n, _ := strconv.Atoi(env.EventID[strings.LastIndexByte(env.EventID, '-')+1:])
	return n
}

// reshardAgent records every delivery of every session (by event number,
// duplicates included) in the order the agent received them.
type reshardAgent struct {
	mu   sync.Mutex
	log  map[string][]int // session key → event numbers as delivered
	seen map[string]bool  // task id → delivered at least once
}

// TestReshardUnderLoad reshards a running deployment twice, 4 → 7 shards
// (sessions move between shards that stay, and into new ones) and then
// 7 → 3 (into fewer: removed queues drain), while 24 sessions keep sending
// through two ingest clients that alternate per event (each with its own
// cached layout, so one of them is always stale right after a reshard) to
// three workers started with --shards 4. The agent is slow enough that each
// reshard starts with moved sessions' tasks still queued in their old shards,
// and some events fail their first attempt (they hold their session in the
// retry set across the reshard). Every acknowledged event is delivered, each
// session's events reach the agent in the order they were acknowledged, the
// only duplicates are redeliveries of a task before its session's next event
// (at least once across a shard handover), and a provider's retry of an event
// acknowledged under the old layout is answered as a duplicate under the new.
func TestReshardUnderLoad(t *testing.T) {
	reshardLoad(t, newEnv(t, 4))
}

// TestReshardUnderLoadOnCluster is TestReshardUnderLoad on a 3-master Redis
// Cluster (each shard its own hash slot; a moved session's old and new state
// in different slots, on different nodes for most), enqueues waiting for a
// replica as on any cluster.
func TestReshardUnderLoadOnCluster(t *testing.T) {
	clusterTests(t)
	c := servicetest.StartRedisCluster(t, 3, 1)
	conn, err := redisconf.ParseConn(c.URL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	rc := conn.NewClient()
	t.Cleanup(func() { rc.Close() })
	reshardLoad(t, newEnvOn(t, rc, 4), queue.WithWaitReplicas(1, time.Second))
}

func reshardLoad(t *testing.T, e *env, opts ...queue.Option) {
	ra := &reshardAgent{log: map[string][]int{}, seen: map[string]bool{}}
	var slow atomic.Bool
	slow.Store(true)
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		n := eventNumber(env)
		if n%9 == 4 && try == 1 {
			return http.StatusServiceUnavailable, "" // retried after a backoff: holds its session
		}
		if slow.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		ra.mu.Lock()
		ra.log[env.SessionKey] = append(ra.log[env.SessionKey], n)
		ra.seen[env.ID] = true
		ra.mu.Unlock()
		return 0, ""
	})
	tweak := func(c *Config) {
		// A lease long enough that a loaded machine does not lose one (which
		// would only add documented duplicates), and an active task finishes
		// before its shard is handed over.
		c.LeaseTTL = 3 * time.Second
		c.ShutdownTimeout = 10 * time.Second
		c.Attempts = 6
	}
	for i := 0; i < 3; i++ {
		run(t, e.pool(fmt.Sprintf("w%d", i), tweak))
	}
	opts = append([]queue.Option{queue.WithRedisClient(e.rc), queue.WithSealer(e.prov)}, opts...)
	ingests := []*queue.Client{queue.NewClient("", 4, opts...), queue.NewClient("", 4, opts...)}

	const sessions, minEvents, maxEvents = 24, 30, 60
	var (
		ackMu  sync.Mutex
		acked  = map[string][]int{} // session key → event numbers acknowledged, in order
		ackN   atomic.Int64
		stop   atomic.Bool
		wg     sync.WaitGroup
		sendMu sync.Mutex
		errs   []error
	)
	conv := func(s int) string { return fmt.Sprintf("R%02d", s) }
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for n := 1; n <= maxEvents && (n <= minEvents || !stop.Load()); n++ {
				ev := event(conv(s), n)
				// A provider retries a refused delivery; ingest answers 503 on
				// an enqueue error, so the event is sent again until acked.
				for try := 0; ; try++ {
					err := ingests[n%2].Enqueue(context.Background(), ev)
					if err == nil {
						break
					}
					if errors.Is(err, queue.ErrDuplicate) {
						sendMu.Lock()
						errs = append(errs, fmt.Errorf("first send of %s answered duplicate", ev.EventID))
						sendMu.Unlock()
						break
					}
					if try == 50 {
						sendMu.Lock()
						errs = append(errs, fmt.Errorf("enqueue %s: %w", ev.EventID, err))
						sendMu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				ackMu.Lock()
				acked[ev.SessionKey] = append(acked[ev.SessionKey], n)
				ackMu.Unlock()
				ackN.Add(1)
			}
		}(s)
	}

	ctx := context.Background()
	var took []time.Duration // measured, not asserted
	reshard := func(to int) (firstRemaining int) {
		t.Helper()
		start := time.Now()
		defer func() { took = append(took, time.Since(start).Round(time.Millisecond)) }()
		first := -1
		var phases []string
		_, err := queue.Reshard(ctx, e.rc, to, queue.ReshardOptions{Shards: 4, Poll: 50 * time.Millisecond,
			Progress: func(p queue.ReshardProgress) {
				phases = append(phases, p.Phase)
				if p.Phase == "draining" && first < 0 {
					first = p.Remaining
				}
			}})
		if err != nil {
			t.Fatalf("reshard to %d: %v", to, err)
		}
		if got := strings.Join(dedupe(phases), ","); got != "planned,sealed,opened,draining,finished" {
			t.Fatalf("reshard to %d phases %s", to, got)
		}
		return first
	}

	waitFor(t, "a third of the load", 60*time.Second, func() bool { return ackN.Load() >= sessions*minEvents/3 })
	moved1 := reshard(7)
	// A provider retry of every session's first event, acknowledged under the
	// 4-shard layout: a duplicate under the 7-shard one, moved or not.
	for s := 0; s < sessions; s++ {
		if err := ingests[0].Enqueue(ctx, event(conv(s), 1)); !errors.Is(err, queue.ErrDuplicate) {
			t.Fatalf("retry of %s after the reshard: %v, want a duplicate", event(conv(s), 1).EventID, err)
		}
	}
	waitFor(t, "two thirds of the load", 60*time.Second, func() bool { return ackN.Load() >= 2*sessions*minEvents/3 })
	moved2 := reshard(3)
	stop.Store(true)
	slow.Store(false)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	total := int(ackN.Load())
	waitFor(t, "every acknowledged event delivered", 120*time.Second, func() bool {
		ra.mu.Lock()
		defer ra.mu.Unlock()
		return len(ra.seen) >= total
	})

	lay, _, err := queue.ReadLayout(ctx, e.rc, 4)
	if err != nil || lay.Epoch != 2 || lay.Shards != 3 || lay.State != queue.Stable {
		t.Fatalf("layout after the reshards: %+v, %v", lay, err)
	}
	// Both reshards began with moved sessions' tasks still queued in their
	// old shards: the handoff was needed, not merely harmless.
	if moved1 == 0 || moved2 == 0 {
		t.Fatalf("moved sessions' tasks queued at the reshards' start: %d, %d; the load did not exercise the handoff", moved1, moved2)
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	dups, movedSessions := 0, 0
	l1 := queue.Layout{Shards: 7}
	for s := 0; s < sessions; s++ {
		key := event(conv(s), 1).SessionKey
		if queue.Shard(key, 4) != queue.Shard(key, l1.Shards) || queue.Shard(key, 7) != queue.Shard(key, 3) {
			movedSessions++
		}
		want := acked[key]
		got := ra.log[key]
		// First deliveries in acknowledgement order; a duplicate only
		// directly repeats the event before it.
		var firsts []int
		for i, n := range got {
			if i > 0 && n == got[i-1] {
				dups++
				continue
			}
			firsts = append(firsts, n)
		}
		if fmt.Sprint(firsts) != fmt.Sprint(want) {
			t.Fatalf("session %s: delivered %v, acknowledged %v", conv(s), got, want)
		}
	}
	if movedSessions == 0 {
		t.Fatal("no session changed shard")
	}
	t.Logf("%d events acknowledged and delivered in order over 2 reshards (4→7→3, seal to finish %v), %d of %d sessions moved, %d moved sessions' tasks queued in old shards at the reshards' start (%d, %d), %d duplicate deliveries",
		total, took, movedSessions, sessions, moved1+moved2, moved1, moved2, dups)
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// A dead letter left in a queue a finished shrink removed is listed, and
// its replay is refused (no worker consumes that queue any more).
func TestReplayInRemovedQueueRefused(t *testing.T) {
	e := newEnv(t, 4)
	ctx := context.Background()
	var ev envelope.Envelope
	for i := 0; ; i++ {
		if ev = event(fmt.Sprintf("D%d", i), 1); queue.Shard(ev.SessionKey, 4) == 3 {
			break
		}
	}
	if err := e.client.Enqueue(ctx, ev); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(e.rc)
	if err := insp.ArchiveTask(queue.QueueName(3), ev.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Reshard(ctx, e.rc, 2, queue.ReshardOptions{Shards: 4, Poll: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	lay, _, _ := queue.ReadLayout(ctx, e.rc, 4)
	dl, err := DeadLetters(ctx, e.rc, lay.SpanShards())
	if err != nil || len(dl) != 1 || dl[0].ID != ev.ID || dl[0].Shard != 3 {
		t.Fatalf("dead letters %+v %v", dl, err)
	}
	if err := Replay(ctx, e.rc, lay.SpanShards(), ev.ID); !errors.Is(err, ErrRemovedQueue) {
		t.Fatalf("replay in a removed queue: %v", err)
	}
}
