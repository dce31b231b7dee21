package engine

import (
	"math"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/loadtest"
)

func TestPacerFollowsThePlan(t *testing.T) {
	s := loadtest.Scenario{Stages: []loadtest.Stage{
		{Rate: 10, Ramp: loadtest.Duration(2 * time.Second), Duration: loadtest.Duration(time.Second)},
		{Rate: 30, Duration: loadtest.Duration(time.Second)},
	}}
	p := Pacer{S: s}
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 0}, {time.Second, 2.5}, {2 * time.Second, 10}, {3 * time.Second, 20}, {4 * time.Second, 50}, {time.Hour, 50}} {
		if got := p.count(c.at); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("count(%s) = %v, want %v", c.at, got, c.want)
		}
	}
	if math.Abs(p.count(s.Duration())-s.Expected()) > 1e-9 {
		t.Errorf("the pacer's total %v differs from the plan's %v", p.count(s.Duration()), s.Expected())
	}
	// Hit 1 is due when the ramp's integral reaches 1: 5t²/2 = 1 → t = √0.4 s.
	wait, stop := p.Pace(0, 0)
	if stop || math.Abs(wait.Seconds()-math.Sqrt(0.4)) > 1e-4 {
		t.Errorf("Pace(0,0) = %s %v, want %.4fs", wait, stop, math.Sqrt(0.4))
	}
	// Behind the plan: no wait. Ahead of it: wait for the next due time.
	if w, _ := p.Pace(3*time.Second, 5); w != 0 {
		t.Errorf("behind: wait %s", w)
	}
	if w, _ := p.Pace(3*time.Second, 20); math.Abs(w.Seconds()-1.0/30) > 1e-4 {
		t.Errorf("ahead by one: wait %s, want 1/30 s", w)
	}
	if _, stop := p.Pace(4*time.Second, 50); !stop {
		t.Error("no stop at the end of the plan")
	}
	if _, stop := p.Pace(3900*time.Millisecond, 50); !stop {
		t.Error("no stop once every planned hit was sent")
	}
	if r := p.Rate(time.Second); r != 5 {
		t.Errorf("Rate(1s) = %v", r)
	}
}

func TestConversationIDs(t *testing.T) {
	for _, p := range []string{"slack", "telegram", "discord", "whatsapp", "standardwebhooks"} {
		if conversation(p, 1) == conversation(p, 2) || conversation(p, 3) == "" {
			t.Errorf("%s: conversation ids collide", p)
		}
	}
}

// TestPacerFactor: a flood's pacer follows the same plan scaled by its
// factor (ten hits per planned one at factor 10).
func TestPacerFactor(t *testing.T) {
	s := loadtest.Scenario{Stages: []loadtest.Stage{{Rate: 20, Ramp: loadtest.Duration(time.Second), Duration: loadtest.Duration(2 * time.Second)}}}
	base, flood := Pacer{S: s}, Pacer{S: s, Factor: 10}
	for _, at := range []time.Duration{0, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, time.Hour} {
		if got, want := flood.count(at), 10*base.count(at); math.Abs(got-want) > 1e-9 {
			t.Errorf("count(%s) = %v, want %v", at, got, want)
		}
	}
	if r := flood.Rate(2 * time.Second); r != 200 {
		t.Errorf("Rate(2s) = %v, want 200", r)
	}
	// At the hold rate, hits are due every 1/200 s.
	if w, _ := flood.Pace(2*time.Second, uint64(flood.count(2*time.Second))); math.Abs(w.Seconds()-1.0/200) > 1e-4 {
		t.Errorf("ahead by one: wait %s, want 1/200 s", w)
	}
	if _, stop := flood.Pace(3*time.Second, 0); !stop {
		t.Error("no stop at the end of the plan")
	}
}
