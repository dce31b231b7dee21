package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestDedupHorizon(t *testing.T) {
	for _, c := range []struct {
		provider string
		want     time.Duration
	}{
		{"slack", 3 * time.Hour},
		{"telegram", 48 * time.Hour},
		{"messenger", 48 * time.Hour},
		{"instagram", 48 * time.Hour},
		{"whatsapp", 8 * 24 * time.Hour},
		{"unknown", DefaultRetention},
		{"", DefaultRetention},
	} {
		if got := DedupHorizon(c.provider); got != c.want {
			t.Errorf("DedupHorizon(%q) = %s, want %s", c.provider, got, c.want)
		}
	}
}

// expireTask removes a task as Asynq's janitor does once a completed task's
// retention is over (the task hash and its entry in the completed set), and
// from the pending list here since no server consumed it.
func expireTask(t *testing.T, rc redis.UniversalClient, qname, id string) {
	t.Helper()
	p := "asynq:{" + qname + "}:"
	if err := rc.Del(context.Background(), p+"t:"+id).Err(); err != nil {
		t.Fatal(err)
	}
	rc.LRem(context.Background(), p+"pending", 0, id)
	rc.ZRem(context.Background(), p+"completed", id)
}

// TestRedeliveryInsideHorizonAfterTaskExpiry: completed tasks are kept only
// briefly; a provider retry that arrives after the task is gone but inside
// the provider's dedup horizon is still a duplicate (its dedup mark), and the
// mark's bucket lives for the provider's horizon after the bucket's end.
func TestRedeliveryInsideHorizonAfterTaskExpiry(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient("", 1, WithRedisClient(rc))
	e := testEnvelope("C1", "Ev1")
	if err := c.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	tk := "asynq:{" + QueueName(0) + "}:t:" + e.ID
	if msg, err := rc.HGet(ctx, tk, "msg").Bytes(); err != nil || len(msg) == 0 {
		t.Fatalf("task not written: %v", err)
	}
	expireTask(t, rc, QueueName(0), e.ID)
	if err := c.Enqueue(ctx, e); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("redelivery after the task expired, inside the horizon: %v, want ErrDuplicate", err)
	}
	if n, _ := rc.Exists(ctx, tk).Result(); n != 0 {
		t.Fatal("the duplicate was written again")
	}
	h := DedupHorizon("slack")
	keys := dedupKeys(t, rc, QueueName(0))
	if len(keys) != 1 || !strings.HasPrefix(keys[0], dedupKeyPrefix(QueueName(0), h)) {
		t.Fatalf("dedup keys %v, want one bucket of the slack horizon", keys)
	}
	ttl, err := rc.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= h-time.Minute || ttl > h+h/4 {
		t.Fatalf("dedup bucket ttl %s, want the slack horizon %s up to a bucket (%s) more", ttl, h, h/4)
	}
	// No per-event key is left: the id key of older releases is not written.
	if n, _ := rc.Exists(ctx, idKey(QueueName(0), e.ID)).Result(); n != 0 {
		t.Fatal("an id key was written")
	}
	e2 := testEnvelope("C1", "Ev2")
	if err := c.Enqueue(ctx, e2); err != nil {
		t.Fatal(err)
	}
}

func dedupKeys(t testing.TB, rc redis.UniversalClient, q string) []string {
	t.Helper()
	keys, err := rc.Keys(context.Background(), prefix(q)+"d:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestDedupWindow: an event is remembered for at least its provider's
// horizon and forgotten 5/4 of it later at the latest (buckets of a quarter
// horizon), whatever the time in the bucket it was written in. The client's
// clock is moved; the task is removed as if expired.
func TestDedupWindow(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	h := DedupHorizon("slack")
	w := h / 4
	// The start of the current bucket (bucket expiries are real times).
	base := time.UnixMilli(time.Now().UnixMilli() / w.Milliseconds() * w.Milliseconds())
	for i, tc := range []struct {
		written, retried time.Duration // after base
		dup              bool
	}{
		{0, 0, true},
		{0, h, true},
		{w - time.Millisecond, w - time.Millisecond + h, true}, // written at the end of a bucket
		{time.Millisecond, time.Millisecond + h, true},         // at its start
		{0, 5 * w, false},
		{time.Millisecond, 5*w + time.Millisecond, false},
		{w - time.Millisecond, 6 * w, false},
		{0, h + w - time.Millisecond, true},
	} {
		rc.FlushAll(ctx)
		c := NewClient("", 1, WithRedisClient(rc))
		e := testEnvelope(fmt.Sprintf("C%d", i), "Ev1")
		c.now = func() time.Time { return base.Add(tc.written) }
		if err := c.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		expireTask(t, rc, QueueName(0), e.ID)
		c.now = func() time.Time { return base.Add(tc.retried) }
		err := c.Enqueue(ctx, e)
		if got := errors.Is(err, ErrDuplicate); got != tc.dup || (err != nil && !got) {
			t.Errorf("written at +%s, retried at +%s: %v, want duplicate %v", tc.written, tc.retried, err, tc.dup)
		}
	}
}

// TestRedeliveryAfterHorizonIsEnqueued: once the horizon is over the event id
// is forgotten and a redelivery is a new task (documented: duplicates only
// after the provider's retry window). The shortest horizon is a second.
func TestRedeliveryAfterHorizonIsEnqueued(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient("", 1, WithRedisClient(rc), WithRetention(200*time.Millisecond))
	e := testEnvelope("C1", "Ev1")
	if err := c.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	expireTask(t, rc, QueueName(0), e.ID)
	if len(dedupKeys(t, rc, QueueName(0))) == 0 {
		t.Fatal("no dedup bucket written")
	}
	for len(dedupKeys(t, rc, QueueName(0))) != 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Enqueue(ctx, e); err != nil {
		t.Fatalf("redelivery after the horizon: %v, want enqueued", err)
	}
}

func usedMemory(b testing.TB, rc redis.UniversalClient) int64 {
	b.Helper()
	return servicetest.InfoInt(b, rc, "memory", "used_memory")
}

// BenchmarkDedupBytesPerEvent measures what a deduplicated event costs in
// Redis (INFO memory, used_memory) over b.N events on 100 sessions, 200-byte
// texts: with the completed task still there ("task": DefaultTaskRetention,
// an hour), once the task expired ("done": dedup mark, done marker,
// amortised session hash; up to 2 hours), and for the rest of the provider's
// horizon ("horizon": the dedup mark and the amortised session hash). "mark"
// is the dedup buckets alone (MEMORY USAGE of every bucket key, SAMPLES 0).
func BenchmarkDedupBytesPerEvent(b *testing.B) {
	_, rc := newRedis(b)
	ctx := context.Background()
	c := NewClient("", 1, WithRedisClient(rc))
	f := NewFence(rc, DefaultRetention, 1)
	rc.FlushAll(ctx)
	before := usedMemory(b, rc)
	envs := make([]struct{ sk, id string }, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := testEnvelope(fmt.Sprintf("C%d", i%100), fmt.Sprintf("Ev%012d", i))
		e.Text = strings.Repeat("x", 200)
		if err := c.Enqueue(ctx, e); err != nil {
			b.Fatal(err)
		}
		envs = append(envs, struct{ sk, id string }{e.SessionKey, e.ID})
	}
	b.StopTimer()
	for i, e := range envs {
		if err := f.Complete(ctx, e.sk, e.id, int64(i/100+1)); err != nil {
			b.Fatal(err)
		}
	}
	withTask := usedMemory(b, rc)
	p := "asynq:{" + QueueName(0) + "}:"
	for _, e := range envs {
		rc.Del(ctx, p+"t:"+e.id)
	}
	rc.Del(ctx, p+"pending")
	noTask := usedMemory(b, rc)
	for _, e := range envs {
		rc.Del(ctx, doneKey(QueueName(0), e.id))
	}
	horizon := usedMemory(b, rc)
	var marks int64
	for _, k := range dedupKeys(b, rc, QueueName(0)) {
		n, err := rc.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		marks += n
	}
	b.ReportMetric(float64(marks)/float64(b.N), "B/event(mark)")
	b.ReportMetric(float64(withTask-before)/float64(b.N), "B/event(task)")
	b.ReportMetric(float64(noTask-before)/float64(b.N), "B/event(done)")
	b.ReportMetric(float64(horizon-before)/float64(b.N), "B/event(horizon)")
}

// TestDedupWriteDoesNotGrowWithTheBucket: what an enqueue writes to the
// append-only file (and so sends to every replica: a script is propagated as
// the commands it ran) does not depend on how many marks its dedup part
// already holds. The current bucket's parts are prefilled to what a
// WhatsApp bucket (two days wide) holds at 125 events/s on one shard, about
// 42 KB each; rewriting a part would log that much per enqueue.
func TestDedupWriteDoesNotGrowWithTheBucket(t *testing.T) {
	r := servicetest.StartRedisWith(t, "--appendfsync", "no")
	rc := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, MaxRetries: -1, ReadTimeout: 15 * time.Second})
	defer rc.Close()
	ctx := context.Background()
	c := NewClient("", 1, WithRedisClient(rc))
	horizon := c.dedupHorizon("whatsapp")
	width := (horizon.Milliseconds() + 3) / 4
	perPart := 125 * int(width/1000) / 4096
	aof := func() int64 { return servicetest.InfoInt(t, rc, "persistence", "aof_current_size") }
	perEnqueue := func(label string, prefill bool) int64 {
		const n = 50
		evs := make([]envelope.Envelope, n)
		for i := range evs {
			e := testEnvelope("C1", fmt.Sprintf("wa-%s-%d", label, i))
			e.Provider = "whatsapp"
			evs[i] = e.Finish()
		}
		if prefill {
			bucket := dedupKeyPrefix(QueueName(0), horizon) + strconv.FormatInt(time.Now().UnixMilli()/width, 10)
			fill := bytes.Repeat([]byte{0xA5}, 8*perPart)
			for _, e := range evs {
				if err := rc.Set(ctx, bucket+":"+dedupMark(e.ID)[:3], fill, time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
		before := aof()
		for _, e := range evs {
			if err := c.Enqueue(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		return (aof() - before) / n
	}
	empty := perEnqueue("empty", false)
	full := perEnqueue("full", true)
	t.Logf("append-only file bytes per enqueue: %d with empty dedup parts, %d with parts of %d marks (%d B)", empty, full, perPart, 8*perPart)
	if full > empty+256 {
		t.Fatalf("an enqueue logs %d bytes when its dedup part holds %d B, %d when empty: the part is rewritten", full, 8*perPart, empty)
	}
}
