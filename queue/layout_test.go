package queue

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

func moving(from, to int) Layout {
	p, err := PlanReshard(InitialLayout(from), to, t0)
	if err != nil {
		panic(err)
	}
	return p.Next
}

func TestPlanReshard(t *testing.T) {
	old := PastLayout{Epoch: 0, Shards: 8, EndedAt: t0.Add(-9 * 24 * time.Hour)} // outside the horizon
	recent := PastLayout{Epoch: 1, Shards: 4, EndedAt: t0.Add(-time.Hour)}
	stable2 := Layout{Epoch: 2, Shards: 16, State: Stable, History: []PastLayout{recent, old}}
	cases := []struct {
		name   string
		cur    Layout
		to     int
		reason RefusalReason
		want   ReshardPlan
	}{
		{name: "zero", cur: InitialLayout(16), to: 0, reason: RefusedInvalidCount},
		{name: "too many", cur: InitialLayout(16), to: MaxShards + 1, reason: RefusedInvalidCount},
		{name: "same", cur: InitialLayout(16), to: 16, reason: RefusedSameCount},
		{name: "other reshard under way", cur: moving(16, 32), to: 8, reason: RefusedInProgress},
		{name: "grow", cur: InitialLayout(4), to: 6, want: ReshardPlan{
			Current: InitialLayout(4),
			Next:    Layout{Epoch: 1, Shards: 6, State: Moving, From: &PastLayout{0, 4, t0}, History: []PastLayout{{0, 4, t0}}, StartedAt: t0},
			Seal:    []int{0, 1, 2, 3}, Open: []int{0, 1, 2, 3, 4, 5},
		}},
		{name: "shrink keeps recent history, drops expired", cur: stable2, to: 2, want: ReshardPlan{
			Current: stable2,
			Next: Layout{Epoch: 3, Shards: 2, State: Moving, From: &PastLayout{2, 16, t0},
				History: []PastLayout{{2, 16, t0}, recent}, StartedAt: t0},
			Seal: seq(16), Open: []int{0, 1},
		}},
		{name: "resume", cur: moving(2, 3), to: 3, want: ReshardPlan{
			Current: moving(2, 3), Next: moving(2, 3), Resume: true, Seal: []int{0, 1}, Open: []int{0, 1, 2},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PlanReshard(c.cur, c.to, t0)
			if c.reason != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Reason != c.reason {
					t.Fatalf("err = %v, want refusal %s", err, c.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("plan\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestPlanReshardHistoryIsBounded(t *testing.T) {
	l := InitialLayout(2)
	now := t0
	for i := 0; i < 3*historyKeep; i++ {
		p, err := PlanReshard(l, 2+(i+1)%5+1, now)
		if err != nil {
			t.Fatal(err)
		}
		if l, err = FinishReshard(p.Next, 0, now); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
	if len(l.History) != historyKeep {
		t.Fatalf("history holds %d layouts, want %d", len(l.History), historyKeep)
	}
}

func TestFinishReshard(t *testing.T) {
	m := moving(16, 32)
	if _, err := FinishReshard(InitialLayout(16), 0, t0); !isRefusal(err, RefusedNotMoving) {
		t.Fatalf("finish of a stable layout: %v", err)
	}
	if _, err := FinishReshard(m, 3, t0); !isRefusal(err, RefusedNotDrained) {
		t.Fatalf("finish with tasks left: %v", err)
	}
	got, err := FinishReshard(m, 0, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Stable || got.From != nil || got.Epoch != 1 || got.Shards != 32 || len(got.History) != 1 || !got.FinishedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("finished layout %+v", got)
	}
	if got.LeaseShards() != 32 {
		t.Fatalf("LeaseShards %d", got.LeaseShards())
	}
}

func isRefusal(err error, r RefusalReason) bool {
	var ref *Refusal
	return errors.As(err, &ref) && ref.Reason == r
}

func TestLeaseShards(t *testing.T) {
	cases := []struct {
		l    Layout
		want int
	}{
		{InitialLayout(16), 16},
		{InitialLayout(0), DefaultShards},
		{moving(16, 32), 32},
		{moving(32, 16), 32}, // the removed queues drain first
		{moving(3, 1), 3},
	}
	for _, c := range cases {
		if got := c.l.LeaseShards(); got != c.want {
			t.Errorf("%+v: LeaseShards %d, want %d", c.l, got, c.want)
		}
	}
}

func TestHandoffFrom(t *testing.T) {
	// Exhaustive over many sessions: a handoff is needed exactly for a moved
	// session's task in its new shard, and names its old shard.
	for _, lc := range []struct{ from, to int }{{16, 32}, {32, 16}, {5, 7}, {7, 5}, {1, 4}, {4, 1}} {
		l := moving(lc.from, lc.to)
		for i := 0; i < 400; i++ {
			key := fmt.Sprintf("s1/org/slack/inst/C%d//agt/", i)
			oldS, newS := Shard(key, lc.from), Shard(key, lc.to)
			for shard := 0; shard < max(lc.from, lc.to); shard++ {
				from, ok := l.HandoffFrom(key, shard)
				want := oldS != newS && shard == newS
				if ok != want || (ok && from != oldS) {
					t.Fatalf("%d→%d %s in shard %d: HandoffFrom = %d,%v (old %d new %d)", lc.from, lc.to, key, shard, from, ok, oldS, newS)
				}
			}
			if l.Moved(key) != (oldS != newS) {
				t.Fatalf("Moved(%s) = %v", key, l.Moved(key))
			}
		}
		stable, _ := FinishReshard(l, 0, t0)
		for shard := 0; shard < lc.to; shard++ {
			if _, ok := stable.HandoffFrom("s1/x", shard); ok {
				t.Fatal("handoff on a stable layout")
			}
		}
		if stable.Moved("s1/x") {
			t.Fatal("moved on a stable layout")
		}
	}
	// Doubling moves only the sessions whose new shard is in the upper half.
	l := moving(16, 32)
	for i := 0; i < 400; i++ {
		key := fmt.Sprintf("k%d", i)
		if l.Moved(key) != (Shard(key, 32) >= 16) {
			t.Fatalf("doubling: %s moved=%v new shard %d", key, l.Moved(key), Shard(key, 32))
		}
	}
}

func TestDedupShards(t *testing.T) {
	key := "s1/org/slack/inst/C1//agt/"
	l := Layout{Epoch: 3, Shards: 7, State: Stable, History: []PastLayout{
		{Epoch: 2, Shards: 5, EndedAt: t0.Add(-time.Hour)},
		{Epoch: 1, Shards: 7, EndedAt: t0.Add(-2 * time.Hour)},   // same shard as now: no lookup
		{Epoch: 0, Shards: 11, EndedAt: t0.Add(-72 * time.Hour)}, // outside a 48 h horizon
	}}
	var want []int
	if s := Shard(key, 5); s != Shard(key, 7) {
		want = append(want, s)
	}
	if got := l.DedupShards(key, 48*time.Hour, t0); !reflect.DeepEqual(got, want) {
		t.Fatalf("48 h: %v, want %v", got, want)
	}
	if s := Shard(key, 11); s != Shard(key, 7) && !containsInt(want, s) {
		want = append(want, s)
	}
	if got := l.DedupShards(key, DefaultRetention, t0); !reflect.DeepEqual(got, want) {
		t.Fatalf("8 days: %v, want %v", got, want)
	}
	if got := InitialLayout(16).DedupShards(key, DefaultRetention, t0); got != nil {
		t.Fatalf("no history: %v", got)
	}
}

func TestMarker(t *testing.T) {
	cases := []struct {
		stored string
		m      Marker
		client int64
		want   Admission
	}{
		{"", Marker{0, true}, 0, AdmitOK},
		{"", Marker{0, true}, 1, AdmitNotOpen}, // a new-only shard before it is opened
		{"1|sealed", Marker{1, false}, 0, AdmitStale},
		{"1|sealed", Marker{1, false}, 1, AdmitNotOpen},
		{"1|open", Marker{1, true}, 1, AdmitOK},
		{"1|open", Marker{1, true}, 0, AdmitStale},
		{"1|open", Marker{1, true}, 2, AdmitNotOpen},
		{"12|open", Marker{12, true}, 12, AdmitOK},
	}
	for _, c := range cases {
		m, err := ParseMarker(c.stored)
		if err != nil || m != c.m {
			t.Fatalf("ParseMarker(%q) = %+v, %v", c.stored, m, err)
		}
		if c.stored != "" && m.String() != c.stored {
			t.Fatalf("String %q, want %q", m.String(), c.stored)
		}
		if got := m.Admit(c.client); got != c.want {
			t.Fatalf("%q admits client %d: %d, want %d", c.stored, c.client, got, c.want)
		}
	}
	for _, bad := range []string{"x", "1", "1|", "-1|open", "1|opened", "|open"} {
		if _, err := ParseMarker(bad); err == nil {
			t.Fatalf("ParseMarker(%q) accepted", bad)
		}
	}
	order := []Marker{{0, true}, {1, false}, {1, true}, {2, false}}
	for i := range order {
		for j := range order {
			if order[i].Before(order[j]) != (i < j) {
				t.Fatalf("%v before %v = %v", order[i], order[j], order[i].Before(order[j]))
			}
		}
	}
}

func TestCheckShardCount(t *testing.T) {
	cases := []struct {
		name         string
		given        int
		busy, leased []int
		live         int
		refused      bool
	}{
		{name: "fresh deployment", given: 16},
		{name: "all leased", given: 4, busy: []int{0, 1, 2, 3}, leased: []int{0, 1, 2, 3}, live: 2},
		{name: "a queue past the count holds tasks", given: 4, busy: []int{1, 5}, refused: true},
		{name: "a lease past the count", given: 4, busy: []int{0, 4}, leased: []int{0, 4}, live: 1, refused: true},
		{name: "workers hold only the lower half", given: 16, busy: seq(8), leased: seq(8), live: 3, refused: true},
		{name: "leases moving: no conclusion", given: 16, busy: []int{0, 1, 3}, leased: []int{0, 1, 3}, live: 2},
		{name: "leases left by dead workers only", given: 16, busy: seq(8), leased: seq(8), live: 0},
	}
	for _, c := range cases {
		err := CheckShardCount(c.given, c.busy, c.leased, c.live)
		if c.refused != isRefusal(err, RefusedShardsWrong) || (!c.refused && err != nil) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
