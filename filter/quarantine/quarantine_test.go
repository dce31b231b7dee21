package quarantine

import (
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	p := Policy{Threshold: 2, CoolDown: 30 * time.Second}
	for _, c := range []struct {
		name string
		in   Entry
		ev   Event
		now  int64
		want Entry
		out  Outcome
	}{
		{"arrival, no state", Entry{}, Arrived, 600, Entry{}, Outcome{}},
		{"first refusal opens the window", Entry{}, Refused, 600, Entry{Window: 10, Refused: 1}, Outcome{}},
		{"at the threshold: not yet", Entry{Window: 10, Refused: 1}, Refused, 610, Entry{Window: 10, Refused: 2}, Outcome{}},
		{"over the threshold: quarantine starts", Entry{Window: 10, Refused: 2}, Refused, 620, Entry{Until: 650}, Outcome{Started: true}},
		{"new minute resets the count", Entry{Window: 10, Refused: 2}, Refused, 660, Entry{Window: 11, Refused: 1}, Outcome{}},
		{"arrival in quarantine: 429", Entry{Until: 650}, Arrived, 649, Entry{Until: 650}, Outcome{Quarantined: true}},
		{"arrival at the end of the cool-down: served", Entry{Until: 650}, Arrived, 650, Entry{Until: 650}, Outcome{}},
		{"refusal in quarantine is not counted", Entry{Until: 650}, Refused, 640, Entry{Until: 650}, Outcome{}},
		{"after the cool-down, counting again", Entry{Until: 650}, Refused, 700, Entry{Window: 11, Refused: 1, Until: 650}, Outcome{}},
	} {
		got, out := Step(c.in, c.ev, c.now, p)
		if got != c.want || out != c.out {
			t.Errorf("%s: Step(%+v) = %+v %+v, want %+v %+v", c.name, c.in, got, out, c.want, c.out)
		}
	}
}

func TestDefaults(t *testing.T) {
	if p := (Policy{}).Defaults(); p.Threshold != 100 || p.CoolDown != time.Minute {
		t.Fatalf("defaults %+v", p)
	}
}

func TestSetOnlyQuarantinesTheFloodedID(t *testing.T) {
	s := NewSet(Policy{Threshold: 3, CoolDown: time.Minute})
	started := 0
	for i := 0; i < 10; i++ {
		if ok, until := s.Refuse("flooded", 1000); ok {
			started++
			if until != 1060 {
				t.Fatalf("quarantine until %d, want 1060", until)
			}
		}
	}
	s.Refuse("other", 1000)
	if started != 1 {
		t.Fatalf("quarantine started %d times, want once", started)
	}
	if !s.Arrive("flooded", 1001) || s.Arrive("other", 1001) || s.Arrive("never-seen", 1001) {
		t.Fatal("only the flooded id is quarantined")
	}
	if s.Arrive("flooded", 1060) {
		t.Fatal("quarantine outlived its cool-down")
	}
	if q := s.Quarantined(1001); len(q) != 1 || q[0] != "flooded" {
		t.Fatalf("Quarantined %v", q)
	}
}
