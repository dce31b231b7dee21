package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/envelope"
)

// TestOneScriptTaskIsAsynqTask: the task Enqueue writes in Asynq's layout reads
// back through Asynq's inspector exactly like a task Asynq's own client
// enqueued with the same options, and a real Asynq server consumes it (the
// handler gets the envelope, the task completes and is retained).
func TestOneScriptTaskIsAsynqTask(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient(r.Addr, 1, WithRedisClient(rc), WithRetention(time.Hour))
	e := testEnvelope("C1", "E1")
	if err := c.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	ins := asynq.NewInspectorFromRedisClient(rc)
	q := QueueName(0)
	ours, err := ins.GetTaskInfo(q, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.Seq = 1
	payload, _ := json.Marshal(e)
	theirs, err := asynq.NewClientFromRedisClient(rc).Enqueue(asynq.NewTask(TaskType, payload),
		asynq.TaskID("reference"), asynq.Queue(q), asynq.Retention(time.Hour), asynq.MaxRetry(MaxRetry))
	if err != nil {
		t.Fatal(err)
	}
	if theirs, err = ins.GetTaskInfo(q, "reference"); err != nil {
		t.Fatal(err)
	}
	if ours.Type != theirs.Type || string(ours.Payload) != string(theirs.Payload) || ours.Queue != theirs.Queue ||
		ours.MaxRetry != theirs.MaxRetry || ours.Retention != theirs.Retention || ours.Timeout != theirs.Timeout ||
		!ours.Deadline.Equal(theirs.Deadline) || ours.State != theirs.State || ours.State != asynq.TaskStatePending {
		t.Fatalf("task written by the script:\n%+v\ntask written by asynq:\n%+v", ours, theirs)
	}
	if qs, err := ins.Queues(); err != nil || len(qs) != 1 || qs[0] != q {
		t.Fatalf("queues %v, %v", qs, err)
	}

	got := make(chan string, 2)
	srv := asynq.NewServerFromRedisClient(rc, asynq.Config{Concurrency: 1, Queues: map[string]int{q: 1},
		LogLevel: asynq.ErrorLevel})
	if err := srv.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		env, err := envelope.Decode(task.Payload())
		if err != nil {
			return err
		}
		got <- env.ID + fmt.Sprintf("|%d", env.Seq)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	seen := []string{<-got, <-got}
	sort.Strings(seen)
	if want := []string{e.ID + "|1", e.ID + "|1"}; seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("consumed %v, want %v", seen, want)
	}
	for {
		info, err := ins.GetTaskInfo(q, e.ID)
		if err == nil && info.State == asynq.TaskStateCompleted {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailedEnqueueTakesNoSequence: when the task cannot be written (here
// Asynq's pending list of the shard is not a list, on a real Redis), Enqueue
// fails and the session's counter has not moved: the next event gets the
// number the failed one would have had and the fence lets it through at once.
// With a separate reservation before the task write, the failed event's
// number would be a gap the session waits on.
func TestFailedEnqueueTakesNoSequence(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient(r.Addr, 1, WithRedisClient(rc))
	pending := "asynq:{" + QueueName(0) + "}:pending"
	if err := rc.Set(ctx, pending, "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	e1 := testEnvelope("C1", "E1")
	if err := c.Enqueue(ctx, e1); err == nil {
		t.Fatal("enqueue onto a broken queue succeeded")
	}
	sk := sessionKeyOf(QueueName(0), tag(e1.SessionKey))
	if n, err := rc.Exists(ctx, sk, idKey(QueueName(0), e1.ID)).Result(); err != nil || n != 0 {
		t.Fatalf("a failed enqueue left %d session keys (%v)", n, err)
	}
	if err := rc.Del(ctx, pending).Err(); err != nil {
		t.Fatal(err)
	}
	e2 := testEnvelope("C1", "E2")
	if err := c.Enqueue(ctx, e2); err != nil {
		t.Fatal(err)
	}
	ch, err := NewFence(rc, time.Hour, 1).Check(ctx, e2.SessionKey, e2.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Verdict != Go {
		t.Fatalf("next event after a failed enqueue: %+v, want Go with seq 1", ch)
	}
	info, err := asynq.NewInspectorFromRedisClient(rc).GetTaskInfo(QueueName(0), e2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if env, err := envelope.Decode(info.Payload); err != nil || env.Seq != 1 {
		t.Fatalf("task seq %d (%v), want 1", env.Seq, err)
	}
}

// TestEnqueueSeqAcrossClients: two clients (two ingest processes) enqueue
// into the same session in turn and concurrently; each guesses the next
// number from what it saw itself, so most guesses are wrong, yet the numbers
// come out unique and without a gap.
func TestEnqueueSeqAcrossClients(t *testing.T) {
	r, rc := newRedis(t)
	ctx := context.Background()
	a := NewClient(r.Addr, 2, WithRedisClient(rc))
	b := NewClient(r.Addr, 2)
	defer b.Close()
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for w, c := range []*Client{a, b} {
		wg.Add(1)
		go func(w int, c *Client) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				e := testEnvelope("C1", fmt.Sprintf("W%dE%d", w, i))
				if err := c.Enqueue(ctx, e); err != nil {
					t.Error(err)
					return
				}
				ids <- e.ID
			}
		}(w, c)
	}
	wg.Wait()
	close(ids)
	ins := asynq.NewInspectorFromRedisClient(rc)
	var seqs []int
	for id := range ids {
		var info *asynq.TaskInfo
		var err error
		for s := 0; s < 2; s++ {
			if info, err = ins.GetTaskInfo(QueueName(s), id); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Decode(info.Payload)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, int(env.Seq))
	}
	sort.Ints(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("sequence numbers %v, want 1..40", seqs)
		}
	}
}
