package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/store"
)

// The canary analysis (in the manner of Flagger's): while a provider is at
// canary, the control plane reads the processes' /metrics every interval,
// judges the interval against the provider's SLOs (edge refusal rate by
// reason, ingest 5xx, delivery failures and dead letters, delivery latency
// p99) and, after N consecutive failed checks, rolls the provider back by
// itself, audited with the failing figures.

type analysisFlags struct {
	metrics    multiFlag
	configFile string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, strings.Split(v, ",")...); return nil }

var analysisOpts analysisFlags

func init() {
	registerServePart(servePart{
		name: "canary analysis",
		flags: func(fs *flag.FlagSet) {
			analysisOpts = analysisFlags{} // serve may run more than once in a process (tests)
			fs.Var(&analysisOpts.metrics, "analysis-metrics", "Prometheus /metrics of the processes the canary analysis reads, as edge=URL, ingest=URL, worker=URL (repeatable or comma-separated; several of a kind add up); none: no automatic analysis")
			fs.StringVar(&analysisOpts.configFile, "analysis-config", "", "JSON file of per-provider analysis settings (interval, failure_limit, slo); default: a check a minute, rollback after 3 failed checks (see docs/rollout.md)")
		},
		start: func(ctx context.Context, env *serveEnv) (func(ctx context.Context) error, error) {
			var data []byte
			if analysisOpts.configFile != "" {
				b, err := os.ReadFile(analysisOpts.configFile)
				if err != nil {
					return nil, fmt.Errorf("--analysis-config: %w", err)
				}
				data = b
			}
			set, err := rollout.ParseAnalysis(data, func(p string) bool {
				for _, k := range api.Providers {
					if k == p {
						return true
					}
				}
				return false
			})
			if err != nil {
				return nil, fmt.Errorf("--analysis-config: %w", err)
			}
			targets, err := parseMetricTargets(analysisOpts.metrics)
			if err != nil {
				return nil, err
			}
			if len(targets) == 0 {
				fmt.Fprintln(env.Out, "canary analysis: off (no --analysis-metrics)")
				return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
			}
			a := &analyser{st: env.Store, api: env.API, set: set, targets: targets, http: &http.Client{Timeout: 5 * time.Second},
				state: map[string]*providerAnalysis{}, log: env}
			env.analysis = a.view
			fmt.Fprintf(env.Out, "canary analysis: reading %d metrics pages\n", len(targets))
			return a.run, nil
		},
	})
}

type metricTarget struct{ kind, url string }

func parseMetricTargets(in []string) ([]metricTarget, error) {
	var out []metricTarget
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		kind, u, ok := strings.Cut(v, "=")
		if !ok || (kind != "edge" && kind != "ingest" && kind != "worker") || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			return nil, fmt.Errorf("--analysis-metrics %q: want edge=URL, ingest=URL or worker=URL (http or https)", v)
		}
		out = append(out, metricTarget{kind, u})
	}
	return out, nil
}

type providerAnalysis struct {
	cfg      rollout.AnalysisConfig
	changed  time.Time // stage change the analysis belongs to
	prev     *rollout.Sample
	next     time.Time
	a        rollout.Analysis
	lastAt   *time.Time
	lastSeen *rollout.Check
	paused   bool // probes are running
}

type analyser struct {
	st      store.Store
	api     *api.Server
	set     rollout.AnalysisSet
	targets []metricTarget
	http    *http.Client
	log     *serveEnv

	mu    sync.Mutex
	state map[string]*providerAnalysis
}

func (a *analyser) view(provider string) *api.AnalysisState {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := a.set.For(provider)
	v := &api.AnalysisState{Interval: time.Duration(cfg.Interval).String(), FailureLimit: cfg.FailureLimit}
	if s := a.state[provider]; s != nil {
		v.ConsecutiveFailures = s.a.Consecutive
		v.LastCheckAt, v.LastCheck = s.lastAt, s.lastSeen
		v.HeldForProbes = s.paused
	}
	return v
}

func (a *analyser) run(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := a.step(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Log.Warn("canary analysis", "err", err)
		}
	}
}

// step checks every provider at canary whose interval is due.
func (a *analyser) step(ctx context.Context, now time.Time) error {
	stages, err := a.st.ListStages(ctx)
	if err != nil {
		return fmt.Errorf("list stages: %w", err)
	}
	var due []store.RolloutStage
	a.mu.Lock()
	live := map[string]bool{}
	for _, s := range stages {
		if s.Stage != store.StageCanary {
			continue
		}
		live[s.Provider] = true
		ps := a.state[s.Provider]
		if ps == nil || !ps.changed.Equal(s.UpdatedAt) {
			ps = &providerAnalysis{cfg: a.set.For(s.Provider), changed: s.UpdatedAt, next: now}
			a.state[s.Provider] = ps
		}
		if len(s.ProbeOrgs) > 0 {
			// A matrix or load run is under way: its forged traffic is
			// refused by design. The analysis holds and starts a fresh
			// baseline when the probes are gone.
			ps.prev, ps.paused = nil, true
			continue
		}
		ps.paused = false
		if !now.Before(ps.next) {
			due = append(due, s)
		}
	}
	for p := range a.state {
		if !live[p] {
			delete(a.state, p)
		}
	}
	a.mu.Unlock()
	if len(due) == 0 {
		return nil
	}
	pages, err := a.scrape(ctx)
	if err != nil {
		return err
	}
	for _, s := range due {
		sample := rollout.SampleFrom(s.Provider, now, pages["edge"], pages["ingest"], pages["worker"])
		a.mu.Lock()
		ps := a.state[s.Provider]
		if ps == nil {
			a.mu.Unlock()
			continue
		}
		ps.next = now.Add(time.Duration(ps.cfg.Interval))
		if ps.prev == nil { // the baseline of the first interval
			ps.prev = &sample
			a.mu.Unlock()
			continue
		}
		check := rollout.Evaluate(*ps.prev, sample, ps.cfg.SLO)
		ps.prev = &sample
		t := now.UTC()
		ps.lastAt, ps.lastSeen = &t, &check
		rollback := ps.a.Observe(check, ps.cfg.FailureLimit)
		n := ps.a.Consecutive
		a.mu.Unlock()
		if check.Failed {
			a.log.Log.Warn("canary analysis check failed", "provider", s.Provider, "consecutive", n, "limit", ps.cfg.FailureLimit, "failures", strings.Join(check.Failures, "; "))
		}
		if !rollback {
			continue
		}
		detail := map[string]any{"automatic": true, "failed_checks": n, "failures": check.Failures, "figures": sortedFigures(check.Figures),
			"interval": time.Duration(ps.cfg.Interval).String(), "canary_orgs": s.CanaryOrgs}
		reason := fmt.Sprintf("canary analysis: %d consecutive failed checks: %s", n, strings.Join(check.Failures, "; "))
		if _, err := a.api.Rollback(ctx, s.Provider, "system:canary-analysis", reason, "", detail); err != nil {
			return fmt.Errorf("automatic rollback of %s: %w", s.Provider, err)
		}
		a.log.Log.Warn("canary rolled back automatically", "provider", s.Provider, "reason", reason)
		fmt.Fprintf(a.log.Out, "canary analysis: %s rolled back: %s\n", s.Provider, reason)
		a.mu.Lock()
		delete(a.state, s.Provider)
		a.mu.Unlock()
	}
	return nil
}

func sortedFigures(m map[string]float64) map[string]float64 {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]float64, len(m))
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// scrape reads every metrics page, by kind.
func (a *analyser) scrape(ctx context.Context) (map[string][]rollout.Series, error) {
	out := map[string][]rollout.Series{}
	for _, t := range a.targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := a.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("scrape %s metrics: %w", t.kind, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("scrape %s metrics: status %d %v", t.kind, resp.StatusCode, err)
		}
		series, err := rollout.ParseText(body)
		if err != nil {
			return nil, fmt.Errorf("%s metrics: %w", t.kind, err)
		}
		out[t.kind] = append(out[t.kind], series...)
	}
	return out, nil
}
