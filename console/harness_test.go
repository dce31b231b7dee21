package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/console"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

// Test secrets (well-formed for their provider; none is a real credential).
const (
	telegramBot      = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	telegramBotB     = "654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	telegramSecret2  = "rotated_Secret-Token_0123456789"
	xssName          = `Acme <script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`
	consoleTestAgent = "http://127.0.0.1:9/agent"
)

// env is the API and the console on one in-process server (as `serve`
// mounts them) over a fresh SQLite store, with two organisations and a token
// for each.
type env struct {
	t             *testing.T
	url           string
	admin         string
	agencyTok     string
	orgA, orgB    string
	tokA, tokB    string
	instB, agentB string
	logs          *bytes.Buffer
	st            *sqlite.Store
}

func newEnv(t *testing.T, cfg console.Config) *env {
	t.Helper()
	return newEnvAPI(t, cfg, nil)
}

// newEnvAPI is newEnv whose API configuration apiCfg may change, given the
// server's base URL (the API's public URL, for OAuth redirects).
func newEnvAPI(t *testing.T, cfg console.Config, apiCfg func(base string, c *api.Config)) *env {
	t.Helper()
	return newEnvStages(t, cfg, apiCfg, nil)
}

// newEnvStages is newEnvAPI leaving the providers in unset without a stage
// row (never set: not served).
func newEnvStages(t *testing.T, cfg console.Config, apiCfg func(base string, c *api.Config), unset map[string]bool) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	// Stages are explicit (no row: not served): every provider on, as `up` starts.
	for _, p := range api.Providers {
		if unset[p] {
			continue
		}
		if err := st.SetStage(ctx, store.RolloutStage{Provider: p, Stage: store.StageOn, UpdatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	ac := api.Config{Store: st, Keyring: keys, Logger: log, AllowPrivateAgentURLs: true} // the test agent is on loopback
	if apiCfg != nil {
		apiCfg("http://"+srv.Listener.Addr().String(), &ac)
	}
	a := api.New(ac)
	cfg.API, cfg.Logger = a.Handler(), log
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = console.Mount(a.Handler(), c.Handler())
	srv.Start()
	e := &env{t: t, url: srv.URL, admin: api.NewToken(), logs: logs, st: st}
	if _, _, err := api.EnsureAdminToken(ctx, st, e.admin); err != nil {
		t.Fatal(err)
	}
	ag := e.must(e.admin, "POST", "/v1/agencies", map[string]any{"name": "Northwind Agency"}, 201)
	e.agencyTok = e.must(e.admin, "POST", "/v1/tokens", map[string]any{"kind": "agency", "subject_id": ag["id"]}, 201)["token"].(string)
	e.orgA = e.must(e.agencyTok, "POST", "/v1/orgs", map[string]any{"name": xssName}, 201)["id"].(string)
	e.orgB = e.must(e.admin, "POST", "/v1/orgs", map[string]any{"name": "Globex"}, 201)["id"].(string)
	e.tokA = e.must(e.admin, "POST", "/v1/tokens", map[string]any{"kind": "org", "subject_id": e.orgA}, 201)["token"].(string)
	e.tokB = e.must(e.admin, "POST", "/v1/tokens", map[string]any{"kind": "org", "subject_id": e.orgB}, 201)["token"].(string)
	// Org B has its own Telegram bot and agent: org A must never reach them.
	pb := e.must(e.tokB, "POST", "/v1/profiles", map[string]any{"org_id": e.orgB, "provider": "telegram", "name": "Globex bot"}, 201)
	e.instB = e.must(e.tokB, "POST", "/v1/installations", map[string]any{"org_id": e.orgB, "profile_id": pb["id"], "external_id": "654321",
		"secrets": map[string]string{"secret_token": "globex_Secret", "bot_token": telegramBotB}}, 201)["id"].(string)
	e.agentB = e.must(e.tokB, "POST", "/v1/agents", map[string]any{"org_id": e.orgB, "name": "globex agent", "url": consoleTestAgent}, 201)["id"].(string)
	return e
}

// call sends one API request with token and answers status and JSON body.
func (e *env) call(token, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json") // the API refuses any other (415)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (e *env) must(token, method, path string, body any, want int) map[string]any {
	e.t.Helper()
	code, m := e.call(token, method, path, body)
	if code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %v", method, path, code, want, m)
	}
	return m
}

func apiErrCode(m map[string]any) string {
	if e, ok := m["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	return ""
}

// shotDir is where screenshots go: $SWITCHBOARD_CONSOLE_SHOTS (docs/console
// to refresh the documentation's), else the test's temporary directory.
func shotDir(t *testing.T) string {
	if d := os.Getenv("SWITCHBOARD_CONSOLE_SHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func contains(s string, subs ...string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
