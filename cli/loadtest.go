package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/loadtest"
	"github.com/switchboard-dev/switchboard/loadtest/engine"
	"github.com/switchboard-dev/switchboard/probe"
	"github.com/switchboard-dev/switchboard/rollout"
)

const loadtestSummary = "run a load scenario (loadtest/scenarios/*.json) against a live edge; a passing run at a stage is rollout evidence"

func init() {
	add(Command{Name: "loadtest", Summary: loadtestSummary, Run: runLoadtest})
}

func loadtestHelp(w io.Writer) {
	fmt.Fprintln(w, loadtestSummary+`

usage: switchboard loadtest run --scenario FILE [--edge URL] [flags]

Creates probe organisations and installations of each provider of the
scenario (admitted while the provider is at canary), a probe agent in this
process that records every receipt, and sends the scenario's traffic open
loop at its arrival rate (stages with ramps), a share of it forged, stale or
cross-tenant. A live progress line (rate, p99, errors) each second, then a
summary table and the JSON result (--out). The thresholds: valid requests
answered 2xx, edge p99, end-to-end p99, forged accepted = 0, delivered =
accepted, duplicates within what at-least-once delivery allows. A passing
result is recorded as load-stage evidence for each provider (--record).
Exit status 1 when a threshold fails.

flags:`)
}

func runLoadtest(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || isHelp(args[:1]) {
		w := env.Stderr
		if len(args) > 0 {
			w = env.Stdout
		}
		loadtestHelp(w)
		if len(args) == 0 {
			return ExitError{Code: 2}
		}
		return nil
	}
	if args[0] != "run" {
		return usageErr(env, "loadtest", "unknown verb %q (verbs: run)", args[0])
	}
	args = args[1:]
	fs := flagSet("loadtest run", env)
	scenario := fs.String("scenario", "", "scenario file (required), e.g. loadtest/scenarios/short.json")
	edge := fs.String("edge", "http://127.0.0.1:8443", "base URL of the edge")
	agentListen := fs.String("agent-listen", "127.0.0.1:0", "where the probe agents listen (one per provider: use port 0)")
	out := fs.String("out", "", "write the JSON result to this file")
	record := fs.Bool("record", true, "record the result as load-stage evidence of each provider")
	ready := fs.Duration("ready-timeout", 30*time.Second, "how long to wait for the probe installations to reach the edge")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		loadtestHelp(env.Stdout)
		printFlags(env.Stdout, fs)
		return nil
	}
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagErr(err)
	}
	if *scenario == "" {
		return usageErr(env, "loadtest run", "--scenario is required")
	}
	data, err := os.ReadFile(*scenario)
	if err != nil {
		return fmt.Errorf("--scenario: %w", err)
	}
	sc, err := loadtest.ParseScenario(data, probe.Supported)
	if err != nil {
		return fmt.Errorf("%s: %w", *scenario, err)
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	res, err := LoadRun(ctx, cl, sc, LoadOptions{Edge: *edge, AgentListen: *agentListen, Ready: *ready, Progress: env.Stderr, Record: *record})
	if err != nil {
		return err
	}
	if *out != "" {
		b, _ := json.MarshalIndent(res.Result, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if cn.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		loadtest.WriteSummary(env.Stdout, res.Result)
		for _, e := range res.Evidence {
			fmt.Fprintf(env.Stdout, "recorded as %s evidence %s (passed %v)\n", e.Provider, e.ID, e.Passed)
		}
	}
	if !res.Result.Passed {
		return ExitError{Code: 1}
	}
	return nil
}

// LoadOptions configure LoadRun.
type LoadOptions struct {
	Edge, AgentListen string
	Ready             time.Duration
	Progress          io.Writer
	Record            bool
}

// LoadOutcome is a run's result and the evidence recorded of it.
type LoadOutcome struct {
	Result   loadtest.Result   `json:"result"`
	Evidence []client.Evidence `json:"evidence,omitempty"`
}

// LoadRun sets up probes for every provider of sc, runs it through the
// engine, cleans up, and records the result per provider.
func LoadRun(ctx context.Context, cl *client.Client, sc loadtest.Scenario, o LoadOptions) (LoadOutcome, error) {
	var out LoadOutcome
	hs := map[string]*probe.Harness{}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, h := range hs {
			if err := h.Cleanup(cctx); err != nil && o.Progress != nil {
				fmt.Fprintf(o.Progress, "loadtest: cleanup: %v\n", err)
			}
		}
	}()
	stage := ""
	// A noisy tenant (fairness scenarios) is the first probe organisation
	// of each provider: its agent is slow, its limits are set.
	var noisyOrgs sync.Map
	var delay func(string) time.Duration
	if sc.Noisy != nil && sc.Noisy.AgentDelay > 0 {
		delay = func(org string) time.Duration {
			if _, ok := noisyOrgs.Load(org); ok {
				return sc.Noisy.AgentDelay.D()
			}
			return 0
		}
	}
	for _, p := range sc.ProviderNames() {
		h, err := probe.Setup(ctx, probe.Config{API: cl, Provider: p, Edge: o.Edge, AgentListen: o.AgentListen, Tenants: sc.Tenants,
			Name: "load", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AgentDelay: delay})
		if h != nil {
			hs[p] = h
		}
		if err != nil {
			return out, err
		}
		if sc.Noisy != nil {
			noisyOrgs.Store(h.Orgs[0], true)
			if l := sc.Noisy.Limits; l != nil {
				if _, err := cl.SetOrgLimits(ctx, h.Orgs[0], client.SetOrgLimitsRequest{RatePerSec: l.RatePerSec, Burst: l.Burst, MaxInFlight: l.MaxInFlight}); err != nil {
					return out, fmt.Errorf("set the noisy tenant's limits: %w", err)
				}
			}
		}
		if err := h.WaitReady(ctx, o.Ready); err != nil {
			return out, err
		}
		if r, err := cl.GetRollout(ctx, p); err == nil && (stage == "" || stage == r.Stage) {
			stage = r.Stage
		} else if err == nil {
			stage = "mixed"
		}
	}
	started := time.Now()
	f, err := engine.Run(ctx, engine.Config{Scenario: sc, Harnesses: hs, Edge: o.Edge, Progress: o.Progress})
	if err != nil {
		return out, err
	}
	out.Result = loadtest.NewResult(sc, f, started)
	out.Result.Stage, out.Result.Binary, out.Result.Edge = stage, Version, o.Edge
	if o.Record {
		for _, p := range sc.ProviderNames() {
			r := out.Result
			r.Provider = p
			e, err := cl.RecordEvidence(ctx, p, client.EvidenceRequest{Kind: rollout.KindLoad, Report: r})
			if err != nil {
				return out, fmt.Errorf("record the load result for %s: %w", p, err)
			}
			out.Evidence = append(out.Evidence, e)
		}
	}
	return out, nil
}
