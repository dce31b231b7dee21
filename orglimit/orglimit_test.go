package orglimit

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

func TestTake(t *testing.T) {
	type step struct {
		at    time.Duration // after t0
		ok    bool
		wait  time.Duration
		after float64 // tokens left
	}
	cases := []struct {
		name  string
		rate  Rate
		start Bucket
		steps []step
	}{
		{"no limit", Rate{}, Bucket{}, []step{{0, true, 0, 0}, {0, true, 0, 0}}},
		{"fresh bucket starts full", Rate{PerSec: 2, Burst: 3}, Bucket{}, []step{
			{0, true, 0, 2}, {0, true, 0, 1}, {0, true, 0, 0}, {0, false, time.Second, 0},
		}},
		{"burst defaults to the rate", Rate{PerSec: 2}, Bucket{}, []step{
			{0, true, 0, 1}, {0, true, 0, 0}, {0, false, time.Second, 0},
		}},
		{"refills at the rate", Rate{PerSec: 2, Burst: 2}, Bucket{Tokens: 0, At: t0}, []step{
			{0, false, time.Second, 0}, {500 * time.Millisecond, true, 0, 0}, {time.Second, true, 0, 0},
		}},
		{"never above the burst", Rate{PerSec: 10, Burst: 2}, Bucket{Tokens: 0, At: t0}, []step{
			{time.Hour, true, 0, 1}, {time.Hour, true, 0, 0}, {time.Hour, false, time.Second, 0},
		}},
		{"slow rate asks for whole seconds", Rate{PerSec: 1, Burst: 1}, Bucket{Tokens: 0, At: t0}, []step{
			{100 * time.Millisecond, false, time.Second, 0.1},
		}},
		{"a lowered burst caps what is left", Rate{PerSec: 1, Burst: 1}, Bucket{Tokens: 50, At: t0}, []step{
			{0, true, 0, 0}, {0, false, time.Second, 0},
		}},
		{"clock going back takes nothing", Rate{PerSec: 1, Burst: 5}, Bucket{Tokens: 1, At: t0.Add(time.Minute)}, []step{
			{0, true, 0, 0}, {0, false, time.Second, 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.start
			for i, s := range c.steps {
				var ok bool
				var wait time.Duration
				b, ok, wait = Take(b, c.rate, t0.Add(s.at))
				if ok != s.ok || wait != s.wait {
					t.Fatalf("step %d: ok %v wait %v, want %v %v", i, ok, wait, s.ok, s.wait)
				}
				if c.rate.PerSec > 0 && (b.Tokens < s.after-1e-9 || b.Tokens > s.after+1e-9) {
					t.Fatalf("step %d: %v tokens left, want %v", i, b.Tokens, s.after)
				}
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	cases := []struct {
		in   Slots
		s    Share
		want Reason
	}{
		{Slots{0, 0}, Share{}, ""},
		{Slots{100, 100}, Share{}, ""},
		{Slots{1, 1}, Share{Max: 2, ShardMax: 3}, ""},
		{Slots{2, 0}, Share{Max: 2, ShardMax: 3}, ReasonOrgInFlight},
		{Slots{2, 3}, Share{Max: 2, ShardMax: 3}, ReasonOrgInFlight},
		{Slots{1, 3}, Share{Max: 8, ShardMax: 3}, ReasonShardShare},
		{Slots{7, 2}, Share{Max: 8, ShardMax: 3}, ""},
		{Slots{5, 5}, Share{ShardMax: 5}, ReasonShardShare},
	}
	for _, c := range cases {
		if got := Admit(c.in, c.s); got != c.want {
			t.Errorf("Admit(%+v, %+v) = %q, want %q", c.in, c.s, got, c.want)
		}
	}
}

// TestBucketsPerOrg: one organisation's bucket running dry leaves the
// others' untouched.
func TestBucketsPerOrg(t *testing.T) {
	var bs Buckets
	r := Rate{PerSec: 1, Burst: 2}
	for i := 0; i < 2; i++ {
		if ok, _ := bs.Allow("org_a", r, t0); !ok {
			t.Fatalf("org_a request %d refused inside its burst", i)
		}
	}
	if ok, wait := bs.Allow("org_a", r, t0); ok || wait != time.Second {
		t.Fatalf("org_a over its burst: %v %v", ok, wait)
	}
	if ok, _ := bs.Allow("org_b", r, t0); !ok {
		t.Fatal("org_b refused because org_a ran dry")
	}
	if ok, _ := bs.Allow("org_a", Rate{}, t0); !ok {
		t.Fatal("no limit refused")
	}
}

func TestInFlight(t *testing.T) {
	var f InFlight
	s := Share{Max: 3, ShardMax: 2}
	for i, want := range []Reason{"", "", ReasonShardShare} {
		if got := f.Enter("org_a", 0, s); got != want {
			t.Fatalf("enter %d on shard 0: %q, want %q", i, got, want)
		}
	}
	if got := f.Enter("org_a", 1, s); got != "" {
		t.Fatalf("enter on shard 1: %q", got)
	}
	if got := f.Enter("org_a", 2, s); got != ReasonOrgInFlight {
		t.Fatalf("fourth delivery: %q", got)
	}
	if got := f.Enter("org_b", 0, s); got != "" {
		t.Fatalf("org_b held back by org_a: %q", got)
	}
	f.Leave("org_a", 0)
	if f.Of("org_a") != 2 {
		t.Fatalf("in flight after leave: %d", f.Of("org_a"))
	}
	if got := f.Enter("org_a", 0, s); got != "" {
		t.Fatalf("enter after leave: %q", got)
	}
	for _, sh := range []int{0, 0, 1} {
		f.Leave("org_a", sh)
	}
	f.Leave("org_b", 0)
	if f.Of("org_a") != 0 || len(f.org) != 0 || len(f.shard) != 0 {
		t.Fatalf("counters left: %v %v", f.org, f.shard)
	}
}
