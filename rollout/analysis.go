package rollout

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SLO are the thresholds a canary's traffic must stay within during one
// analysis interval. A rate is a fraction (0.01 = 1 %).
type SLO struct {
	// MaxRefusalRate bounds, per refusal reason, the share of the
	// provider's edge requests refused for that reason. Reasons in
	// IgnoreReasons are not counted (traffic of organisations outside the
	// canary is refused by design).
	MaxRefusalRate float64  `json:"max_refusal_rate"`
	IgnoreReasons  []string `json:"ignore_reasons,omitempty"`
	// MaxIngest5xxRate bounds ingest's 5xx answers over its requests.
	MaxIngest5xxRate float64 `json:"max_ingest_5xx_rate"`
	// MaxDeliveryFailureRate bounds agent deliveries answered non-2xx or
	// failed over all deliveries.
	MaxDeliveryFailureRate float64 `json:"max_delivery_failure_rate"`
	// MaxNewDeadLetters bounds the dead letters added during the interval.
	MaxNewDeadLetters float64 `json:"max_new_dead_letters"`
	// MaxDeliveryP99 bounds the p99 of delivery latency (ingest acceptance
	// to the agent's answer) during the interval.
	MaxDeliveryP99 Duration `json:"max_delivery_p99"`
	// MinRequests: with fewer edge requests and deliveries in an interval
	// the rates are not judged (the check passes as "no traffic").
	MinRequests float64 `json:"min_requests"`
}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// AnalysisConfig is one provider's canary analysis.
type AnalysisConfig struct {
	Interval Duration `json:"interval"`
	// FailureLimit is how many consecutive failed checks roll back.
	FailureLimit int `json:"failure_limit"`
	SLO          SLO `json:"slo"`
}

// DefaultAnalysis are safe defaults: a check a minute, rollback after three
// failed checks in a row, 5 % refusals of any one reason, 1 % ingest 5xx,
// 5 % failed deliveries, no new dead letter, delivery p99 under 10 s.
func DefaultAnalysis() AnalysisConfig {
	return AnalysisConfig{
		Interval:     Duration(time.Minute),
		FailureLimit: 3,
		SLO: SLO{
			MaxRefusalRate:         0.05,
			IgnoreReasons:          []string{"unknown_ingress", "provider_canary", "provider_off", "no_config"},
			MaxIngest5xxRate:       0.01,
			MaxDeliveryFailureRate: 0.05,
			MaxNewDeadLetters:      0,
			MaxDeliveryP99:         Duration(10 * time.Second),
			MinRequests:            1,
		},
	}
}

// AnalysisFile is the JSON file of per-provider analysis settings: fields
// left out of a provider's entry take the default's value.
type AnalysisFile struct {
	Default   *AnalysisConfig            `json:"default,omitempty"`
	Providers map[string]json.RawMessage `json:"providers,omitempty"`
}

// AnalysisSet resolves a provider's analysis settings.
type AnalysisSet struct {
	Default   AnalysisConfig
	Providers map[string]AnalysisConfig
}

// For is provider's settings.
func (s AnalysisSet) For(provider string) AnalysisConfig {
	if c, ok := s.Providers[provider]; ok {
		return c
	}
	return s.Default
}

// ParseAnalysis reads an analysis file (empty data: the defaults). Unknown
// fields and bad values are errors naming the field.
func ParseAnalysis(data []byte, known func(provider string) bool) (AnalysisSet, error) {
	set := AnalysisSet{Default: DefaultAnalysis(), Providers: map[string]AnalysisConfig{}}
	if len(strings.TrimSpace(string(data))) == 0 {
		return set, nil
	}
	var raw struct {
		Default   json.RawMessage            `json:"default"`
		Providers map[string]json.RawMessage `json:"providers"`
	}
	if err := strictJSON(data, &raw); err != nil {
		return set, fmt.Errorf("analysis settings: %w", err)
	}
	if len(raw.Default) > 0 {
		c := DefaultAnalysis()
		if err := strictJSON(raw.Default, &c); err != nil {
			return set, fmt.Errorf("analysis settings: default: %w", err)
		}
		if err := c.Validate(); err != nil {
			return set, fmt.Errorf("analysis settings: default: %w", err)
		}
		set.Default = c
	}
	names := make([]string, 0, len(raw.Providers))
	for p := range raw.Providers {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if known != nil && !known(p) {
			return set, fmt.Errorf("analysis settings: providers: unknown provider %q", p)
		}
		c := set.Default
		c.SLO.IgnoreReasons = append([]string(nil), c.SLO.IgnoreReasons...)
		if err := strictJSON(raw.Providers[p], &c); err != nil {
			return set, fmt.Errorf("analysis settings: providers.%s: %w", p, err)
		}
		if err := c.Validate(); err != nil {
			return set, fmt.Errorf("analysis settings: providers.%s: %w", p, err)
		}
		set.Providers[p] = c
	}
	return set, nil
}

// Validate checks the settings are usable.
func (c AnalysisConfig) Validate() error {
	switch {
	case time.Duration(c.Interval) < 100*time.Millisecond:
		return fmt.Errorf("interval: at least 100ms, got %s", time.Duration(c.Interval))
	case c.FailureLimit < 1:
		return fmt.Errorf("failure_limit: at least 1, got %d", c.FailureLimit)
	}
	for name, v := range map[string]float64{"max_refusal_rate": c.SLO.MaxRefusalRate, "max_ingest_5xx_rate": c.SLO.MaxIngest5xxRate, "max_delivery_failure_rate": c.SLO.MaxDeliveryFailureRate} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return fmt.Errorf("slo.%s: a fraction between 0 and 1, got %v", name, v)
		}
	}
	if c.SLO.MaxNewDeadLetters < 0 || c.SLO.MinRequests < 0 || c.SLO.MaxDeliveryP99 < 0 {
		return fmt.Errorf("slo: negative threshold")
	}
	return nil
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	Le    float64 // upper bound in seconds (+Inf last)
	Count float64
}

// Sample is one reading of the processes' cumulative metrics for a provider.
type Sample struct {
	At          time.Time
	EdgeTotal   float64            // edge requests of the provider
	EdgeRefused map[string]float64 // by reason
	IngestTotal float64
	Ingest5xx   float64
	Deliveries  float64 // agent deliveries of the provider
	Failures    float64 // of which answered non-2xx or failed
	DeadLetters float64 // dead letters (all shards) now
	Latency     []Bucket
}

// Check is the verdict of one interval.
type Check struct {
	Failed    bool               `json:"failed"`
	Failures  []string           `json:"failures,omitempty"`
	Figures   map[string]float64 `json:"figures"`
	NoTraffic bool               `json:"no_traffic,omitempty"`
}

// Evaluate judges the interval between prev and cur against slo.
func Evaluate(prev, cur Sample, slo SLO) Check {
	c := Check{Figures: map[string]float64{}}
	fail := func(format string, a ...any) {
		c.Failed = true
		c.Failures = append(c.Failures, fmt.Sprintf(format, a...))
	}
	edge := nonneg(cur.EdgeTotal - prev.EdgeTotal)
	deliveries := nonneg(cur.Deliveries - prev.Deliveries)
	ingest := nonneg(cur.IngestTotal - prev.IngestTotal)
	c.Figures["edge_requests"] = edge
	c.Figures["ingest_requests"] = ingest
	c.Figures["deliveries"] = deliveries
	dead := nonneg(cur.DeadLetters - prev.DeadLetters)
	c.Figures["new_dead_letters"] = dead
	if dead > slo.MaxNewDeadLetters {
		fail("%v new dead letters (at most %v)", dead, slo.MaxNewDeadLetters)
	}
	if edge < slo.MinRequests && deliveries < slo.MinRequests && ingest < slo.MinRequests {
		c.NoTraffic = !c.Failed
		return c
	}
	if edge >= slo.MinRequests && edge > 0 {
		reasons := make([]string, 0, len(cur.EdgeRefused))
		for r := range cur.EdgeRefused {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			if contains(slo.IgnoreReasons, r) {
				continue
			}
			n := nonneg(cur.EdgeRefused[r] - prev.EdgeRefused[r])
			if n == 0 {
				continue
			}
			rate := n / edge
			c.Figures["edge_refusal_rate:"+r] = rate
			if rate > slo.MaxRefusalRate {
				fail("edge refusal rate for %s %.2f%% (at most %.2f%%)", r, 100*rate, 100*slo.MaxRefusalRate)
			}
		}
	}
	if ingest >= slo.MinRequests && ingest > 0 {
		rate := nonneg(cur.Ingest5xx-prev.Ingest5xx) / ingest
		c.Figures["ingest_5xx_rate"] = rate
		if rate > slo.MaxIngest5xxRate {
			fail("ingest 5xx rate %.2f%% (at most %.2f%%)", 100*rate, 100*slo.MaxIngest5xxRate)
		}
	}
	if deliveries >= slo.MinRequests && deliveries > 0 {
		rate := nonneg(cur.Failures-prev.Failures) / deliveries
		c.Figures["delivery_failure_rate"] = rate
		if rate > slo.MaxDeliveryFailureRate {
			fail("delivery failure rate %.2f%% (at most %.2f%%)", 100*rate, 100*slo.MaxDeliveryFailureRate)
		}
		if p99, ok := quantile(0.99, prev.Latency, cur.Latency); ok {
			c.Figures["delivery_p99_seconds"] = p99
			if slo.MaxDeliveryP99 > 0 && p99 > time.Duration(slo.MaxDeliveryP99).Seconds() {
				fail("delivery latency p99 %.3fs (at most %s)", p99, time.Duration(slo.MaxDeliveryP99))
			}
		}
	}
	return c
}

func nonneg(v float64) float64 {
	if v < 0 || math.IsNaN(v) { // a restarted process resets its counters
		return 0
	}
	return v
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// quantile estimates q of the observations between two cumulative
// histograms (the bucket's upper bound, as a conservative estimate; an
// observation in +Inf counts as the largest finite bound).
func quantile(q float64, prev, cur []Bucket) (float64, bool) {
	if len(cur) == 0 {
		return 0, false
	}
	pm := map[float64]float64{}
	for _, b := range prev {
		pm[b.Le] = b.Count
	}
	delta := make([]Bucket, len(cur))
	for i, b := range cur {
		delta[i] = Bucket{Le: b.Le, Count: nonneg(b.Count - pm[b.Le])}
	}
	sort.Slice(delta, func(i, j int) bool { return delta[i].Le < delta[j].Le })
	total := delta[len(delta)-1].Count
	if total == 0 {
		return 0, false
	}
	rank := q * total
	lastFinite := 0.0
	for _, b := range delta {
		if !math.IsInf(b.Le, 1) {
			lastFinite = b.Le
		}
		if b.Count >= rank {
			if math.IsInf(b.Le, 1) {
				return lastFinite, true
			}
			return b.Le, true
		}
	}
	return lastFinite, true
}

// Analysis counts a provider's consecutive failed checks.
type Analysis struct {
	Consecutive int
	Last        Check
}

// Observe records c; it returns true when the failure limit is reached
// (the caller rolls back and resets the analysis).
func (a *Analysis) Observe(c Check, limit int) bool {
	a.Last = c
	if !c.Failed {
		a.Consecutive = 0
		return false
	}
	a.Consecutive++
	return a.Consecutive >= limit
}

// Series is one Prometheus sample: name, labels, value.
type Series struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseText reads the Prometheus text exposition format (the subset the
// processes write: no timestamps needed, comments skipped). A malformed line
// is an error naming its number.
func ParseText(data []byte) ([]Series, error) {
	var out []Series
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseLine(line string) (Series, error) {
	s := Series{Labels: map[string]string{}}
	rest := line
	if i := strings.IndexAny(rest, "{ "); i < 0 {
		return s, fmt.Errorf("no value")
	} else {
		s.Name, rest = rest[:i], rest[i:]
	}
	if s.Name == "" {
		return s, fmt.Errorf("no metric name")
	}
	if strings.HasPrefix(rest, "{") {
		rest = rest[1:]
		for {
			rest = strings.TrimLeft(rest, " ,")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			eq := strings.IndexByte(rest, '=')
			if eq <= 0 || eq+1 >= len(rest) || rest[eq+1] != '"' {
				return s, fmt.Errorf("bad label")
			}
			name := strings.TrimSpace(rest[:eq])
			rest = rest[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(rest); j++ {
				ch := rest[j]
				if ch == '\\' && j+1 < len(rest) {
					j++
					switch rest[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(rest[j])
					}
					continue
				}
				if ch == '"' {
					rest = rest[j+1:]
					closed = true
					break
				}
				val.WriteByte(ch)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			s.Labels[name] = val.String()
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("want a value (and an optional timestamp)")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("value %q: %w", fields[0], err)
	}
	s.Value = v
	return s, nil
}

// SampleFrom builds provider's Sample from the series of the edge, ingest and
// worker pages (any may be nil).
func SampleFrom(provider string, at time.Time, edge, ingest, worker []Series) Sample {
	s := Sample{At: at, EdgeRefused: map[string]float64{}}
	for _, x := range edge {
		if x.Name == "switchboard_edge_requests_total" && x.Labels["provider"] == provider {
			s.EdgeTotal += x.Value
			if x.Labels["decision"] == "reject" {
				s.EdgeRefused[x.Labels["reason"]] += x.Value
			}
		}
	}
	for _, x := range ingest {
		if x.Name == "switchboard_hook_requests_total" && x.Labels["provider"] == provider && x.Labels["component"] != "edge" {
			s.IngestTotal += x.Value
			if x.Labels["outcome"] == "error" {
				s.Ingest5xx += x.Value
			}
		}
	}
	buckets := map[float64]float64{}
	for _, x := range worker {
		switch {
		case x.Name == "switchboard_agent_request_duration_seconds_count" && x.Labels["provider"] == provider:
			s.Deliveries += x.Value
			if x.Labels["status"] != "2xx" {
				s.Failures += x.Value
			}
		case x.Name == "switchboard_delivery_latency_seconds_bucket" && x.Labels["provider"] == provider:
			le, err := strconv.ParseFloat(x.Labels["le"], 64)
			if err == nil {
				buckets[le] += x.Value
			}
		case x.Name == "switchboard_queue_tasks" && x.Labels["state"] == "archived":
			s.DeadLetters += x.Value
		}
	}
	for le, n := range buckets {
		s.Latency = append(s.Latency, Bucket{Le: le, Count: n})
	}
	sort.Slice(s.Latency, func(i, j int) bool { return s.Latency[i].Le < s.Latency[j].Le })
	return s
}
