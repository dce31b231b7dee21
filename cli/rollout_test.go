package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/apitest"
	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
)

// TestRolloutCommands walks `switchboard rollout` against the real API:
// status as a table and as JSON, canary with organisations, promote refused
// naming what is missing, rollback refused without a reason and accepted
// with one.
func TestRolloutCommands(t *testing.T) {
	srv := apitest.New(t)
	vars := map[string]string{EnvAPI: srv.URL, EnvToken: srv.Admin, datadir.Env: t.TempDir()}
	org := jsonOf[client.Org](t, ok(t, vars, "orgs", "create", "--name", "Canary Co", "--json"))

	// status: every provider, at on (apitest starts them so).
	out := ok(t, vars, "rollout", "status")
	if !strings.HasPrefix(out, "PROVIDER ") || !strings.Contains(out, "CANARY ORGS") {
		t.Fatalf("status table header:\n%s", out)
	}
	for _, p := range []string{"slack", "discord", "telegram"} {
		if !strings.Contains(out, "\n"+p+" ") {
			t.Fatalf("status table lacks %s:\n%s", p, out)
		}
	}
	all := jsonOf[[]client.Rollout](t, ok(t, vars, "rollout", "status", "--json"))
	if len(all) < 3 {
		t.Fatalf("status --json: %+v", all)
	}
	for _, r := range all {
		if r.Stage != "on" || r.Unset {
			t.Fatalf("status --json: %s at %q (unset %v), want on", r.Provider, r.Stage, r.Unset)
		}
	}
	if one := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "status", "--provider", "slack", "--json")); one.Provider != "slack" || one.Stage != "on" {
		t.Fatalf("status --provider slack --json: %+v", one)
	}

	// canary: --orgs is required; with it, slack is at canary with the org.
	if _, _, err := run(t, vars, "rollout", "canary", "slack"); err == nil || !strings.Contains(err.Error(), "--orgs is required") {
		t.Fatalf("canary without --orgs: %v", err)
	}
	c := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "canary", "slack", "--orgs", org.ID, "--reason", "first canary", "--json"))
	if c.Stage != "canary" || c.PreviousStage != "on" || len(c.CanaryOrgs) != 1 || c.CanaryOrgs[0] != org.ID {
		t.Fatalf("canary: %+v", c)
	}
	out = ok(t, vars, "rollout", "status", "--provider", "slack")
	if !strings.Contains(out, "canary") || !strings.Contains(out, org.ID) || !strings.Contains(out, "missing: ") {
		t.Fatalf("status at canary:\n%s", out)
	}

	// promote: refused (409), naming the missing matrix report and load result.
	_, _, err := run(t, vars, "rollout", "promote", "slack", "--reason", "no evidence yet")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 409 || !strings.Contains(err.Error(), "no green failure-path matrix report") ||
		!strings.Contains(err.Error(), "no passing load-stage result") {
		t.Fatalf("promote without evidence: %v", err)
	}
	if r := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "status", "--provider", "slack", "--json")); r.Stage != "canary" || r.Gate.Allowed {
		t.Fatalf("after the refused promotion: %+v", r)
	}

	// rollback: needs --reason (nothing changes without one), then from
	// canary back to off.
	if _, _, err := run(t, vars, "rollout", "rollback", "slack"); err == nil || !strings.Contains(err.Error(), "--reason is required") {
		t.Fatalf("rollback without --reason: %v", err)
	}
	if r := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "status", "--provider", "slack", "--json")); r.Stage != "canary" {
		t.Fatalf("a rollback without a reason changed the stage: %+v", r)
	}
	out = ok(t, vars, "rollout", "rollback", "slack", "--reason", "canary org unhappy")
	if !strings.HasPrefix(out, "PROVIDER ") || !strings.Contains(out, "\nslack ") {
		t.Fatalf("rollback table:\n%s", out)
	}
	r := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "status", "--provider", "slack", "--json"))
	if r.Stage != "off" || r.PreviousStage != "canary" {
		t.Fatalf("after rollback: %+v", r)
	}
	// From on, --to off skips the canary.
	if r := jsonOf[client.Rollout](t, ok(t, vars, "rollout", "rollback", "discord", "--to", "off", "--reason", "stop it", "--json")); r.Stage != "off" || r.PreviousStage != "on" {
		t.Fatalf("rollback discord --to off: %+v", r)
	}
}
