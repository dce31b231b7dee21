package queue

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// sessionsMoving returns conversations whose session moves between from and
// to shards, and ones that stay.
func sessionsMoving(from, to, n int) (moved, stay []string) {
	for i := 0; len(moved) < n || len(stay) < n; i++ {
		c := fmt.Sprintf("C%d", i)
		k := testEnvelope(c, "x").SessionKey
		if Shard(k, from) != Shard(k, to) {
			if len(moved) < n {
				moved = append(moved, c)
			}
		} else if len(stay) < n {
			stay = append(stay, c)
		}
	}
	return moved, stay
}

func taskQueue(t *testing.T, ctx context.Context, c *Client, id string, shards int) string {
	t.Helper()
	for s := 0; s < shards; s++ {
		n, err := c.rdb.Exists(ctx, "asynq:{"+QueueName(s)+"}:t:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return QueueName(s)
		}
	}
	return ""
}

// A client on the old layout is refused by the sealed shards and maps the
// session with the new layout (one refused round trip); a shard not yet
// opened for the new epoch takes nothing; markers only rise.
func TestReshardSealsThenOpens(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	stale := NewClient("", 4, WithRedisClient(rc))
	moved, stay := sessionsMoving(4, 7, 2)
	for _, c := range append(moved, stay...) {
		if err := stale.Enqueue(ctx, testEnvelope(c, c+"-e1")); err != nil {
			t.Fatal(err)
		}
	}
	cur, raw, err := ReadLayout(ctx, rc, 4)
	if err != nil || raw != "" || cur.Epoch != 0 || cur.Shards != 4 {
		t.Fatalf("initial layout %+v %q %v", cur, raw, err)
	}
	plan, err := PlanReshard(cur, 7, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Half way: the layout recorded and the old shards sealed, the new ones
	// not opened yet (a reshard that stopped there).
	if _, err := swapLayout(ctx, rc, raw, plan.Next); err != nil {
		t.Fatal(err)
	}
	if err := raiseMarkers(ctx, rc, plan.Seal, Marker{Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	ev := testEnvelope(moved[0], moved[0]+"-e2")
	if err := stale.Enqueue(ctx, ev); err == nil || !strings.Contains(err.Error(), "layout changed") {
		t.Fatalf("enqueue into a sealed layout before the new one opened: %v", err)
	}
	if q := taskQueue(t, ctx, stale, ev.ID, 7); q != "" {
		t.Fatalf("task written to %s before the new layout opened", q)
	}
	// Resumed: the markers are opened; the stale client's next enqueue is
	// refused by the old shard, reloads and lands in the new shard.
	if _, err := BeginReshard(ctx, rc, ReshardPlan{Next: plan.Next, Resume: true, Seal: plan.Seal, Open: plan.Open}, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range append(moved, stay...) {
		ev := testEnvelope(c, c+"-e3")
		if err := stale.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if got, want := taskQueue(t, ctx, stale, ev.ID, 7), QueueName(Shard(ev.SessionKey, 7)); got != want {
			t.Fatalf("%s enqueued to %s, want %s", c, got, want)
		}
	}
	if l, err := stale.Layout(ctx); err != nil || l.Epoch != 1 {
		t.Fatalf("client layout after the refusal: %+v %v", l, err)
	}
	// Markers never go down: an old epoch's marker write changes nothing.
	if err := raiseMarkers(ctx, rc, []int{0}, Marker{Epoch: 0, Open: true}); err != nil {
		t.Fatal(err)
	}
	if m, err := ReadMarker(ctx, rc, 0); err != nil || m != (Marker{Epoch: 1, Open: true}) {
		t.Fatalf("marker of shard 0: %v %v", m, err)
	}
	// A session that stayed keeps its numbering; a moved one starts afresh
	// in its new shard (its old state is drained by the workers first).
	for _, c := range stay {
		k := testEnvelope(c, "x").SessionKey
		seq, _ := rc.HGet(ctx, sessionKeyOf(QueueName(Shard(k, 7)), tag(k)), "seq").Int()
		if seq != 2 {
			t.Fatalf("staying session %s: seq %d, want 2", c, seq)
		}
	}
	for _, c := range moved {
		k := testEnvelope(c, "x").SessionKey
		seq, _ := rc.HGet(ctx, sessionKeyOf(QueueName(Shard(k, 7)), tag(k)), "seq").Int()
		old, _ := rc.HGet(ctx, sessionKeyOf(QueueName(Shard(k, 4)), tag(k)), "seq").Int()
		if seq != 1 || old != 1 {
			t.Fatalf("moved session %s: seq %d in the new shard, %d in the old; want 1 and 1", c, seq, old)
		}
	}
}

// Drain counts exactly the moved sessions' tasks left in old queues; the
// reshard finishes only at 0; refusals are typed.
func TestReshardDrainAndRefusals(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient("", 4, WithRedisClient(rc))
	moved, stay := sessionsMoving(4, 2, 3)
	want := map[int]int{}
	for _, conv := range append(moved, stay...) {
		for i := 0; i < 2; i++ {
			ev := testEnvelope(conv, fmt.Sprint(conv, "-e", i))
			if err := c.Enqueue(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if Shard(ev.SessionKey, 4) != Shard(ev.SessionKey, 2) {
				want[Shard(ev.SessionKey, 4)]++
			}
		}
	}
	var seen []ReshardProgress
	plan, err := Reshard(ctx, rc, 2, ReshardOptions{Shards: 4, DryRun: true, Progress: func(p ReshardProgress) { seen = append(seen, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0].Phase != "planned" || seen[0].Remaining != 6 || fmt.Sprint(seen[0].ByShard) != fmt.Sprint(want) {
		t.Fatalf("dry run: %+v, want 6 remaining %v", seen, want)
	}
	if _, raw, _ := ReadLayout(ctx, rc, 4); raw != "" {
		t.Fatal("the dry run recorded a layout")
	}
	if plan.Next.Shards != 2 || plan.Next.Epoch != 1 {
		t.Fatalf("dry-run plan %+v", plan.Next)
	}
	if _, err := Reshard(ctx, rc, 2, ReshardOptions{Shards: 4, NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := Reshard(ctx, rc, 8, ReshardOptions{Shards: 4}); !isRefusal(err, RefusedInProgress) {
		t.Fatalf("another reshard while one is under way: %v", err)
	}
	l, raw, err := ReadLayout(ctx, rc, 4)
	if err != nil || l.State != Moving || l.LeaseShards() != 4 {
		t.Fatalf("layout %+v %v", l, err)
	}
	d := NewDrain(rc)
	by, err := d.Remaining(ctx, l)
	if err != nil || fmt.Sprint(by) != fmt.Sprint(want) {
		t.Fatalf("remaining %v %v, want %v", by, err, want)
	}
	if _, err := CompleteReshard(ctx, rc, l, raw, total(by), time.Now()); !isRefusal(err, RefusedNotDrained) {
		t.Fatalf("finish before the drain: %v", err)
	}
	// The moved sessions' old tasks are consumed (as a worker would).
	for _, conv := range moved {
		k := testEnvelope(conv, "x").SessionKey
		p := "asynq:{" + QueueName(Shard(k, 4)) + "}:"
		for i := 0; i < 2; i++ {
			id := testEnvelope(conv, fmt.Sprint(conv, "-e", i)).ID
			if err := rc.LRem(ctx, p+"pending", 0, id).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.Del(ctx, p+"t:"+id).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if by, err = d.Remaining(ctx, l); err != nil || total(by) != 0 {
		t.Fatalf("remaining after the drain %v %v", by, err)
	}
	if _, err := CompleteReshard(ctx, rc, l, "stale", 0, time.Now()); !isRefusal(err, RefusedChanged) {
		t.Fatalf("finish over a changed layout: %v", err)
	}
	done, err := Reshard(ctx, rc, 2, ReshardOptions{Shards: 4, Poll: time.Millisecond})
	if err != nil || !done.Resume || done.Next.State != Stable {
		t.Fatalf("resumed reshard: %+v %v", done, err)
	}
	// The queues the shrink removed (empty) are dropped from Asynq's list.
	queues, err := rc.SMembers(ctx, "asynq:queues").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sortedStrings(queues), ","); got != "sb-shard-000,sb-shard-001" {
		t.Fatalf("queues after the shrink: %s", got)
	}
	if _, err := Reshard(ctx, rc, 2, ReshardOptions{Shards: 4}); !isRefusal(err, RefusedSameCount) {
		t.Fatalf("reshard to the count it has: %v", err)
	}
	var r *Refusal
	if _, err := Reshard(ctx, rc, 0, ReshardOptions{}); !errors.As(err, &r) || r.Reason != RefusedInvalidCount {
		t.Fatalf("reshard to 0: %v", err)
	}
}

// A provider's retry of an event enqueued before a reshard into a shard its
// session no longer maps to is a duplicate (the id key of the earlier
// layout's shard is consulted).
func TestDedupAcrossReshard(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient("", 4, WithRedisClient(rc))
	moved, _ := sessionsMoving(4, 7, 1)
	ev := testEnvelope(moved[0], moved[0]+"-e1")
	if err := c.Enqueue(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := Reshard(ctx, rc, 7, ReshardOptions{Shards: 4, NoWait: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(ctx, ev); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("retry after the reshard: %v, want a duplicate", err)
	}
	if q := taskQueue(t, ctx, c, ev.ID, 7); q != QueueName(Shard(ev.SessionKey, 4)) {
		t.Fatalf("task in %s", q)
	}
}

// The first reshard refuses a --shards count the queues contradict (it would
// seal the wrong shards and map old tasks' sessions wrongly).
func TestReshardRefusesWrongShardCount(t *testing.T) {
	_, rc := newRedis(t)
	ctx := context.Background()
	c := NewClient("", 8, WithRedisClient(rc))
	for i := 0; ; i++ {
		ev := testEnvelope(fmt.Sprintf("C%d", i), fmt.Sprintf("w%d", i))
		if Shard(ev.SessionKey, 8) < 4 {
			continue
		}
		if err := c.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		break
	}
	for _, dry := range []bool{true, false} {
		if _, err := Reshard(ctx, rc, 16, ReshardOptions{Shards: 4, DryRun: dry}); !isRefusal(err, RefusedShardsWrong) {
			t.Fatalf("dry run %v: reshard from a wrong --shards: %v", dry, err)
		}
	}
	if _, raw, _ := ReadLayout(ctx, rc, 4); raw != "" {
		t.Fatal("a refused reshard recorded a layout")
	}
	if _, err := Reshard(ctx, rc, 16, ReshardOptions{Shards: 8, NoWait: true}); err != nil {
		t.Fatalf("reshard from the right count: %v", err)
	}
}

func sortedStrings(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
