package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/provider/telegram/telegramtest"
	"github.com/switchboard-dev/switchboard/store"
)

// healthEnv is a Telegram installation with every health condition met: an
// edge node has it ACKed, Telegram calls its URL, its secret token is valid,
// the stage is on, a binding matches, the edge answers the signed self-test
// (a stand-in that checks Telegram's secret-token header the way the edge
// does) and nothing was refused.
type healthEnv struct {
	h          *harness
	bot        *telegramtest.BotAPI
	inst       map[string]any
	bind       string
	org        *orgObjs
	edgeHas    atomic.Bool
	edgeRefuse atomic.Bool
}

func newHealthEnv(t *testing.T) *healthEnv {
	e := &healthEnv{bot: telegramtest.New(telegramBot)}
	t.Cleanup(e.bot.Close)
	e.edgeHas.Store(true)
	var ingress atomic.Value
	ingress.Store("")
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case !strings.HasSuffix(r.URL.Path, "/"+ingress.Load().(string)):
			w.WriteHeader(404)
			w.Write([]byte(`{"error":"unknown_ingress"}`))
		case e.edgeRefuse.Load() || r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != telegramToken:
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"bad_signature"}`))
		default:
			w.WriteHeader(200)
		}
	}))
	t.Cleanup(edge.Close)
	e.h = newHarnessCfg(t, func(c *api.Config) {
		c.PublicURL = "https://hooks.example.com"
		c.EdgeURL = edge.URL
		c.ProviderAPIs = api.ProviderAPIs{Base: map[string]string{"telegram": e.bot.URL}}
	})
	h := e.h
	h.api.SetEdgeView(func(ingressID string) []api.EdgeIngress {
		return []api.EdgeIngress{{Node: "edge-1", Group: "stable", AckedVersion: "e1", Present: e.edgeHas.Load() && ingressID == ingress.Load(), Secrets: 1}}
	})
	e.org = h.smallFixture()
	// Stages are explicit (and promotion is gated): the provider is on.
	if err := h.raw.SetStage(context.Background(), store.RolloutStage{Provider: "telegram", Stage: store.StageOn, UpdatedAt: testNow}); err != nil {
		t.Fatal(err)
	}
	prof := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": e.org.id, "provider": "telegram", "name": "bot"}))
	e.inst = h.create("/v1/installations", h.admin, map[string]any{"org_id": e.org.id, "profile_id": prof, "external_id": "123456",
		"secrets": map[string]string{"bot_token": telegramBot, "secret_token": telegramToken}})
	ingress.Store(e.inst["ingress_id"].(string))
	e.bind = id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": id(e.inst), "agent_id": e.org.agent}))
	if st, out := h.call("POST", "/v1/installations/"+id(e.inst)+"/register", h.admin, nil); st != 200 || out["ok"] != true {
		t.Fatalf("register: %d %v", st, out)
	}
	return e
}

func (e *healthEnv) checks(t *testing.T) (bool, map[string]map[string]any) {
	t.Helper()
	st, out := e.h.call("GET", "/v1/installations/"+id(e.inst)+"/health", e.h.admin, nil)
	if st != 200 {
		t.Fatalf("health: %d %v", st, out)
	}
	m := map[string]map[string]any{}
	for _, c := range out["checks"].([]any) {
		cm := c.(map[string]any)
		m[cm["name"].(string)] = cm
	}
	return out["ok"].(bool), m
}

var healthChecks = []string{"edge_config", "provider_registration", "secrets", "rollout_stage", "bindings", "self_test", "recent_refusals", "quarantine"}

// TestHealthAllPass: every check passes on a working installation.
func TestHealthAllPass(t *testing.T) {
	e := newHealthEnv(t)
	ok, m := e.checks(t)
	for _, name := range healthChecks {
		if m[name]["status"] != "pass" {
			t.Errorf("%s: %v", name, m[name])
		}
	}
	if !ok {
		t.Errorf("health not ok: %v", m)
	}
	_, raw := e.h.callRaw("GET", "/v1/installations/"+id(e.inst)+"/health", e.h.admin, nil)
	if strings.Contains(string(raw), telegramBot) || strings.Contains(string(raw), telegramToken) {
		t.Error("health answer carries a secret")
	}
}

// TestHealthEachCheck breaks one condition at a time: exactly its check fails, with a fix.
func TestHealthEachCheck(t *testing.T) {
	breaks := map[string]func(t *testing.T, e *healthEnv){
		"edge_config": func(t *testing.T, e *healthEnv) { e.edgeHas.Store(false) },
		"provider_registration": func(t *testing.T, e *healthEnv) {
			e.bot.SetWebhook("https://elsewhere.example/hook", []string{"message", "channel_post", "callback_query"})
		},
		"secrets": func(t *testing.T, e *healthEnv) {
			// Still valid now, but it ends in an hour and nothing replaces it.
			if err := e.h.raw.ExpireSecrets(context.Background(), store.OwnerInstallation, id(e.inst), store.PurposeSecretToken, testNow.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		},
		"rollout_stage": func(t *testing.T, e *healthEnv) {
			if st, out := e.h.call("PUT", "/v1/providers/telegram/stage", e.h.admin, map[string]any{"stage": "off"}); st != 200 {
				t.Fatalf("stage: %d %v", st, out)
			}
		},
		"bindings": func(t *testing.T, e *healthEnv) {
			if st, _ := e.h.call("POST", "/v1/bindings/"+e.bind+"/revoke", e.h.admin, nil); st != 200 {
				t.Fatal("revoke binding")
			}
		},
		"self_test": func(t *testing.T, e *healthEnv) { e.edgeRefuse.Store(true) },
		"recent_refusals": func(t *testing.T, e *healthEnv) {
			d, _ := json.Marshal(map[string]any{"reason": "bad_signature", "status": 401, "provider": "telegram"})
			if _, err := e.h.raw.AppendAudit(context.Background(), store.AuditEvent{At: testNow.Add(-time.Hour), Actor: "ingest", OrgID: e.org.id,
				Action: "webhook.reject", Target: id(e.inst), Detail: string(d)}); err != nil {
				t.Fatal(err)
			}
		},
		"quarantine": func(t *testing.T, e *healthEnv) {
			e.quarantine(t, testNow.Add(-10*time.Second), testNow.Add(50*time.Second))
		},
	}
	for _, name := range healthChecks {
		t.Run(name, func(t *testing.T) {
			e := newHealthEnv(t)
			breaks[name](t, e)
			ok, m := e.checks(t)
			if ok {
				t.Errorf("health ok with %s broken", name)
			}
			for _, other := range healthChecks {
				c := m[other]
				if other == name {
					if c["status"] != "fail" || c["fix"] == nil || c["fix"] == "" {
						t.Errorf("%s: %v, want fail with a fix", name, c)
					}
				} else if c["status"] != "pass" {
					t.Errorf("breaking %s also fails %s: %v", name, other, c)
				}
			}
		})
	}
}

// quarantine records what ingest writes when an edge reports a quarantine
// of the installation's ingress id (ingest/edgereport.go).
func (e *healthEnv) quarantine(t *testing.T, from, until time.Time) {
	t.Helper()
	d, _ := json.Marshal(map[string]any{"source": "edge", "reason": "quarantined", "provider": "telegram", "count": 1,
		"from": from.UTC().Format(time.RFC3339), "to": from.UTC().Format(time.RFC3339), "until": until.UTC().Format(time.RFC3339), "edge": "edge-1"})
	if _, err := e.h.raw.AppendAudit(context.Background(), store.AuditEvent{At: from, Actor: "edge", OrgID: e.org.id,
		Action: "ingress.quarantined", Target: id(e.inst), Detail: string(d)}); err != nil {
		t.Fatal(err)
	}
}

// TestInstallationQuarantine: GET /v1/installations/{id}/quarantine and the
// health check show a quarantine in force from the audit log, with the
// refusals reported in the minute before it and a fix; once its cool-down
// has passed it is shown as ended, and the check passes.
func TestInstallationQuarantine(t *testing.T) {
	e := newHealthEnv(t)
	path := "/v1/installations/" + id(e.inst) + "/quarantine"
	if st, out := e.h.call("GET", path, e.h.admin, nil); st != 200 || out["quarantined"] != false || out["quarantines_24h"] != 0.0 {
		t.Fatalf("before: %d %v", st, out)
	}
	since, until := testNow.Add(-10*time.Second), testNow.Add(50*time.Second)
	d, _ := json.Marshal(map[string]any{"source": "edge", "reason": "bad_signature", "provider": "telegram", "count": 120,
		"from": since.Add(-5 * time.Second).UTC().Format(time.RFC3339), "to": since.UTC().Format(time.RFC3339), "edge": "edge-1"})
	if _, err := e.h.raw.AppendAudit(context.Background(), store.AuditEvent{At: since, Actor: "edge", OrgID: e.org.id,
		Action: "webhook.reject", Target: id(e.inst), Detail: string(d)}); err != nil {
		t.Fatal(err)
	}
	e.quarantine(t, since, until)
	orgTok := e.h.create("/v1/tokens", e.h.admin, map[string]any{"kind": "org", "subject_id": e.org.id})["token"].(string)
	st, out := e.h.call("GET", path, orgTok, nil)
	if st != 200 || out["quarantined"] != true || out["since"] != since.UTC().Format(time.RFC3339) || out["until"] != until.UTC().Format(time.RFC3339) ||
		out["refused_per_minute"] != 120.0 || out["ingress_id"] != e.inst["ingress_id"] || out["fix"] == nil {
		t.Fatalf("in force: %d %v", st, out)
	}
	ok, m := e.checks(t)
	c := m["quarantine"]
	if ok || c["status"] != "fail" || !strings.Contains(c["detail"].(string), "quarantined since "+since.UTC().Format(time.RFC3339)) ||
		!strings.Contains(c["detail"].(string), "120 refused/min") || !strings.Contains(c["fix"].(string), "bad_signature") {
		t.Fatalf("health check: %v", c)
	}
	if r := m["recent_refusals"]; !strings.Contains(r["detail"].(string), "bad_signature ×120") {
		t.Errorf("recent_refusals counts an edge row as its count: %v", r)
	}
	e.h.setNow(until) // the cool-down is over
	if st, out := e.h.call("GET", path, e.h.admin, nil); st != 200 || out["quarantined"] != false || out["last_until"] != until.UTC().Format(time.RFC3339) {
		t.Fatalf("after the cool-down: %d %v", st, out)
	}
	if _, m := e.checks(t); m["quarantine"]["status"] != "pass" {
		t.Fatalf("health check after the cool-down: %v", m["quarantine"])
	}
}
