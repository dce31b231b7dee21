package rollout

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Matrix case outcomes (Expected / Observed).
const (
	OutcomeAccepted      = "accepted"       // answered 2xx and delivered to the probe agent exactly once
	OutcomeRefused       = "refused"        // refused, and nothing reached the probe agent
	OutcomeDelivered     = "delivered"      // (controls) accepted and delivered
	OutcomeNotDelivered  = "not_delivered"  // accepted or refused, but not delivered (the at-least-once contract: refused or deduplicated)
	OutcomeNotApplicable = "not_applicable" // the provider's scheme has no such case (e.g. no timestamp to be stale)
)

// MatrixCase is one row of a failure-path matrix report.
type MatrixCase struct {
	Name     string `json:"name"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	// Status is the HTTP status the edge (or ingest) answered; Reason the
	// typed refusal reason, or why the case is not applicable.
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	Pass   bool   `json:"pass"`
}

// MatrixCases every report must hold, with what each must show; cases
// marked optional may be not_applicable for a provider (the platform-secret
// cases only while the provider has no platform profile: see
// MatrixRequirements).
var MatrixCases = []struct {
	Name     string
	Expected string
	Optional bool
}{
	{"valid_control", OutcomeDelivered, false},
	{"valid_control_second", OutcomeDelivered, false},
	{"forged_signature", OutcomeRefused, false},
	{"missing_signature", OutcomeRefused, false},
	{"stale_timestamp", OutcomeRefused, true},
	{"future_timestamp", OutcomeRefused, true},
	{"replayed", OutcomeNotDelivered, false},
	{"cross_tenant", OutcomeRefused, false},
	{"rotated_out_secret", OutcomeRefused, true},
	{"revoked_installation", OutcomeRefused, false},
	{"platform_secret_on_byoa", OutcomeRefused, true},
	{"byoa_secret_on_platform", OutcomeRefused, true},
	{"header_spoofing", OutcomeDelivered, false}, // valid request with forged x-switchboard-* headers: delivered as its true tenant only
	{"unattested_to_ingest", OutcomeRefused, false},
	{"oversized", OutcomeRefused, false},
	{"malformed", OutcomeRefused, false},
}

// MatrixReport is what `switchboard matrix run` submits.
type MatrixReport struct {
	Provider          string       `json:"provider"`
	Cases             []MatrixCase `json:"cases"`
	EdgeConfigVersion string       `json:"edge_config_version"`
	BinaryVersion     string       `json:"binary_version"`
	StartedAt         time.Time    `json:"started_at"`
	FinishedAt        time.Time    `json:"finished_at"`
	Edge              string       `json:"edge,omitempty"` // base URL the cases were sent to
}

// PlatformCases are the cases that need a platform profile of the provider
// (its secret on a BYOA path, and a BYOA secret on its shared path).
var PlatformCases = []string{"platform_secret_on_byoa", "byoa_secret_on_platform"}

// MatrixRequirements is what the control plane knows about the provider
// that makes optional cases required.
type MatrixRequirements struct {
	// PlatformProfiles are the ids of the provider's active platform
	// profiles; with any, the PlatformCases must be run (not_applicable is
	// not green).
	PlatformProfiles []string
}

// CheckMatrix recomputes every case's Pass from Expected/Observed (a
// submitted Pass is not trusted) and says whether the report is green: every
// required case present once with the expected outcome, optional cases
// either so or not applicable. The reasons name what is not green.
func CheckMatrix(r *MatrixReport, req MatrixRequirements) (bool, []string) {
	var why []string
	byName := map[string]int{}
	for i := range r.Cases {
		c := &r.Cases[i]
		byName[c.Name]++
		c.Pass = c.Observed == c.Expected
	}
	for _, want := range MatrixCases {
		n := byName[want.Name]
		if n == 0 {
			why = append(why, fmt.Sprintf("case %s missing", want.Name))
			continue
		}
		if n > 1 {
			why = append(why, fmt.Sprintf("case %s appears %d times", want.Name, n))
		}
		for i := range r.Cases {
			c := &r.Cases[i]
			if c.Name != want.Name {
				continue
			}
			if c.Expected != want.Expected {
				why = append(why, fmt.Sprintf("case %s expects %q, must expect %q", c.Name, c.Expected, want.Expected))
				c.Pass = false
				continue
			}
			if want.Optional && c.Observed == OutcomeNotApplicable {
				if len(req.PlatformProfiles) > 0 && isPlatformCase(c.Name) {
					why = append(why, fmt.Sprintf("case %s not run: %s has the platform profile %s (run the matrix with --platform-profile %s --platform-secret-file FILE)",
						c.Name, r.Provider, strings.Join(req.PlatformProfiles, ", "), req.PlatformProfiles[0]))
					continue
				}
				c.Pass = true
				continue
			}
			if !c.Pass {
				why = append(why, fmt.Sprintf("case %s: expected %s, observed %s", c.Name, c.Expected, c.Observed))
			}
		}
	}
	for name := range byName {
		if !knownCase(name) {
			why = append(why, fmt.Sprintf("unknown case %q", name))
		}
	}
	if r.EdgeConfigVersion == "" {
		why = append(why, "edge_config_version missing")
	}
	if r.BinaryVersion == "" {
		why = append(why, "binary_version missing")
	}
	sort.Strings(why)
	return len(why) == 0, why
}

func isPlatformCase(name string) bool {
	for _, c := range PlatformCases {
		if c == name {
			return true
		}
	}
	return false
}

func knownCase(name string) bool {
	for _, c := range MatrixCases {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Comparison operators of a load threshold.
const (
	OpAtLeast = ">="
	OpAtMost  = "<="
	OpEqual   = "=="
)

// Verdict is one load threshold with the figure observed.
type Verdict struct {
	Name     string  `json:"name"`
	Op       string  `json:"op"`
	Limit    float64 `json:"limit"`
	Observed float64 `json:"observed"`
	Unit     string  `json:"unit,omitempty"`
	Pass     bool    `json:"pass"`
}

// Holds recomputes whether the observed figure meets the limit.
func (v Verdict) Holds() bool {
	if math.IsNaN(v.Observed) || math.IsNaN(v.Limit) {
		return false
	}
	switch v.Op {
	case OpAtLeast:
		return v.Observed >= v.Limit
	case OpAtMost:
		return v.Observed <= v.Limit
	case OpEqual:
		return v.Observed == v.Limit
	}
	return false
}

// LoadThresholds every load-stage result must judge.
var LoadThresholds = []string{"valid_2xx_ratio", "edge_p99_ms", "e2e_p99_ms", "forged_accepted", "undelivered", "duplicates"}

// CheckLoad recomputes every verdict's Pass and says whether the result
// passes: every required threshold judged, every one held, and traffic sent.
func CheckLoad(verdicts []Verdict, requests int64) (bool, []string) {
	var why []string
	seen := map[string]bool{}
	for i := range verdicts {
		v := &verdicts[i]
		v.Pass = v.Holds()
		seen[v.Name] = true
		if !v.Pass {
			why = append(why, fmt.Sprintf("%s: observed %v, want %s %v", v.Name, v.Observed, v.Op, v.Limit))
		}
	}
	for _, n := range LoadThresholds {
		if !seen[n] {
			why = append(why, fmt.Sprintf("threshold %s not judged", n))
		}
	}
	if requests <= 0 {
		why = append(why, "no requests were sent")
	}
	sort.Strings(why)
	return len(why) == 0, why
}
