package api_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// TestSimulate: which bindings match a payload or a described event, which
// win and why, the session key of each target and the stage's verdict;
// nothing is written or enqueued.
func TestSimulate(t *testing.T) {
	h := newHarness(t, nil)
	o := h.smallFixture() // slack installation, external id T0
	// Stages are explicit: slack is on (set in the store: through the API,
	// on takes the promotion gate's evidence).
	setOn := func() {
		t.Helper()
		if err := h.raw.SetStage(context.Background(), store.RolloutStage{Provider: "slack", Stage: store.StageOn, UpdatedAt: testNow}); err != nil {
			t.Fatal(err)
		}
	}
	setOn()
	agent2 := id(h.create("/v1/agents", h.admin, map[string]any{"org_id": o.id, "name": "billing", "url": "https://agent.example/b"}))
	general := id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": o.inst, "agent_id": o.agent, "persona": "general"}))
	channel := id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": o.inst, "agent_id": o.agent, "persona": "support", "selector": map[string]string{"channel": "C1"}}))
	other := id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": o.inst, "agent_id": o.agent, "selector": map[string]string{"channel": "C9"}, "priority": 50}))
	billing := id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": o.inst, "agent_id": agent2, "persona": "billing", "selector": map[string]string{"mention": "@billing"}}))

	simulate := func(body map[string]any) map[string]any {
		t.Helper()
		before := h.generation()
		status, out := h.call("POST", "/v1/simulate", h.admin, body)
		if status != 200 {
			t.Fatalf("status %d: %v", status, out)
		}
		if h.generation() != before {
			t.Fatal("simulate wrote to the store")
		}
		if out["enqueued"] != false {
			t.Fatalf("enqueued: %v", out["enqueued"])
		}
		return out
	}
	event := func(out map[string]any) map[string]any { return out["events"].([]any)[0].(map[string]any) }
	targets := func(ev map[string]any) []string {
		var ids []string
		for _, x := range ev["targets"].([]any) {
			ids = append(ids, x.(map[string]any)["binding_id"].(string))
		}
		return ids
	}

	// The channel binding (specificity 1) beats the catch-all (0).
	ev := event(simulate(map[string]any{"installation_id": o.inst, "event": map[string]any{"channel": "C1", "user": "U1", "thread": "171.1", "text": "hello"}}))
	if got := targets(ev); len(got) != 1 || got[0] != channel {
		t.Fatalf("targets %v, want [%s]", got, channel)
	}
	tg := ev["targets"].([]any)[0].(map[string]any)
	if tg["persona"] != "support" || !strings.Contains(tg["why"].(string), "specificity 1") ||
		tg["session_key"] != "s1/"+o.id+"/slack/"+o.inst+"/C1/171.1/"+o.agent+"/support" {
		t.Errorf("target %v", tg)
	}
	if ev["outcome"] != "delivered" {
		t.Errorf("outcome %v", ev["outcome"])
	}
	bs := map[string]map[string]any{}
	for _, b := range ev["bindings"].([]any) {
		m := b.(map[string]any)
		bs[m["id"].(string)] = m
	}
	if bs[other]["matched"] != false || !strings.Contains(bs[other]["why"].(string), `channel "C9"`) {
		t.Errorf("non-matching binding explained as %v", bs[other])
	}
	if bs[general]["matched"] != true || bs[general]["won"] != false {
		t.Errorf("catch-all: %v", bs[general])
	}
	if bs[billing]["matched"] != false {
		t.Errorf("mention binding matched without the mention: %v", bs[billing])
	}

	// A mention adds the mentioned agent: two targets.
	ev = event(simulate(map[string]any{"installation_id": o.inst, "event": map[string]any{"channel": "C1", "user": "U1", "text": "ask @billing"}}))
	if got := targets(ev); len(got) != 1 || got[0] != billing {
		// only the mentioned agent is a target in mention mode
		t.Fatalf("mention targets %v, want [%s]", got, billing)
	}

	// A provider payload, parsed by the Slack adapter as ingest does.
	raw, err := os.ReadFile("../provider/slack/testdata/event_message.json")
	if err != nil {
		t.Fatal(err)
	}
	ev = event(simulate(map[string]any{"installation_id": o.inst, "payload": json.RawMessage(strings.ReplaceAll(string(raw), "T0001", "T0"))}))
	if ev["conversation"] != "C2147483705" || ev["outcome"] != "delivered" {
		t.Errorf("payload event %v", ev)
	}
	// A body naming another workspace is what ingest refuses.
	ev = event(simulate(map[string]any{"installation_id": o.inst, "payload": json.RawMessage(raw)}))
	if !strings.HasPrefix(ev["outcome"].(string), "tenant_mismatch") {
		t.Errorf("foreign team: outcome %v", ev["outcome"])
	}
	// A slash command is a form body, given as a JSON string.
	form, err := os.ReadFile("../provider/slack/testdata/slash_command.form")
	if err != nil {
		t.Fatal(err)
	}
	out := simulate(map[string]any{"installation_id": o.inst, "payload": string(form)})
	if len(out["events"].([]any)) != 1 {
		t.Errorf("slash command: %v", out)
	}
	// A handshake routes nothing.
	out = simulate(map[string]any{"installation_id": o.inst, "payload": json.RawMessage(`{"token":"x","challenge":"c","type":"url_verification"}`)})
	if out["handshake"] != true || len(out["events"].([]any)) != 0 {
		t.Errorf("handshake: %v", out)
	}

	// The rollout stage: canary without this org holds the event back.
	if st, out := h.call("PUT", "/v1/providers/slack/stage", h.admin, map[string]any{"stage": "canary", "canary_orgs": []string{}}); st != 200 {
		t.Fatalf("set stage: %d %v", st, out)
	}
	out = simulate(map[string]any{"installation_id": o.inst, "event": map[string]any{"channel": "C1"}})
	stage := out["stage"].(map[string]any)
	if stage["lets_through"] != false || !strings.HasPrefix(event(out)["outcome"].(string), "provider_canary") {
		t.Errorf("canary: %v", out)
	}

	// No binding matches: acknowledged, no target.
	setOn()
	inst2 := id(h.create("/v1/installations", h.admin, map[string]any{"org_id": o.id, "profile_id": o.prof, "external_id": "T2"}))
	ev = event(simulate(map[string]any{"installation_id": inst2, "event": map[string]any{"channel": "C1"}}))
	if len(ev["targets"].([]any)) != 0 || !strings.HasPrefix(ev["outcome"].(string), "no_binding") {
		t.Errorf("no binding: %v", ev)
	}

	// Bad requests.
	for _, body := range []map[string]any{
		{"installation_id": o.inst},
		{"installation_id": o.inst, "event": map[string]any{}, "payload": json.RawMessage(`{}`)},
		{"event": map[string]any{}},
		{"installation_id": o.inst, "payload": json.RawMessage(`{"type":"nope"}`)},
	} {
		if st, out := h.call("POST", "/v1/simulate", h.admin, body); st != 400 {
			t.Errorf("%v: %d %v", body, st, out)
		}
	}
}
