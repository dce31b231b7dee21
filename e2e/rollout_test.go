package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestRolloutCanaryFirst walks a provider canary-first through the running
// stack: canary → promotion refused (409 naming what is missing) → the live
// failure-path matrix (`switchboard matrix run`) green and a load stage
// (`switchboard loadtest run` on the shipped short scenario, through the
// vegeta engine) passed → promotion accepted → back to canary with a fault
// injected (the canary organisation's agent answers 500) → the control
// plane's canary analysis rolls back by itself, audited with the failing
// figures. Then an explicit rollback's time to effect at the edge is
// measured and logged (not asserted: speed is for benchmarks).
func TestRolloutCanaryFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end rollout walk (-short)")
	}
	analysisCfg := filepath.Join(t.TempDir(), "analysis.json")
	os.WriteFile(analysisCfg, []byte(`{"providers":{"slack":{"interval":"400ms","failure_limit":2,"slo":{"max_delivery_failure_rate":0.2}}}}`), 0o600)
	s := startStack(t, stackOption{serveArgs: func(s *stack) []string {
		return []string{"--analysis-config", analysisCfg, "--analysis-metrics",
			"edge=" + s.edgeAdmin + "/metrics,ingest=" + s.ingestMetrics + ",worker=" + s.workerMetrics}
	}})

	// The canary organisation's agent: healthy until the fault is injected.
	var failing atomic.Bool
	var hits atomic.Int64
	canaryAgent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer canaryAgent.Close()
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Canary Co"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": canaryAgent.URL + "/", "signing_secret": s.agentKey}, 201)["id"].(string)
	secret := randHex(16)
	inst := s.newInstall(org, agent, "slack", "A0CANARY", "T0CANARY", map[string]string{"signing": secret}, nil, testevent.Credentials{Secret: secret}, "")

	// 1. Canary with the organisation.
	st := s.call("POST", "/v1/rollout/slack/canary", map[string]any{"canary_orgs": []string{org}, "reason": "e2e"}, 200)
	if st["stage"] != "canary" || st["previous_stage"] != "on" {
		t.Fatalf("canary: %v", st)
	}
	// 2. Promotion refused: no evidence.
	msg := s.refusal("POST", "/v1/rollout/slack/promote", 409)
	if !strings.Contains(msg, "no green failure-path matrix report") || !strings.Contains(msg, "no passing load-stage result") {
		t.Fatalf("refusal does not name what is missing: %s", msg)
	}

	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "SWITCHBOARD_API="+s.api, "SWITCHBOARD_TOKEN="+s.adminToken, "SWITCHBOARD_DATA_DIR="+t.TempDir())
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// 3. The live matrix, green. Slack has a platform profile here, so the
	// platform-secret-on-BYOA and BYOA-secret-on-platform cases are
	// required: without the platform profile's flags the run refuses and
	// says what to pass.
	platSecret := randHex(16)
	s.recordSecrets(map[string]string{"signing": platSecret}, nil, testevent.Credentials{})
	platProf := s.call("POST", "/v1/profiles", map[string]any{"provider": "slack", "name": "Platform Slack", "external_app_id": "A0PLATROLL",
		"secrets": map[string]string{"signing": platSecret}}, 201)["id"].(string)
	platSecretFile := filepath.Join(t.TempDir(), "platform-signing")
	if err := os.WriteFile(platSecretFile, []byte(platSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cli("matrix", "run", "--provider", "slack", "--edge", s.edge, "--ingest", s.ingest)
	if err == nil || !strings.Contains(out, "--platform-profile "+platProf+" --platform-secret-file") {
		t.Fatalf("matrix run without the platform profile's flags: %v\n%s", err, out)
	}
	out, err = cli("matrix", "run", "--provider", "slack", "--edge", s.edge, "--ingest", s.ingest,
		"--platform-profile", platProf, "--platform-secret-file", platSecretFile)
	t.Logf("matrix run:\n%s", out)
	if err != nil || !strings.Contains(out, "GREEN") {
		t.Fatalf("matrix run: %v", err)
	}
	for _, c := range []string{"platform_secret_on_byoa", "byoa_secret_on_platform"} {
		if !regexp.MustCompile(`(?m)^` + c + `\s+refused\s+refused\s+\d{3}\s.*\sok\s*$`).MatchString(out) {
			t.Fatalf("case %s not observed refused:\n%s", c, out)
		}
	}
	matrixID := evidenceID.FindString(out)
	out, err = cli("matrix", "show", "--provider", "slack")
	if err != nil || !strings.Contains(out, "signature verified") || !strings.Contains(out, "forged_signature") {
		t.Fatalf("matrix show: %v\n%s", err, out)
	}
	// Promotion still refused: the load stage is missing.
	if msg := s.refusal("POST", "/v1/rollout/slack/promote", 409); strings.Contains(msg, "matrix report") || !strings.Contains(msg, "load-stage") {
		t.Fatalf("refusal after the matrix: %s", msg)
	}
	// 4. A load stage through the engine.
	result := filepath.Join(t.TempDir(), "load.json")
	out, err = cli("loadtest", "run", "--scenario", "loadtest/scenarios/short.json", "--edge", s.edge, "--out", result)
	t.Logf("loadtest run:\n%s", out)
	if err != nil || !strings.Contains(out, "PASS") || !strings.Contains(out, "rate") || !strings.Contains(out, "p99") {
		t.Fatalf("loadtest run: %v", err)
	}
	loadID := regexp.MustCompile(`slack evidence (evd_[a-z0-9]+)`).FindStringSubmatch(out)
	if matrixID == "" || len(loadID) < 2 {
		t.Fatalf("evidence ids not printed: %q %q", matrixID, loadID)
	}
	var res struct {
		Passed   bool `json:"passed"`
		Requests int  `json:"requests"`
	}
	if b, _ := os.ReadFile(result); json.Unmarshal(b, &res) != nil || !res.Passed || res.Requests == 0 {
		t.Fatalf("load result: %+v", res)
	}
	// 5. Promotion accepted, with the evidence ids audited.
	st = s.call("POST", "/v1/rollout/slack/promote", map[string]any{"reason": "matrix green, load passed"}, 200)
	if st["stage"] != "on" {
		t.Fatalf("promote: %v", st)
	}
	if ev := s.lastAudit("rollout.promote"); !strings.Contains(ev, matrixID) || !strings.Contains(ev, loadID[1]) {
		t.Fatalf("promotion audit %s lacks the evidence %s and %s", ev, matrixID, loadID[1])
	}

	// 6. Back to canary (rollback from on goes to the previous stage), then
	// the fault: the canary organisation's agent fails.
	st = s.call("POST", "/v1/rollout/slack/rollback", map[string]any{"reason": "second canary round"}, 200)
	if st["stage"] != "canary" {
		t.Fatalf("rollback from on: %v", st)
	}
	s.waitAccepted(inst, "probe", inst.cred, map[string]int{})
	failing.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the canary's traffic while the analysis watches
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			ev := inst.event("fault " + randHex(4))
			s.send(s.signed(s.edge, inst, ev, inst.cred))
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := s.call("GET", "/v1/rollout/slack", nil, 200)
		if r["stage"] == "off" {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("no automatic rollback within 60s: %v (agent hits %d)", r, hits.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	ev := s.lastAudit("rollout.rollback")
	if !strings.Contains(ev, "system:canary-analysis") || !strings.Contains(ev, "delivery failure rate") || !strings.Contains(ev, "delivery_failure_rate") {
		t.Fatalf("automatic rollback audit %s", ev)
	}

	// 7. Explicit rollback: canary again (healthy), then --to off; the time
	// until the edge refuses the canary org's traffic is the rollback's
	// time to effect (one configuration push).
	failing.Store(false)
	s.call("POST", "/v1/rollout/slack/canary", map[string]any{"canary_orgs": []string{org}}, 200)
	s.waitAccepted(inst, "probe", inst.cred, map[string]int{})
	start := time.Now()
	s.call("POST", "/v1/rollout/slack/rollback", map[string]any{"reason": "measure", "to": "off"}, 200)
	// Ingest reads the stage from the store, so it refuses at once
	// (provider_off); the edge refuses on its own (unknown_ingress: no entry)
	// once the configuration without the installation reached it.
	var first, edgeOwn time.Duration
	var firstReason string
	for {
		code, reason := s.send(s.signed(s.edge, inst, inst.event("after rollback "+randHex(4)), inst.cred))
		if code/100 != 2 && first == 0 {
			first, firstReason = time.Since(start), reason
		}
		if reason == "unknown_ingress" {
			edgeOwn = time.Since(start)
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the edge still has the canary org's installation 30s after the rollback (last %d %s)", code, reason)
		}
	}
	t.Logf("explicit rollback: first refusal (%s) after %s; the edge's own refusal (unknown_ingress, one configuration push) after %s",
		firstReason, first.Round(time.Millisecond), edgeOwn.Round(time.Millisecond))
	t.Logf("automatic rollback audit: %s", ev)
	s.checkLogsHoldNoSecret()
}

// refusal calls the API expecting status want and returns the refusal's text.
func (s *stack) refusal(method, path string, want int) string {
	s.t.Helper()
	err := s.admin().Do(context.Background(), method, path, nil, nil)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != want {
		s.t.Fatalf("%s %s: %v, want %d", method, path, err, want)
	}
	return ce.Message
}

var evidenceID = regexp.MustCompile(`evd_[a-z0-9]+`)

// lastAudit is the newest audit event of action, as JSON ("" when none).
func (s *stack) lastAudit(action string) string {
	s.t.Helper()
	last := ""
	after := "0"
	for {
		page := s.call("GET", "/v1/audit?limit=1000&after="+after, nil, 200)
		items, _ := page["items"].([]any)
		for _, it := range items {
			if ev, _ := it.(map[string]any); ev["action"] == action {
				b, _ := json.Marshal(ev)
				last = string(b)
			}
		}
		next, _ := page["next_after"].(float64)
		n := strconv.FormatInt(int64(next), 10)
		if next == 0 || len(items) == 0 || n == after {
			return last
		}
		after = n
	}
}
