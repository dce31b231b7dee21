// Package rollout is the pure core of canary-first provider rollout: the
// stage transitions an operator may make, the promotion gate over recorded
// evidence (failure-path matrix reports and load-stage results), and the
// canary analysis that decides an automatic rollback from metric samples.
// Nothing here does I/O; the API and the control plane's analyser feed it data.
package rollout

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stages (the same words as store.Stage*).
const (
	StageOff    = "off"
	StageCanary = "canary"
	StageOn     = "on"
)

// ValidStage reports whether s is one of off, canary, on.
func ValidStage(s string) bool { return s == StageOff || s == StageCanary || s == StageOn }

// Evidence kinds.
const (
	KindMatrix = "matrix" // live failure-path matrix report
	KindLoad   = "load"   // load-stage result
)

// DefaultMaxAge is how old evidence may be for a promotion by default.
const DefaultMaxAge = 24 * time.Hour

// Stage is a provider's stage as the gate sees it.
type Stage struct {
	Provider   string
	Stage      string
	CanaryOrgs []string
	// ChangedAt is the last change of the stage or of its canary orgs.
	ChangedAt time.Time
}

// Evidence is one recorded piece of evidence.
type Evidence struct {
	ID         string
	Provider   string
	Kind       string
	Passed     bool   // matrix: every case as expected; load: every threshold met
	Stage      string // the provider's stage when it was recorded
	RecordedAt time.Time
}

// Decision is the gate's answer.
type Decision struct {
	Allowed bool
	// Missing names, one sentence each, what keeps the promotion back.
	Missing []string
	// MatrixID and LoadID are the evidence the decision rests on (the newest
	// usable of each kind; "" when none).
	MatrixID, LoadID string
}

// Gate decides a promotion of st (canary → on) over the provider's evidence
// at now: it needs a green matrix report and a passing load-stage result,
// both recorded while the provider was at canary, after st.ChangedAt, and at
// most maxAge old (maxAge <= 0: DefaultMaxAge).
func Gate(st Stage, evidence []Evidence, now time.Time, maxAge time.Duration) Decision {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	var d Decision
	if st.Stage != StageCanary {
		d.Missing = append(d.Missing, fmt.Sprintf("%s is at stage %q: promotion is from canary only (start with `switchboard rollout canary`)", st.Provider, stageWord(st.Stage)))
	}
	for _, kind := range []string{KindMatrix, KindLoad} {
		id, why := pick(st, evidence, kind, now, maxAge)
		if why != "" {
			d.Missing = append(d.Missing, why)
			continue
		}
		if kind == KindMatrix {
			d.MatrixID = id
		} else {
			d.LoadID = id
		}
	}
	d.Allowed = len(d.Missing) == 0
	return d
}

func stageWord(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

func kindName(kind string) string {
	if kind == KindMatrix {
		return "green failure-path matrix report"
	}
	return "passing load-stage result"
}

// pick finds the newest usable evidence of kind, or says why there is none
// (naming the closest miss).
func pick(st Stage, evidence []Evidence, kind string, now time.Time, maxAge time.Duration) (string, string) {
	var cands []Evidence
	for _, e := range evidence {
		if e.Kind == kind && (e.Provider == "" || e.Provider == st.Provider) {
			cands = append(cands, e)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].RecordedAt.After(cands[j].RecordedAt) })
	name := kindName(kind)
	if len(cands) == 0 {
		return "", fmt.Sprintf("no %s for %s", name, st.Provider)
	}
	var reasons []string
	for _, e := range cands {
		switch {
		case !e.Passed:
			reasons = append(reasons, e.ID+" did not pass")
		case e.Stage != StageCanary:
			reasons = append(reasons, fmt.Sprintf("%s was recorded at stage %q, not canary", e.ID, stageWord(e.Stage)))
		case !e.RecordedAt.After(st.ChangedAt):
			reasons = append(reasons, fmt.Sprintf("%s predates the last stage or canary change (%s)", e.ID, st.ChangedAt.UTC().Format(time.RFC3339)))
		case now.Sub(e.RecordedAt) > maxAge:
			reasons = append(reasons, fmt.Sprintf("%s is older than %s", e.ID, maxAge))
		default:
			return e.ID, ""
		}
	}
	if len(reasons) > 3 {
		reasons = append(reasons[:3], fmt.Sprintf("%d more", len(reasons)-3))
	}
	return "", fmt.Sprintf("no usable %s for %s: %s", name, st.Provider, strings.Join(reasons, "; "))
}

// Action is an operator's stage change.
type Action string

const (
	ActionCanary   Action = "canary"   // to canary with named orgs (from off, canary or on)
	ActionPromote  Action = "promote"  // canary → on, gated
	ActionRollback Action = "rollback" // to the previous stage, or to off
)

// Rollback is the stage a rollback goes to from cur: to (when given: off,
// or canary from on) or else the previous stage; from canary the previous
// is off, from on it is canary when there are canary orgs to go back to,
// else off. A rollback never goes up.
func Rollback(cur, previous, to string, haveCanaryOrgs bool) (string, error) {
	rank := map[string]int{StageOff: 0, StageCanary: 1, StageOn: 2, "": 2}
	if to != "" {
		if !ValidStage(to) {
			return "", fmt.Errorf("--to %q: must be off or canary", to)
		}
		if to == StageOn || rank[to] > rank[cur] && cur != "" {
			return "", fmt.Errorf("a rollback goes down: %s → %s is not one", stageWord(cur), to)
		}
		if to == StageCanary && !haveCanaryOrgs {
			return "", fmt.Errorf("rollback to canary needs canary organisations; none are recorded")
		}
		return to, nil
	}
	switch cur {
	case StageOn:
		if previous == StageCanary && haveCanaryOrgs {
			return StageCanary, nil
		}
		return StageOff, nil
	default:
		return StageOff, nil
	}
}

// CheckCanaryOrgs validates a canary's organisation list.
func CheckCanaryOrgs(orgs []string) error {
	if len(orgs) == 0 {
		return fmt.Errorf("a canary names at least one organisation")
	}
	seen := map[string]bool{}
	for _, o := range orgs {
		if seen[o] {
			return fmt.Errorf("duplicate organisation %q", o)
		}
		seen[o] = true
	}
	return nil
}

// SameOrgs reports whether a and b hold the same org ids.
func SameOrgs(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(x, y)
}
