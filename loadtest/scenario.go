// Package loadtest is the load engine's pure core: scenario files
// (loadtest/scenarios/*.json: provider mix, rate stages with ramps, share of
// forged, stale and cross-tenant traffic, conversations, thresholds), the
// arrival-rate plan, the evaluation of thresholds over what a run measured,
// and the result (a JSON document that is also rollout evidence, and a
// summary table). The engine that sends the traffic (open loop, constant
// arrival rate, on github.com/tsenart/vegeta/v12) is loadtest/engine.
package loadtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Scenario is one load scenario.
type Scenario struct {
	Name string `json:"name"`
	// Providers maps provider to its share of the traffic (weights, any scale).
	Providers map[string]float64 `json:"providers"`
	// Stages run one after the other: each ramps linearly from the previous
	// stage's rate (0 before the first) to Rate over Ramp, then holds Rate
	// for Duration.
	Stages []Stage `json:"stages"`
	// Shares of requests that are forged (wrong signature), stale (signed
	// long ago) or cross-tenant (signed by one tenant, sent to another's
	// ingress); the rest are valid.
	ForgedShare      float64 `json:"forged_share"`
	StaleShare       float64 `json:"stale_share"`
	CrossTenantShare float64 `json:"cross_tenant_share"`
	// Conversations is how many distinct conversations (channels) the valid
	// traffic is spread over.
	Conversations int `json:"conversations"`
	// Tenants is how many probe organisations the traffic comes from [2].
	Tenants int `json:"tenants,omitempty"`
	// Drain bounds the wait for deliveries after the last request [30s].
	Drain Duration `json:"drain,omitempty"`
	// Noisy makes the first tenant misbehave (the fairness scenarios):
	// the others' end-to-end p99 is then judged on its own.
	Noisy      *Noisy     `json:"noisy,omitempty"`
	Thresholds Thresholds `json:"thresholds"`
	// Flood, when set, sends forged requests to one probe ingress id beside
	// the scenario's traffic, which then goes only to the other ingress ids
	// of that provider: the forged-flood quarantine's measurement (does the
	// valid traffic keep its p99?).
	Flood *Flood `json:"flood,omitempty"`
}

// Flood is forged traffic (wrong signing secret) to one ingress id.
type Flood struct {
	Provider string `json:"provider"` // one of the scenario's providers
	Tenant   int    `json:"tenant"`   // which probe installation (0-based) is flooded
	// Factor is the flood's arrival rate as a multiple of the scenario's
	// planned rate at each instant (10: ten forged requests per planned one).
	Factor float64 `json:"factor"`
	// BodyBytes pads the forged body to about this size (0: an ordinary
	// event): what verifying a flood costs grows with it, answering it
	// 429 before the body is read does not.
	BodyBytes int `json:"body_bytes,omitempty"`
}

// Bounds of a flood.
const (
	MaxFloodFactor    = 100
	MaxFloodBodyBytes = 1 << 20 // the edge's default body limit
)

// Noisy is the misbehaving first tenant of a fairness scenario.
type Noisy struct {
	// Weight is its traffic over each other tenant's (10: ten times as
	// much) [1].
	Weight float64 `json:"weight,omitempty"`
	// AgentDelay is how long its agent takes to answer each delivery.
	AgentDelay Duration `json:"agent_delay,omitempty"`
	// Limits are set on its organisation through the API before the run
	// (nil: none, the deployment's defaults apply).
	Limits *NoisyLimits `json:"limits,omitempty"`
}

// NoisyLimits are the organisation limits of PUT /v1/orgs/{id}/limits.
type NoisyLimits struct {
	RatePerSec  int `json:"rate_per_sec"`
	Burst       int `json:"burst"`
	MaxInFlight int `json:"max_in_flight"`
}

// Bounds of a Noisy tenant.
const (
	MaxNoisyWeight     = 1000
	MaxNoisyAgentDelay = time.Minute
)

// Stage is one rate stage.
type Stage struct {
	Rate     float64  `json:"rate"` // requests per second
	Duration Duration `json:"duration"`
	Ramp     Duration `json:"ramp,omitempty"`
}

// Thresholds a run must meet.
type Thresholds struct {
	// Valid2xxRatio: share of valid requests the edge answered 2xx [0.999].
	Valid2xxRatio *float64 `json:"valid_2xx_ratio,omitempty"`
	// EdgeP99: p99 of the edge's answer time over all requests.
	EdgeP99 Duration `json:"edge_p99"`
	// E2EP99: p99 from sending a valid request to the probe agent's receipt.
	E2EP99 Duration `json:"e2e_p99"`
	// MaxDuplicateRatio: redeliveries over deliveries that at-least-once
	// delivery may add [0.01].
	MaxDuplicateRatio *float64 `json:"max_duplicate_ratio,omitempty"`
	// OthersE2EP99: with a Noisy tenant, the p99 end-to-end latency of the
	// other tenants' events (required with noisy).
	OthersE2EP99 Duration `json:"others_e2e_p99,omitempty"`
}

// Duration is a time.Duration written as "1.5s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`want a duration string such as "1.5s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a form such as 1.5s or 250ms", s)
	}
	*d = Duration(v)
	return nil
}

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Limits of a scenario (a file is outside input).
const (
	MaxRate          = 20000
	MaxStages        = 64
	MaxTotalDuration = 6 * time.Hour
	MaxConversations = 1_000_000
	MaxTenants       = 64
)

// ParseScenario reads a scenario file strictly: unknown fields, trailing
// data and bad values are errors naming the field. known reports whether a
// provider can be load-tested (nil: any).
func ParseScenario(data []byte, known func(string) bool) (Scenario, error) {
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("scenario: %s", jsonMessage(err))
	}
	if dec.More() {
		return s, errors.New("scenario: trailing data after the JSON object")
	}
	if err := s.Validate(known); err != nil {
		return s, err
	}
	return s, nil
}

func jsonMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, err)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s: want a JSON %s", te.Field, te.Type.Kind())
		}
		return "want a JSON object"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return msg
}

// Validate checks a scenario and fills defaults.
func (s *Scenario) Validate(known func(string) bool) error {
	fail := func(field, format string, a ...any) error {
		return fmt.Errorf("scenario %s: %s", field, fmt.Sprintf(format, a...))
	}
	if s.Name == "" || len(s.Name) > 100 {
		return fail("name", "required, at most 100 characters")
	}
	if len(s.Providers) == 0 {
		return fail("providers", "name at least one provider with its share, e.g. {\"slack\": 1}")
	}
	total := 0.0
	for _, p := range s.ProviderNames() {
		w := s.Providers[p]
		if known != nil && !known(p) {
			return fail("providers."+p, "unknown or unsupported provider")
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return fail("providers."+p, "share must be a positive number, got %v", w)
		}
		total += w
	}
	if len(s.Stages) == 0 || len(s.Stages) > MaxStages {
		return fail("stages", "between 1 and %d stages", MaxStages)
	}
	var sum time.Duration
	for i, st := range s.Stages {
		f := fmt.Sprintf("stages[%d]", i)
		if !(st.Rate >= 0) || st.Rate > MaxRate {
			return fail(f+".rate", "requests per second between 0 and %d, got %v", MaxRate, st.Rate)
		}
		if st.Duration < 0 || st.Ramp < 0 {
			return fail(f, "durations must not be negative")
		}
		if st.Duration.D()+st.Ramp.D() <= 0 {
			return fail(f+".duration", "a stage lasts some time (duration or ramp)")
		}
		sum += st.Duration.D() + st.Ramp.D()
	}
	if sum > MaxTotalDuration {
		return fail("stages", "last %s in all, at most %s", sum, MaxTotalDuration)
	}
	shares := map[string]float64{"forged_share": s.ForgedShare, "stale_share": s.StaleShare, "cross_tenant_share": s.CrossTenantShare}
	for _, k := range []string{"forged_share", "stale_share", "cross_tenant_share"} {
		if v := shares[k]; !(v >= 0 && v <= 1) {
			return fail(k, "a fraction between 0 and 1, got %v", v)
		}
	}
	if bad := s.ForgedShare + s.StaleShare + s.CrossTenantShare; bad >= 1 {
		return fail("forged_share", "forged, stale and cross-tenant shares add up to %v: valid traffic must remain", bad)
	}
	if s.Conversations < 1 || s.Conversations > MaxConversations {
		return fail("conversations", "between 1 and %d, got %d", MaxConversations, s.Conversations)
	}
	if s.Tenants == 0 {
		s.Tenants = 2
	}
	if s.Tenants < 1 || s.Tenants > MaxTenants {
		return fail("tenants", "between 1 and %d, got %d", MaxTenants, s.Tenants)
	}
	if s.CrossTenantShare > 0 && s.Tenants < 2 {
		return fail("tenants", "cross-tenant traffic needs at least 2 tenants")
	}
	if s.Drain == 0 {
		s.Drain = Duration(30 * time.Second)
	}
	if s.Drain < 0 || s.Drain.D() > time.Hour {
		return fail("drain", "between 0 and 1h")
	}
	if f := s.Flood; f != nil {
		if _, ok := s.Providers[f.Provider]; !ok {
			return fail("flood.provider", "one of the scenario's providers, got %q", f.Provider)
		}
		if s.Tenants < 2 {
			return fail("tenants", "a flood needs at least 2 tenants (the flooded one and the others)")
		}
		if f.Tenant < 0 || f.Tenant >= s.Tenants {
			return fail("flood.tenant", "between 0 and %d, got %d", s.Tenants-1, f.Tenant)
		}
		if !(f.Factor > 0) || f.Factor > MaxFloodFactor {
			return fail("flood.factor", "a multiple of the planned rate above 0 and at most %d, got %v", MaxFloodFactor, f.Factor)
		}
		if f.BodyBytes < 0 || f.BodyBytes > MaxFloodBodyBytes {
			return fail("flood.body_bytes", "between 0 and %d, got %d", MaxFloodBodyBytes, f.BodyBytes)
		}
		for i, st := range s.Stages {
			if st.Rate*f.Factor > MaxRate {
				return fail(fmt.Sprintf("stages[%d].rate", i), "with the flood's factor %v over %d requests per second", f.Factor, MaxRate)
			}
		}
	}
	if n := s.Noisy; n != nil {
		if s.Flood != nil {
			return fail("noisy", "not in the same scenario as a flood")
		}
		if s.Tenants < 2 {
			return fail("noisy", "needs at least 2 tenants (the noisy one and the others)")
		}
		if n.Weight == 0 {
			n.Weight = 1
		}
		if !(n.Weight >= 1 && n.Weight <= MaxNoisyWeight) {
			return fail("noisy.weight", "between 1 and %d, got %v", MaxNoisyWeight, n.Weight)
		}
		if n.AgentDelay < 0 || n.AgentDelay.D() > MaxNoisyAgentDelay {
			return fail("noisy.agent_delay", "between 0 and %s", MaxNoisyAgentDelay)
		}
		if l := n.Limits; l != nil && (l.RatePerSec < 0 || l.Burst < 0 || l.MaxInFlight < 0) {
			return fail("noisy.limits", "limits are integers >= 0 (0: not set)")
		}
		if s.Thresholds.OthersE2EP99 <= 0 {
			return fail("thresholds.others_e2e_p99", "required with noisy, e.g. \"2s\"")
		}
	} else if s.Thresholds.OthersE2EP99 != 0 {
		return fail("thresholds.others_e2e_p99", "only with noisy")
	}
	th := &s.Thresholds
	if th.Valid2xxRatio == nil {
		v := 0.999
		th.Valid2xxRatio = &v
	}
	if v := *th.Valid2xxRatio; !(v >= 0 && v <= 1) {
		return fail("thresholds.valid_2xx_ratio", "a fraction between 0 and 1, got %v", v)
	}
	if th.MaxDuplicateRatio == nil {
		v := 0.01
		th.MaxDuplicateRatio = &v
	}
	if v := *th.MaxDuplicateRatio; !(v >= 0 && v <= 1) {
		return fail("thresholds.max_duplicate_ratio", "a fraction between 0 and 1, got %v", v)
	}
	if th.EdgeP99 <= 0 {
		return fail("thresholds.edge_p99", "required, e.g. \"250ms\"")
	}
	if th.E2EP99 <= 0 {
		return fail("thresholds.e2e_p99", "required, e.g. \"2s\"")
	}
	return nil
}

// ProviderNames are the scenario's providers in name order.
func (s Scenario) ProviderNames() []string {
	out := make([]string, 0, len(s.Providers))
	for p := range s.Providers {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Duration is how long the stages last in all.
func (s Scenario) Duration() time.Duration {
	var d time.Duration
	for _, st := range s.Stages {
		d += st.Ramp.D() + st.Duration.D()
	}
	return d
}

// RateAt is the planned arrival rate (per second) at elapsed t: stage by
// stage, a linear ramp from the previous rate, then the stage's rate; 0 after
// the last stage.
func (s Scenario) RateAt(t time.Duration) float64 {
	prev := 0.0
	for _, st := range s.Stages {
		if r := st.Ramp.D(); r > 0 {
			if t < r {
				return prev + (st.Rate-prev)*float64(t)/float64(r)
			}
			t -= r
		}
		if t < st.Duration.D() {
			return st.Rate
		}
		t -= st.Duration.D()
		prev = st.Rate
	}
	return 0
}

// Expected is how many requests the plan sends (the integral of RateAt).
func (s Scenario) Expected() float64 {
	prev, n := 0.0, 0.0
	for _, st := range s.Stages {
		n += (prev + st.Rate) / 2 * st.Ramp.D().Seconds()
		n += st.Rate * st.Duration.D().Seconds()
		prev = st.Rate
	}
	return n
}

// Kind of a request.
type Kind string

const (
	KindValid       Kind = "valid"
	KindForged      Kind = "forged"
	KindStale       Kind = "stale"
	KindCrossTenant Kind = "cross_tenant"
)

// KindOf picks the kind of the request whose uniform draw is u in [0,1).
func (s Scenario) KindOf(u float64) Kind {
	switch {
	case u < s.ForgedShare:
		return KindForged
	case u < s.ForgedShare+s.StaleShare:
		return KindStale
	case u < s.ForgedShare+s.StaleShare+s.CrossTenantShare:
		return KindCrossTenant
	}
	return KindValid
}

// TenantOf picks the tenant of a request to provider for a uniform draw u
// in [0,1): any of Tenants, but never the flooded one of a flood's provider;
// with a Noisy first tenant, it weighs Noisy.Weight (noisyTenantOf).
func (s Scenario) TenantOf(provider string, u float64) int {
	if s.Noisy != nil {
		return s.noisyTenantOf(u)
	}
	n := s.Tenants
	flooded := -1
	if s.Flood != nil && s.Flood.Provider == provider {
		n, flooded = n-1, s.Flood.Tenant
	}
	t := min(int(u*float64(n)), n-1)
	if flooded >= 0 && t >= flooded {
		t++
	}
	return t
}

// noisyTenantOf picks the tenant (0..Tenants-1) for a uniform draw u in
// [0,1) when the first tenant is Noisy: it weighs Noisy.Weight, the others 1.
func (s Scenario) noisyTenantOf(u float64) int {
	w := 1.0
	if s.Noisy != nil {
		w = s.Noisy.Weight
	}
	total := w + float64(s.Tenants-1)
	x := u * total
	if x < w {
		return 0
	}
	t := 1 + int(x-w)
	if t >= s.Tenants {
		t = s.Tenants - 1
	}
	return t
}

// ProviderOf picks the provider for a uniform draw u in [0,1) by share.
func (s Scenario) ProviderOf(u float64) string {
	names := s.ProviderNames()
	total := 0.0
	for _, p := range names {
		total += s.Providers[p]
	}
	acc := 0.0
	for _, p := range names {
		acc += s.Providers[p] / total
		if u < acc {
			return p
		}
	}
	return names[len(names)-1]
}
