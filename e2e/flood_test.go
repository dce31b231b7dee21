package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/switchboard-dev/switchboard/loadtest"
)

// TestLoadFlood measures the forged-flood quarantine (make loadtest-flood):
// valid Slack traffic to three probe ingress ids at 50/s through the stack
// (serve, edge, ingest, worker, redis-server), without a flood
// (loadtest/scenarios/flood-baseline.json) and with forged requests to a
// fourth ingress id at ten times that rate (flood.json), on the native edge
// with its quarantine (default threshold and cool-down), then the flood
// again on a stack whose edge never quarantines; each flood also with
// forged bodies of 192 KiB (flood-large.json), whose verification costs
// more while the quarantine's answer does not read them. It prints the p50/p99 of
// the valid requests' edge answer and end-to-end time of each run, and the
// CPU seconds the edge process and the load generator used (to
// SWITCHBOARD_FLOOD_OUT too); speed is not asserted. It checks what the
// quarantine does: the flood is answered 429 once past the threshold (and
// never without the quarantine), the valid traffic is accepted and
// delivered in full while the quarantine is on, and the quarantine reaches
// the API (ingest audited the edge's report). Skipped unless SWITCHBOARD_LOADTEST_FLOOD=1.
func TestLoadFlood(t *testing.T) {
	if os.Getenv("SWITCHBOARD_LOADTEST_FLOOD") != "1" {
		t.Skip("set SWITCHBOARD_LOADTEST_FLOOD=1 (make loadtest-flood)")
	}
	type row struct {
		name string
		r    loadtest.Result
		m    runCost
	}
	var rows []row
	t.Run("quarantine", func(t *testing.T) {
		s := startStack(t)
		r, m := runScenario(t, s, "loadtest/scenarios/flood-baseline.json", true)
		rows = append(rows, row{"no flood", r, m})
		r, m = runScenario(t, s, "loadtest/scenarios/flood.json", true)
		rows = append(rows, row{"flood ×10, quarantine on", r, m})
		fl := r.Figures.Flood
		if fl == nil || fl.Statuses["429"] == 0 {
			t.Fatalf("the flood was never answered 429 quarantined: %+v", fl)
		}
		rl, ml := runScenario(t, s, "loadtest/scenarios/flood-large.json", true)
		rows = append(rows, row{"flood ×10 of 192 KiB, quarantine on", rl, ml})
		if fl := rl.Figures.Flood; fl == nil || fl.Statuses["429"] == 0 {
			t.Fatalf("the large flood was never answered 429 quarantined: %+v", fl)
		}
		// The quarantine reached the API: ingest audited the edge's report.
		ctx := context.Background()
		deadline := time.Now().Add(30 * time.Second)
		for {
			q, err := quarantineOfIngress(ctx, s, fl.Ingress)
			if err == nil && q > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no quarantine of ingress %s shown by the API: %v", fl.Ingress, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	t.Run("no quarantine", func(t *testing.T) {
		s := startStack(t, stackOption{edgeArgs: []string{"--quarantine-threshold", "1000000000"}})
		for _, sc := range []struct{ name, file string }{
			{"flood ×10, quarantine off", "loadtest/scenarios/flood.json"},
			{"flood ×10 of 192 KiB, quarantine off", "loadtest/scenarios/flood-large.json"},
		} {
			// Without the quarantine the valid traffic may suffer: that
			// is what is measured, not asserted.
			r, m := runScenario(t, s, sc.file, false)
			rows = append(rows, row{sc.name, r, m})
			if fl := r.Figures.Flood; fl == nil || fl.Statuses["429"] != 0 || fl.Statuses["401"] == 0 {
				t.Fatalf("%s: without the quarantine the flood is refused 401 and never 429: %+v", sc.name, fl)
			}
		}
	})
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tVALID SENT\tVALID 2xx\tDELIVERED\tVALID EDGE p50\tVALID EDGE p99\tE2E p50\tE2E p99\tFLOOD SENT\tFLOOD ANSWERS\tFLOOD EDGE p99\tEDGE CPU\tLOADGEN CPU\tLOAD AVG")
	for _, x := range rows {
		f := x.r.Figures
		flood, answers, fp99 := "-", "-", "-"
		if fl := f.Flood; fl != nil {
			flood = fmt.Sprintf("%d (%.0f/s)", fl.Sent, fl.Rate)
			var parts []string
			for _, code := range []string{"401", "429"} {
				if n := fl.Statuses[code]; n > 0 {
					parts = append(parts, fmt.Sprintf("%s×%d", code, n))
				}
			}
			if fl.Errors > 0 {
				parts = append(parts, fmt.Sprintf("errors×%d", fl.Errors))
			}
			answers, fp99 = strings.Join(parts, " "), fmt.Sprintf("%.1f ms", fl.EdgeP99)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%s\t%s\t%s\t%.2f s\t%.2f s\t%s\n", x.name, f.Sent[loadtest.KindValid], f.Accepted[loadtest.KindValid],
			f.Delivered, x.r.ValidEdgeP50, x.r.ValidEdgeP99, x.r.E2EP50, x.r.E2EP99, flood, answers, fp99, x.m.edgeCPU, x.m.loadgenCPU, x.m.loadAvg)
	}
	tw.Flush()
	fmt.Print(b.String())
	if out := os.Getenv("SWITCHBOARD_FLOOD_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runCost is what a run cost: CPU seconds of the edge process and of the
// load generator (`switchboard loadtest run`: signing, sending, the probe
// agent), and the 1-minute load average when it started (the machine is
// shared).
type runCost struct {
	edgeCPU, loadgenCPU float64
	loadAvg             string
}

// runScenario runs `switchboard loadtest run` with scenario (relative to the
// repository root) against the stack's edge and returns its result; with
// full, the valid traffic must be accepted and delivered in full.
func runScenario(t *testing.T, s *stack, scenario string, full bool) (loadtest.Result, runCost) {
	t.Helper()
	edgePid := 0
	for _, p := range s.procs {
		if p.name == "edge" {
			edgePid = p.cmd.Process.Pid
		}
	}
	cost := runCost{loadAvg: loadAvg()}
	edge0 := cpuSeconds(edgePid)
	out := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(binary, "loadtest", "run", "--scenario", scenario, "--edge", s.edge, "--out", out, "--record=false")
	cmd.Env = append(os.Environ(), "SWITCHBOARD_API="+s.api, "SWITCHBOARD_TOKEN="+s.adminToken, "SWITCHBOARD_DATA_DIR="+t.TempDir())
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	cost.edgeCPU = cpuSeconds(edgePid) - edge0
	if ps := cmd.ProcessState; ps != nil {
		cost.loadgenCPU = (ps.UserTime() + ps.SystemTime()).Seconds()
	}
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: a threshold failed; the figures are still written
		t.Fatalf("loadtest run %s: %v", scenario, err)
	}
	raw, rerr := os.ReadFile(out)
	if rerr != nil {
		t.Fatalf("loadtest run %s: no result: %v (%v)", scenario, rerr, err)
	}
	var res loadtest.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("result of %s: %v", scenario, err)
	}
	f := res.Figures
	if f.Sent[loadtest.KindValid] == 0 || full && (f.Accepted[loadtest.KindValid] != f.Sent[loadtest.KindValid] || f.Delivered != f.Accepted[loadtest.KindValid]) {
		t.Errorf("%s: valid sent %d, accepted %d, delivered %d: the valid traffic must be accepted and delivered in full",
			scenario, f.Sent[loadtest.KindValid], f.Accepted[loadtest.KindValid], f.Delivered)
	}
	return res, cost
}

// quarantineOfIngress is how many quarantines of the ingress id the API
// shows in the last 24 hours (GET /v1/installations/{id}/quarantine).
func quarantineOfIngress(ctx context.Context, s *stack, ingress string) (int64, error) {
	c := s.admin()
	l, err := c.ListInstallations(ctx, "")
	if err != nil {
		return 0, err
	}
	for _, in := range l {
		if in.IngressID == ingress {
			q, err := c.Quarantine(ctx, in.ID)
			if err != nil {
				return 0, err
			}
			return q.Quarantines, nil
		}
	}
	return 0, fmt.Errorf("no installation with ingress id %s", ingress)
}
