package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/store"
)

func greenMatrix(provider string, at time.Time) map[string]any {
	cases := []map[string]any{}
	for _, c := range rollout.MatrixCases {
		cases = append(cases, map[string]any{"name": c.Name, "expected": c.Expected, "observed": c.Expected})
	}
	return map[string]any{"provider": provider, "cases": cases, "edge_config_version": "v1", "binary_version": "test",
		"started_at": at.Format(time.RFC3339Nano), "finished_at": at.Format(time.RFC3339Nano)}
}

func passingLoad(provider string, at time.Time) map[string]any {
	v := []map[string]any{}
	for _, n := range rollout.LoadThresholds {
		v = append(v, map[string]any{"name": n, "op": "<=", "limit": 1, "observed": 0})
	}
	return map[string]any{"provider": provider, "requests": 100, "verdicts": v, "started_at": at.Format(time.RFC3339Nano)}
}

// TestRolloutGatedPromotion walks a provider canary-first: promotion is
// refused (409 naming what is missing) until a green matrix report and a
// passing load result are recorded at canary after the last change; a
// change of canary invalidates them; rollback needs a reason and goes to
// the previous stage. Each step is audited.
func TestRolloutGatedPromotion(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1, b1 := f.org["A1"], f.org["B1"]

	_, out := h.call("GET", "/v1/rollout/slack", h.admin, nil)
	if out["stage"] != "off" || out["unset"] != true {
		t.Fatalf("unset provider: %v", out)
	}
	// Canary first: on from off is refused like a promotion.
	status, raw := h.callRaw("PUT", "/v1/providers/slack/stage", h.admin, map[string]any{"stage": "on"})
	if status != 409 || !strings.Contains(string(raw), "promotion is from canary only") {
		t.Fatalf("PUT on from unset: %d %s", status, raw)
	}
	h.advance(time.Second)
	status, out = h.call("POST", "/v1/rollout/slack/canary", h.admin, map[string]any{"canary_orgs": []string{a1.id}, "reason": "first tenant"})
	if status != 200 || out["stage"] != "canary" {
		t.Fatalf("canary: %d %v", status, out)
	}
	h.advance(time.Second)
	status, raw = h.callRaw("POST", "/v1/rollout/slack/promote", h.admin, nil)
	var refusal struct {
		Error struct {
			Code    string   `json:"code"`
			Missing []string `json:"missing"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &refusal)
	if status != 409 || len(refusal.Error.Missing) != 2 || !strings.Contains(refusal.Error.Missing[0], "matrix") || !strings.Contains(refusal.Error.Missing[1], "load") {
		t.Fatalf("promote without evidence: %d %s", status, raw)
	}
	if ev := lastAudit(t, h); ev.Action != "rollout.promote_refused" {
		t.Fatalf("refusal not audited: %+v", ev)
	}

	// A red matrix report is recorded but does not count.
	red := greenMatrix("slack", testNow.Add(time.Second))
	red["cases"].([]map[string]any)[2]["observed"] = "accepted"
	status, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": red})
	if status != 201 || out["passed"] != false || !strings.Contains(strings.Join(toStrings(out["problems"]), "|"), "forged_signature") {
		t.Fatalf("red matrix: %d %v", status, out)
	}
	h.advance(time.Second)
	status, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": greenMatrix("slack", testNow.Add(3*time.Second))})
	if status != 201 || out["passed"] != true {
		t.Fatalf("green matrix: %d %v", status, out)
	}
	matrixID := out["id"].(string)
	// The control plane's signature verifies over the document.
	_, key := h.call("GET", "/v1/rollout/evidence-key", h.admin, nil)
	pub, _ := base64.StdEncoding.DecodeString(key["public_key"].(string))
	sig, _ := base64.StdEncoding.DecodeString(out["signature"].(string))
	doc := out["document"].(string)
	if !ed25519.Verify(pub, []byte(doc), sig) || out["key_id"] != key["key_id"] {
		t.Fatalf("evidence signature does not verify")
	}
	if ed25519.Verify(pub, []byte(strings.Replace(doc, `"passed":true`, `"passed":false`, 1)), sig) {
		t.Fatal("a changed document verifies")
	}
	status, raw = h.callRaw("POST", "/v1/rollout/slack/promote", h.admin, nil)
	if status != 409 || strings.Contains(string(raw), "matrix") || !strings.Contains(string(raw), "load-stage") {
		t.Fatalf("promote with matrix only: %d %s", status, raw)
	}
	// Evidence of another provider, or a report of another provider, does not count.
	status, _ = h.callRaw("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "load", "report": passingLoad("discord", testNow)})
	if status != 400 {
		t.Fatalf("load result of another provider: %d", status)
	}
	h.advance(time.Second)
	status, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "load", "report": passingLoad("slack", testNow.Add(4*time.Second))})
	if status != 201 || out["passed"] != true {
		t.Fatalf("load: %d %v", status, out)
	}
	loadID := out["id"].(string)

	// Changing the canary invalidates the evidence.
	h.advance(time.Second)
	h.call("POST", "/v1/rollout/slack/canary", h.admin, map[string]any{"canary_orgs": []string{a1.id, b1.id}})
	status, raw = h.callRaw("POST", "/v1/rollout/slack/promote", h.admin, nil)
	if status != 409 || !strings.Contains(string(raw), "predates the last stage or canary change") {
		t.Fatalf("promote after a canary change: %d %s", status, raw)
	}
	h.advance(time.Second)
	h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": greenMatrix("slack", testNow.Add(8*time.Second))})
	_, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "load", "report": passingLoad("slack", testNow.Add(8*time.Second))})
	loadID = out["id"].(string)
	// Too old: 25 h later the evidence has expired.
	h.advance(25 * time.Hour)
	status, raw = h.callRaw("POST", "/v1/rollout/slack/promote", h.admin, nil)
	if status != 409 || !strings.Contains(string(raw), "older than 24h") {
		t.Fatalf("promote with expired evidence: %d %s", status, raw)
	}
	h.advance(time.Second)
	_, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": greenMatrix("slack", testNow.Add(25*time.Hour+9*time.Second))})
	matrixID = out["id"].(string)
	_, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "load", "report": passingLoad("slack", testNow.Add(25*time.Hour+9*time.Second))})
	loadID = out["id"].(string)
	h.advance(time.Second)
	status, out = h.call("POST", "/v1/rollout/slack/promote", h.admin, map[string]any{"reason": "matrix green, load passed"})
	if status != 200 || out["stage"] != "on" || out["previous_stage"] != "canary" {
		t.Fatalf("promote: %d %v", status, out)
	}
	ev := lastAudit(t, h)
	if ev.Action != "rollout.promote" || !strings.Contains(ev.Detail, matrixID) || !strings.Contains(ev.Detail, loadID) {
		t.Fatalf("promotion audit lacks the evidence ids: %+v", ev)
	}

	// Rollback: a reason is required; it goes to the previous stage (canary).
	status, _ = h.callRaw("POST", "/v1/rollout/slack/rollback", h.admin, map[string]any{})
	if status != 400 {
		t.Fatalf("rollback without reason: %d", status)
	}
	status, out = h.call("POST", "/v1/rollout/slack/rollback", h.admin, map[string]any{"reason": "errors at tenant b"})
	if status != 200 || out["stage"] != "canary" || len(out["canary_orgs"].([]any)) != 2 {
		t.Fatalf("rollback: %d %v", status, out)
	}
	status, out = h.call("POST", "/v1/rollout/slack/rollback", h.admin, map[string]any{"reason": "stop", "to": "off"})
	if status != 200 || out["stage"] != "off" {
		t.Fatalf("rollback to off: %d %v", status, out)
	}
	if ev := lastAudit(t, h); ev.Action != "rollout.rollback" || !strings.Contains(ev.Detail, `"reason":"stop"`) || !strings.Contains(ev.Detail, `"previous":"canary"`) {
		t.Fatalf("rollback audit %+v", ev)
	}
	status, _ = h.callRaw("POST", "/v1/rollout/slack/rollback", h.admin, map[string]any{"reason": "x", "to": "on"})
	if status != 400 {
		t.Fatalf("rollback up: %d", status)
	}
	st, err := h.raw.GetStage(context.Background(), "slack")
	if err != nil || st.Stage != store.StageOff {
		t.Fatalf("stored %+v %v", st, err)
	}
}

// TestRolloutProbes: a probe org is admitted at canary without changing the
// canary (evidence stays valid) and is forgotten only once revoked.
func TestRolloutProbes(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	status, _ := h.callRaw("POST", "/v1/rollout/discord/probes", h.admin, map[string]any{"name": "matrix"})
	if status != 409 {
		t.Fatalf("probe on an unset provider: %d", status)
	}
	h.call("POST", "/v1/rollout/discord/canary", h.admin, map[string]any{"canary_orgs": []string{f.org["A1"].id}})
	before, _ := h.raw.GetStage(context.Background(), "discord")
	h.advance(time.Second)
	status, out := h.call("POST", "/v1/rollout/discord/probes", h.admin, map[string]any{"name": "matrix"})
	if status != 201 {
		t.Fatalf("probe: %d %v", status, out)
	}
	org := out["org_id"].(string)
	st, _ := h.raw.GetStage(context.Background(), "discord")
	if !st.Admits(org) || !st.UpdatedAt.Equal(before.UpdatedAt) || len(st.CanaryOrgs) != 1 {
		t.Fatalf("probe stage %+v (before %+v)", st, before)
	}
	// No tenant sees it: the agency token lists only its own orgs.
	_, raw := h.callRaw("GET", "/v1/orgs", f.agencyTok, nil)
	if strings.Contains(string(raw), org) {
		t.Fatal("agency sees the probe org")
	}
	if status, _ := h.callRaw("POST", "/v1/rollout/discord/probes/"+org+"/remove", h.admin, nil); status != 409 {
		t.Fatalf("remove a live probe: %d", status)
	}
	h.call("POST", "/v1/orgs/"+org+"/revoke", h.admin, nil)
	if status, _ := h.callRaw("POST", "/v1/rollout/discord/probes/"+org+"/remove", h.admin, nil); status != 200 {
		t.Fatalf("remove: %d", status)
	}
	st, _ = h.raw.GetStage(context.Background(), "discord")
	if len(st.ProbeOrgs) != 0 {
		t.Fatalf("probe kept: %+v", st)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestMatrixPlatformCasesRequired: a provider with a platform profile (the
// fixture's slack one) must have the platform-secret cases run: a report
// with them not applicable is recorded but not green, and the problem names
// the profile to pass; a provider without one (github) may leave them out.
func TestMatrixPlatformCasesRequired(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	notRun := func(provider string) map[string]any {
		m := greenMatrix(provider, testNow)
		for _, c := range m["cases"].([]map[string]any) {
			if slices.Contains(rollout.PlatformCases, c["name"].(string)) {
				c["observed"], c["reason"] = rollout.OutcomeNotApplicable, "no platform profile given (--platform-profile)"
			}
		}
		return m
	}
	status, out := h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": notRun("slack")})
	problems := strings.Join(toStrings(out["problems"]), "|")
	if status != 201 || out["passed"] != false || !strings.Contains(problems, "case platform_secret_on_byoa not run") ||
		!strings.Contains(problems, "case byoa_secret_on_platform not run") || !strings.Contains(problems, "--platform-profile "+f.platformProf) {
		t.Fatalf("slack matrix without the platform cases: %d %v", status, out)
	}
	status, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": greenMatrix("slack", testNow)})
	if status != 201 || out["passed"] != true {
		t.Fatalf("slack matrix with the platform cases: %d %v", status, out)
	}
	status, out = h.call("POST", "/v1/rollout/github/evidence", h.admin, map[string]any{"kind": "matrix", "report": notRun("github")})
	if status != 201 || out["passed"] != true {
		t.Fatalf("github (no platform profile) matrix without the platform cases: %d %v", status, out)
	}
	// A revoked platform profile no longer makes them required.
	if status, _ := h.call("POST", "/v1/profiles/"+f.platformProf+"/revoke", h.admin, nil); status != 200 {
		t.Fatalf("revoke platform profile: %d", status)
	}
	status, out = h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": "matrix", "report": notRun("slack")})
	if status != 201 || out["passed"] != true {
		t.Fatalf("slack matrix after the platform profile's revocation: %d %v", status, out)
	}
}

// TestEvidenceReportDecodedStrictly: the report inside an evidence body is
// read with the body's own rules: a matrix report with a key in another
// letter case or a key no report has is refused naming report.<key>; a load
// result may carry more than the gate reads, but not a gate key in another
// letter case.
func TestEvidenceReportDecodedStrictly(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	if st, out := h.call("POST", "/v1/rollout/slack/canary", h.admin, map[string]any{"canary_orgs": []string{f.org["A1"].id}, "reason": "strict"}); st != 200 {
		t.Fatalf("canary: %d %v", st, out)
	}
	h.advance(time.Second)
	post := func(kind string, report map[string]any) (int, map[string]any) {
		return h.call("POST", "/v1/rollout/slack/evidence", h.admin, map[string]any{"kind": kind, "report": report})
	}
	refusedAt := func(name string, st int, out map[string]any, field string) {
		t.Helper()
		e, _ := out["error"].(map[string]any)
		if st != 400 || e["field"] != field {
			t.Errorf("%s: %d %v, want 400 naming %s", name, st, out, field)
		}
	}
	m := greenMatrix("slack", testNow.Add(time.Second))
	m["Provider"] = m["provider"]
	delete(m, "provider")
	st, out := post("matrix", m)
	refusedAt("matrix key in another case", st, out, "report.Provider")
	m = greenMatrix("slack", testNow.Add(time.Second))
	m["verdict"] = "green"
	st, out = post("matrix", m)
	refusedAt("matrix unknown key", st, out, "report.verdict")
	m = greenMatrix("slack", testNow.Add(time.Second))
	c0 := m["cases"].([]map[string]any)[0]
	c0["Observed"] = c0["observed"]
	delete(c0, "observed")
	st, out = post("matrix", m)
	refusedAt("matrix case key in another case", st, out, "report.cases[0].Observed")

	l := passingLoad("slack", testNow.Add(time.Second))
	l["Requests"] = l["requests"]
	delete(l, "requests")
	st, out = post("load", l)
	refusedAt("load gate key in another case", st, out, "report.Requests")
	l = passingLoad("slack", testNow.Add(time.Second))
	l["latency_ms"] = map[string]any{"p99": 12}
	if st, out = post("load", l); st != 201 || out["passed"] != true {
		t.Errorf("load result with more than the gate reads: %d %v", st, out)
	}
	if st, out = post("matrix", greenMatrix("slack", testNow.Add(time.Second))); st != 201 || out["passed"] != true {
		t.Errorf("green matrix: %d %v", st, out)
	}
}
