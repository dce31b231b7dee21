package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/testevent"
)

// TestHealthThroughStack: GET /v1/installations/{id}/health on the real
// stack: the edge node's ACKed configuration holds the installation, the
// signed self-test goes through the real edge to ingest (Slack's
// url_verification, a Telegram edited_message: nothing delivered), and a
// provider turned off makes the stage check and the self-test fail with
// ingest's own refusal.
func TestHealthThroughStack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	s := startStack(t)
	org := s.call("POST", "/v1/orgs", map[string]any{"name": "Hooli"}, 201)["id"].(string)
	agent := s.call("POST", "/v1/agents", map[string]any{"org_id": org, "name": "support", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	slackSecret, tgToken := randHex(16), "tg_"+randHex(12)
	slack := s.newInstall(org, agent, "slack", "A0HOOLI", "T0HOOLI", map[string]string{"signing": slackSecret}, nil, testevent.Credentials{Secret: slackSecret}, "")
	tg := s.newInstall(org, agent, "telegram", "", "700200", nil, map[string]string{"secret_token": tgToken}, testevent.Credentials{Secret: tgToken}, "")
	s.waitAccepted(slack, "probe slack", slack.cred, map[string]int{})
	s.waitAccepted(tg, "probe telegram", tg.cred, map[string]int{})
	s.waitDrained(30e9) // the probes reach the agent first
	before := len(s.received())

	checks := func(in install) map[string]map[string]any {
		out := s.call("GET", "/v1/installations/"+in.id+"/health", nil, 200)
		m := map[string]map[string]any{}
		for _, c := range out["checks"].([]any) {
			cm := c.(map[string]any)
			m[cm["name"].(string)] = cm
		}
		return m
	}
	for _, in := range []install{slack, tg} {
		m := checks(in)
		for _, name := range []string{"edge_config", "secrets", "rollout_stage", "bindings", "self_test", "recent_refusals", "quarantine"} {
			if m[name]["status"] != "pass" {
				t.Errorf("%s %s: %v", in.provider, name, m[name])
			}
		}
	}
	s.waitDrained(30e9)
	if got := len(s.received()); got != before {
		t.Errorf("the self-tests delivered %d event(s) to the agent", got-before)
	}

	s.call("PUT", "/v1/providers/telegram/stage", map[string]any{"stage": "off"}, 200)
	m := checks(tg)
	if m["rollout_stage"]["status"] != "fail" || m["self_test"]["status"] != "fail" {
		t.Errorf("provider off: stage %v, self-test %v", m["rollout_stage"], m["self_test"])
	}

	// A forged flood on the Slack ingress id: past the edge's threshold (100
	// refusals a minute) even a signed request is answered 429 quarantined;
	// the edge reports it, ingest audits it, and the health check shows it.
	forged := testevent.Forge("slack", slack.cred)
	for i := 0; i < 101; i++ {
		if st, reason := s.send(s.signed(s.edge, slack, slack.event(fmt.Sprintf("forged %d", i)), forged)); st != 401 {
			t.Fatalf("forged request %d: %d %s, want 401", i, st, reason)
		}
	}
	if st, reason := s.send(s.signed(s.edge, slack, slack.event("signed, in quarantine"), slack.cred)); st != 429 || reason != "quarantined" {
		t.Fatalf("signed request to the flooded ingress: %d %s, want 429 quarantined", st, reason)
	}
	var q map[string]any
	s.waitFor("the quarantine in the health check", func() bool {
		q = checks(slack)["quarantine"]
		d, _ := q["data"].(map[string]any)
		return q["status"] == "fail" && d != nil && d["refused_per_minute"].(float64) >= 101
	})
	if !strings.Contains(q["detail"].(string), "quarantined since ") || !strings.Contains(q["fix"].(string), "bad_signature") {
		t.Errorf("quarantine check: %v", q)
	}
	if m := checks(tg); m["quarantine"]["status"] != "pass" {
		t.Errorf("the other installation's quarantine check: %v", m["quarantine"])
	}
	s.checkLogsHoldNoSecret()
}
