package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadScenario runs a longer load scenario (make loadtest) through the
// engine against the stack: SWITCHBOARD_LOADTEST_SCENARIO names the file
// (relative to the repository root); without it the test is skipped. The
// summary is printed; the JSON result goes to SWITCHBOARD_LOADTEST_OUT when
// set. It fails when a threshold of the scenario fails.
func TestLoadScenario(t *testing.T) {
	scenario := os.Getenv("SWITCHBOARD_LOADTEST_SCENARIO")
	if scenario == "" {
		t.Skip("set SWITCHBOARD_LOADTEST_SCENARIO (make loadtest)")
	}
	// SWITCHBOARD_LOADTEST_WORKER_ARGS: more flags of the stack's worker
	// (make loadtest-fairness runs the fairness scenario once more with
	// --shard-concurrency 1, the worker without fairness).
	s := startStack(t, stackOption{workerArgs: strings.Fields(os.Getenv("SWITCHBOARD_LOADTEST_WORKER_ARGS"))})
	out := os.Getenv("SWITCHBOARD_LOADTEST_OUT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "result.json")
	}
	cmd := exec.Command(binary, "loadtest", "run", "--scenario", scenario, "--edge", s.edge, "--out", out, "--record=false")
	cmd.Env = append(os.Environ(), "SWITCHBOARD_API="+s.api, "SWITCHBOARD_TOKEN="+s.adminToken, "SWITCHBOARD_DATA_DIR="+t.TempDir())
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("loadtest run %s: %v", scenario, err)
	}
}
