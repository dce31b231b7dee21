package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/rollout"
)

// Figures is what a run measured.
type Figures struct {
	Requests int64 `json:"requests"`
	// By kind: how many were sent, and how many the edge answered 2xx.
	Sent     map[Kind]int64 `json:"sent"`
	Accepted map[Kind]int64 `json:"accepted"`
	Errors   int64          `json:"errors"` // transport errors (no answer)
	// ValidStatus counts the valid requests by answer status (0: no
	// answer, a transport error or timeout).
	ValidStatus map[int]int64 `json:"valid_status,omitempty"`
	// Delivered: distinct valid requests the probe agent received;
	// Redelivered: receipts beyond the first of one request.
	Delivered   int64 `json:"delivered"`
	Redelivered int64 `json:"redelivered"`
	// ForgedDelivered: non-valid requests the probe agent received.
	ForgedDelivered int64 `json:"forged_delivered"`
	// Edge answer times of every request and send→receipt times of the
	// delivered valid ones, in milliseconds.
	EdgeMs []float64 `json:"-"`
	E2EMs  []float64 `json:"-"`
	// ValidEdgeMs: the edge answer times of the valid requests only.
	ValidEdgeMs []float64 `json:"-"`
	// With a Noisy tenant: the figures of its valid requests, and the
	// end-to-end times of the noisy and the other tenants' deliveries.
	Noisy       *NoisyFigures `json:"noisy,omitempty"`
	NoisyE2EMs  []float64     `json:"-"`
	OthersE2EMs []float64     `json:"-"`
	// Achieved rate over the attack.
	Rate     float64       `json:"rate"`
	Duration time.Duration `json:"-"`
	// Flood: the scenario's flood, when it has one (not in the figures
	// above, which are the scenario's own traffic).
	Flood *FloodFigures `json:"flood,omitempty"`
}

// FloodFigures is what the flood's requests got.
type FloodFigures struct {
	Provider string `json:"provider"`
	Ingress  string `json:"ingress"` // the flooded ingress id
	Sent     int64  `json:"sent"`
	Errors   int64  `json:"errors"` // transport errors (no answer)
	// Statuses counts the edge's answers by HTTP status ("401", "429"…).
	Statuses map[string]int64 `json:"statuses"`
	Rate     float64          `json:"rate"`
	EdgeMs   []float64        `json:"-"`
	EdgeP50  float64          `json:"edge_p50_ms"`
	EdgeP99  float64          `json:"edge_p99_ms"`
}

// NoisyFigures are the noisy tenant's share of the valid traffic: sent,
// answered 2xx, refused 429 (its rate limit) and delivered.
type NoisyFigures struct {
	Sent        int64 `json:"sent"`
	Accepted    int64 `json:"accepted"`
	RateLimited int64 `json:"rate_limited"`
	Delivered   int64 `json:"delivered"`
}

// Quantile is the q quantile of ms (nearest rank; 0 for none).
func Quantile(ms []float64, q float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

// Evaluate judges f against sc's thresholds, one verdict per name of
// rollout.LoadThresholds.
func Evaluate(sc Scenario, f Figures) []rollout.Verdict {
	valid, accepted, delivered := f.Sent[KindValid], f.Accepted[KindValid], f.Delivered
	if n := f.Noisy; n != nil {
		// The noisy tenant's requests over its rate are refused by design
		// and its slow agent's backlog drains after the run: valid 2xx and
		// delivered = accepted are judged on the other tenants.
		valid, accepted, delivered = valid-n.Sent, accepted-n.Accepted, delivered-n.Delivered
	}
	ratio := 0.0
	if valid > 0 {
		ratio = float64(accepted) / float64(valid)
	}
	bad := f.Accepted[KindForged] + f.Accepted[KindStale] + f.Accepted[KindCrossTenant] + f.ForgedDelivered
	dupRatio := 0.0
	if f.Delivered > 0 {
		dupRatio = float64(f.Redelivered) / float64(f.Delivered)
	}
	v := []rollout.Verdict{
		{Name: "valid_2xx_ratio", Op: rollout.OpAtLeast, Limit: *sc.Thresholds.Valid2xxRatio, Observed: ratio},
		{Name: "edge_p99_ms", Op: rollout.OpAtMost, Limit: ms(sc.Thresholds.EdgeP99.D()), Observed: Quantile(f.EdgeMs, 0.99), Unit: "ms"},
		{Name: "e2e_p99_ms", Op: rollout.OpAtMost, Limit: ms(sc.Thresholds.E2EP99.D()), Observed: Quantile(f.E2EMs, 0.99), Unit: "ms"},
		{Name: "forged_accepted", Op: rollout.OpEqual, Limit: 0, Observed: float64(bad)},
		// delivered = accepted: every accepted valid request reached the agent.
		{Name: "undelivered", Op: rollout.OpEqual, Limit: 0, Observed: float64(accepted - delivered)},
		{Name: "duplicates", Op: rollout.OpAtMost, Limit: *sc.Thresholds.MaxDuplicateRatio, Observed: dupRatio},
	}
	if len(f.E2EMs) == 0 {
		v[2].Observed = math.MaxFloat64 // nothing delivered: no end-to-end figure (fails)
	}
	if sc.Noisy != nil {
		o := rollout.Verdict{Name: "others_e2e_p99_ms", Op: rollout.OpAtMost, Limit: ms(sc.Thresholds.OthersE2EP99.D()), Observed: Quantile(f.OthersE2EMs, 0.99), Unit: "ms"}
		if len(f.OthersE2EMs) == 0 {
			o.Observed = math.MaxFloat64
		}
		v = append(v, o)
	}
	for i := range v {
		v[i].Pass = v[i].Holds()
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Result is a run's JSON result (and the body of load-stage evidence).
type Result struct {
	Scenario  string    `json:"scenario"`
	Provider  string    `json:"provider"` // the first provider (evidence is per provider)
	Providers []string  `json:"providers"`
	Stage     string    `json:"stage,omitempty"` // rollout stage of the providers when it ran
	StartedAt time.Time `json:"started_at"`
	Duration  string    `json:"duration"`
	Requests  int64     `json:"requests"`
	Planned   float64   `json:"planned"`
	Figures   Figures   `json:"figures"`
	EdgeP50   float64   `json:"edge_p50_ms"`
	EdgeP99   float64   `json:"edge_p99_ms"`
	// The edge answer times of the valid requests only.
	ValidEdgeP50 float64 `json:"valid_edge_p50_ms"`
	ValidEdgeP99 float64 `json:"valid_edge_p99_ms"`
	E2EP50       float64 `json:"e2e_p50_ms"`
	E2EP99       float64 `json:"e2e_p99_ms"`
	// With a Noisy tenant: the end-to-end p50/p99 of the other tenants'
	// and of the noisy tenant's deliveries.
	OthersE2EP50 *float64          `json:"others_e2e_p50_ms,omitempty"`
	OthersE2EP99 *float64          `json:"others_e2e_p99_ms,omitempty"`
	NoisyE2EP99  *float64          `json:"noisy_e2e_p99_ms,omitempty"`
	Verdicts     []rollout.Verdict `json:"verdicts"`
	Passed       bool              `json:"passed"`
	Binary       string            `json:"binary_version,omitempty"`
	Edge         string            `json:"edge,omitempty"`
}

// NewResult assembles the result of a run.
func NewResult(sc Scenario, f Figures, started time.Time) Result {
	names := sc.ProviderNames()
	r := Result{Scenario: sc.Name, Provider: names[0], Providers: names, StartedAt: started.UTC(), Duration: f.Duration.Round(time.Millisecond).String(),
		Requests: f.Requests, Planned: math.Round(sc.Expected()), Figures: f,
		EdgeP50: Quantile(f.EdgeMs, 0.5), EdgeP99: Quantile(f.EdgeMs, 0.99), E2EP50: Quantile(f.E2EMs, 0.5), E2EP99: Quantile(f.E2EMs, 0.99),
		ValidEdgeP50: Quantile(f.ValidEdgeMs, 0.5), ValidEdgeP99: Quantile(f.ValidEdgeMs, 0.99)}
	if fl := f.Flood; fl != nil {
		c := *fl
		c.EdgeP50, c.EdgeP99 = Quantile(fl.EdgeMs, 0.5), Quantile(fl.EdgeMs, 0.99)
		r.Figures.Flood = &c
	}
	if sc.Noisy != nil {
		p50, p99, n99 := Quantile(f.OthersE2EMs, 0.5), Quantile(f.OthersE2EMs, 0.99), Quantile(f.NoisyE2EMs, 0.99)
		r.OthersE2EP50, r.OthersE2EP99, r.NoisyE2EP99 = &p50, &p99, &n99
	}
	r.Verdicts = Evaluate(sc, f)
	r.Passed, _ = rollout.CheckLoad(append([]rollout.Verdict(nil), r.Verdicts...), f.Requests)
	return r
}

// WriteSummary writes the summary table of r.
func WriteSummary(w io.Writer, r Result) {
	fmt.Fprintf(w, "scenario %s (%s) — %d requests in %s (planned %.0f), %.1f/s achieved\n", r.Scenario, strings.Join(r.Providers, ", "),
		r.Requests, r.Duration, r.Planned, r.Figures.Rate)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSENT\tACCEPTED (2xx)")
	for _, k := range []Kind{KindValid, KindForged, KindStale, KindCrossTenant} {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", k, r.Figures.Sent[k], r.Figures.Accepted[k])
	}
	tw.Flush()
	fmt.Fprintf(w, "delivered %d, redelivered %d, forged delivered %d, transport errors %d\n", r.Figures.Delivered, r.Figures.Redelivered, r.Figures.ForgedDelivered, r.Figures.Errors)
	fmt.Fprintf(w, "edge p50 %.1f ms p99 %.1f ms (valid requests: p50 %.1f ms p99 %.1f ms); end-to-end p50 %.1f ms p99 %.1f ms\n",
		r.EdgeP50, r.EdgeP99, r.ValidEdgeP50, r.ValidEdgeP99, r.E2EP50, r.E2EP99)
	if fl := r.Figures.Flood; fl != nil {
		codes := make([]string, 0, len(fl.Statuses))
		for c := range fl.Statuses {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		var parts []string
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%s ×%d", c, fl.Statuses[c]))
		}
		fmt.Fprintf(w, "flood of %s ingress %s: %d forged sent (%.1f/s), answered %s, transport errors %d; edge p50 %.1f ms p99 %.1f ms\n",
			fl.Provider, fl.Ingress, fl.Sent, fl.Rate, strings.Join(parts, ", "), fl.Errors, fl.EdgeP50, fl.EdgeP99)
	}
	if n := r.Figures.Noisy; n != nil && r.OthersE2EP99 != nil {
		fmt.Fprintf(w, "noisy tenant: sent %d valid, accepted %d, rate-limited %d, delivered %d, end-to-end p99 %.1f ms; other tenants: end-to-end p50 %.1f ms p99 %.1f ms\n",
			n.Sent, n.Accepted, n.RateLimited, n.Delivered, *r.NoisyE2EP99, *r.OthersE2EP50, *r.OthersE2EP99)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "THRESHOLD\tWANT\tOBSERVED\tPASS")
	for _, v := range r.Verdicts {
		pass := "ok"
		if !v.Pass {
			pass = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s %g%s\t%.4g%s\t%s\n", v.Name, v.Op, v.Limit, v.Unit, v.Observed, v.Unit, pass)
	}
	tw.Flush()
	if r.Passed {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

// Progress is one live progress line.
func Progress(elapsed time.Duration, sent int64, rate, p99 float64, errors int64) string {
	return fmt.Sprintf("%6.1fs  sent %-7d rate %7.1f/s  p99 %7.1f ms  errors %d", elapsed.Seconds(), sent, rate, p99, errors)
}
