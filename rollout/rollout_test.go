package rollout

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestGate(t *testing.T) {
	canary := Stage{Provider: "slack", Stage: StageCanary, CanaryOrgs: []string{"org_a"}, ChangedAt: t0}
	m := func(id string, passed bool, stage string, at time.Duration) Evidence {
		return Evidence{ID: id, Provider: "slack", Kind: KindMatrix, Passed: passed, Stage: stage, RecordedAt: t0.Add(at)}
	}
	l := func(id string, passed bool, stage string, at time.Duration) Evidence {
		return Evidence{ID: id, Provider: "slack", Kind: KindLoad, Passed: passed, Stage: stage, RecordedAt: t0.Add(at)}
	}
	now := t0.Add(2 * time.Hour)
	cases := []struct {
		name    string
		st      Stage
		ev      []Evidence
		now     time.Time
		maxAge  time.Duration
		allowed bool
		matrix  string
		load    string
		missing []string // substrings, one per Missing entry, in order
	}{
		{"no evidence", canary, nil, now, 0, false, "", "", []string{"no green failure-path matrix report for slack", "no passing load-stage result for slack"}},
		{"both fresh", canary, []Evidence{m("m1", true, StageCanary, time.Hour), l("l1", true, StageCanary, time.Hour)}, now, 0, true, "m1", "l1", nil},
		{"newest usable chosen", canary, []Evidence{m("m1", true, StageCanary, time.Hour), m("m2", true, StageCanary, 90*time.Minute), l("l1", true, StageCanary, time.Hour)}, now, 0, true, "m2", "l1", nil},
		{"failing matrix", canary, []Evidence{m("m1", false, StageCanary, time.Hour), l("l1", true, StageCanary, time.Hour)}, now, 0, false, "", "l1", []string{"m1 did not pass"}},
		{"older failure, newer green", canary, []Evidence{m("m1", false, StageCanary, time.Hour), m("m2", true, StageCanary, 80*time.Minute), l("l1", true, StageCanary, time.Hour)}, now, 0, true, "m2", "l1", nil},
		{"load missing", canary, []Evidence{m("m1", true, StageCanary, time.Hour)}, now, 0, false, "m1", "", []string{"no passing load-stage result"}},
		{"recorded at off", canary, []Evidence{m("m1", true, StageOff, time.Hour), l("l1", true, StageCanary, time.Hour)}, now, 0, false, "", "l1", []string{`recorded at stage "off", not canary`}},
		{"recorded at on", canary, []Evidence{m("m1", true, StageCanary, time.Hour), l("l1", true, StageOn, time.Hour)}, now, 0, false, "m1", "", []string{`recorded at stage "on"`}},
		{"predates stage change", canary, []Evidence{m("m1", true, StageCanary, -time.Minute), l("l1", true, StageCanary, time.Hour)}, now, 0, false, "", "l1", []string{"m1 predates the last stage or canary change"}},
		{"same instant as change", canary, []Evidence{m("m1", true, StageCanary, 0), l("l1", true, StageCanary, time.Hour)}, now, 0, false, "", "l1", []string{"predates"}},
		{"too old by default", canary, []Evidence{m("m1", true, StageCanary, time.Hour), l("l1", true, StageCanary, time.Hour)}, t0.Add(26 * time.Hour), 0, false, "", "", []string{"m1 is older than 24h0m0s", "l1 is older than 24h0m0s"}},
		{"configured age", canary, []Evidence{m("m1", true, StageCanary, time.Hour), l("l1", true, StageCanary, 100*time.Minute)}, now, 30 * time.Minute, false, "", "l1", []string{"m1 is older than 30m0s"}},
		{"other provider ignored", canary, []Evidence{{ID: "m9", Provider: "discord", Kind: KindMatrix, Passed: true, Stage: StageCanary, RecordedAt: t0.Add(time.Hour)}, l("l1", true, StageCanary, time.Hour)}, now, 0, false, "", "l1", []string{"no green failure-path matrix report for slack"}},
		{"not at canary", Stage{Provider: "slack", Stage: StageOff, ChangedAt: t0}, []Evidence{m("m1", true, StageCanary, time.Hour), l("l1", true, StageCanary, time.Hour)}, now, 0, false, "m1", "l1", []string{`slack is at stage "off": promotion is from canary only`}},
		{"unset stage", Stage{Provider: "slack", ChangedAt: t0}, nil, now, 0, false, "", "", []string{`stage "unset"`, "matrix", "load"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Gate(c.st, c.ev, c.now, c.maxAge)
			if d.Allowed != c.allowed || d.MatrixID != c.matrix || d.LoadID != c.load {
				t.Fatalf("Gate = %+v, want allowed=%v matrix=%q load=%q", d, c.allowed, c.matrix, c.load)
			}
			if len(d.Missing) != len(c.missing) {
				t.Fatalf("missing = %q, want %d entries like %q", d.Missing, len(c.missing), c.missing)
			}
			for i, sub := range c.missing {
				if !strings.Contains(d.Missing[i], sub) {
					t.Errorf("missing[%d] = %q, want it to contain %q", i, d.Missing[i], sub)
				}
			}
		})
	}
}

func TestRollback(t *testing.T) {
	cases := []struct {
		cur, prev, to string
		orgs          bool
		want          string
		err           string
	}{
		{StageCanary, StageOff, "", true, StageOff, ""},
		{StageOn, StageCanary, "", true, StageCanary, ""},
		{StageOn, StageCanary, "", false, StageOff, ""},
		{StageOn, StageOff, "", true, StageOff, ""},
		{StageOn, StageCanary, StageOff, true, StageOff, ""},
		{StageOff, "", "", false, StageOff, ""},
		{"", "", "", false, StageOff, ""},
		{StageOn, "", StageCanary, true, StageCanary, ""},
		{StageOn, "", StageCanary, false, "", "needs canary organisations"},
		{StageCanary, "", StageOn, true, "", "goes down"},
		{StageOff, "", StageCanary, true, "", "goes down"},
		{StageOn, "", "maybe", true, "", "must be off or canary"},
	}
	for _, c := range cases {
		got, err := Rollback(c.cur, c.prev, c.to, c.orgs)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Rollback(%q,%q,%q) err = %v, want %q", c.cur, c.prev, c.to, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Rollback(%q,%q,%q) = %q, %v; want %q", c.cur, c.prev, c.to, got, err, c.want)
		}
	}
}

func TestCheckCanaryOrgs(t *testing.T) {
	if CheckCanaryOrgs(nil) == nil {
		t.Error("empty canary accepted")
	}
	if err := CheckCanaryOrgs([]string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("duplicate: %v", err)
	}
	if err := CheckCanaryOrgs([]string{"a", "b"}); err != nil {
		t.Error(err)
	}
	if !SameOrgs([]string{"b", "a"}, []string{"a", "b"}) || SameOrgs([]string{"a"}, []string{"a", "b"}) {
		t.Error("SameOrgs")
	}
}
