package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

// Test secrets (well-formed for their provider; none is a real credential).
const (
	slackSigning    = "8f742231b10e8888abcd99yyyzzz85a5" // Slack's documented example form
	slackSigning2   = "0123456789abcdef0123456789abcdef"
	slackBot        = "xoxb-test-1234-secretbotvalue"
	telegramToken   = "tg_Secret-Token_0123456789"
	telegramBot     = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	discordKey      = "e8c5b1f6a2d94d3c8e1b7f0a9c6d5e4f3b2a1908f7e6d5c4b3a29180f7e6d5c4"
	metaAppSecret   = "abcdefabcdefabcdefabcdefabcdef12"
	metaVerifyToken = "verify-me-please"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type harness struct {
	t      *testing.T
	st     store.Store
	raw    *sqlite.Store
	keys   *secrets.Keyring
	api    *api.Server
	srv    *httptest.Server
	admin  string
	dbPath string
	logs   *bytes.Buffer
	clock  *atomic.Pointer[time.Time] // the API's Now (testNow unless a test moves it)
}

// setNow moves the API's clock.
func (h *harness) setNow(t time.Time) { h.clock.Store(&t) }

// advance moves the API's clock on by d.
func (h *harness) advance(d time.Duration) { h.setNow(h.clock.Load().Add(d)) }

// newHarness serves the API on a fresh SQLite store in t.TempDir(); wrap
// (optional) decorates the store (fault injection).
func newHarness(t *testing.T, wrap func(store.Store) store.Store) *harness {
	t.Helper()
	return newHarnessWith(t, wrap, false)
}

// newHarnessWith is newHarness with the API's private-agent-URL option.
func newHarnessWith(t *testing.T, wrap func(store.Store) store.Store, allowPrivateAgentURLs bool) *harness {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "switchboard.db")
	raw, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	var st store.Store = raw
	if wrap != nil {
		st = wrap(raw)
	}
	logs := &bytes.Buffer{}
	clock := &atomic.Pointer[time.Time]{}
	clock.Store(&testNow)
	srv := api.New(api.Config{Store: st, Keyring: keys, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now: func() time.Time { return *clock.Load() }, AllowPrivateAgentURLs: allowPrivateAgentURLs,
		EvidenceKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)), Version: "test"})
	admin := api.NewToken()
	if _, _, err := api.EnsureAdminToken(ctx, raw, admin); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, raw: raw, keys: keys, api: srv, admin: admin, dbPath: dbPath, logs: logs, clock: clock}
	h.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// call sends body (nil, a string taken as raw JSON, or a value to encode)
// and returns the status and the decoded JSON answer.
func (h *harness) call(method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	status, raw := h.callRaw(method, path, token, body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("%s %s: answer is not a JSON object (%d): %q", method, path, status, raw)
	}
	return status, out
}

func (h *harness) callRaw(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, raw
}

// create asserts 201 and returns the answer.
func (h *harness) create(path, token string, body any) map[string]any {
	h.t.Helper()
	status, out := h.call("POST", path, token, body)
	if status != http.StatusCreated {
		h.t.Fatalf("POST %s: status %d, want 201: %v", path, status, out)
	}
	return out
}

func (h *harness) generation() int64 {
	h.t.Helper()
	g, err := h.raw.Generation(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// fixture: agency A with client orgs A1, A2; agency B with client org B1.
// Each org has a profile (Slack, with a signing secret), an installation, an
// agent and a binding. There is one platform Slack profile.
type fixture struct {
	agencyA, agencyB string
	agencyTok        string // agency A
	orgTok           string // org A1
	orgA2Tok         string
	platformProf     string
	org              map[string]*orgObjs // "A1", "A2", "B1"
}

type orgObjs struct {
	id, agency, prof, inst, agent, bind string
}

func id(m map[string]any) string { s, _ := m["id"].(string); return s }

func (h *harness) fixture() *fixture {
	h.t.Helper()
	f := &fixture{org: map[string]*orgObjs{}}
	f.agencyA = id(h.create("/v1/agencies", h.admin, map[string]any{"name": "Agency A"}))
	f.agencyB = id(h.create("/v1/agencies", h.admin, map[string]any{"name": "Agency B"}))
	f.agencyTok = h.create("/v1/tokens", h.admin, map[string]any{"kind": "agency", "subject_id": f.agencyA})["token"].(string)
	agencyBTok := h.create("/v1/tokens", h.admin, map[string]any{"kind": "agency", "subject_id": f.agencyB})["token"].(string)
	f.platformProf = id(h.create("/v1/profiles", h.admin, map[string]any{"provider": "slack", "name": "Platform Slack", "external_app_id": "A0PLATFORM", "secrets": map[string]string{"signing": slackSigning2}}))
	for _, o := range []struct{ name, tok, agency string }{{"A1", f.agencyTok, f.agencyA}, {"A2", f.agencyTok, f.agencyA}, {"B1", agencyBTok, f.agencyB}} {
		objs := &orgObjs{agency: o.agency}
		objs.id = id(h.create("/v1/orgs", o.tok, map[string]any{"name": "Org " + o.name}))
		objs.prof = id(h.create("/v1/profiles", o.tok, map[string]any{"org_id": objs.id, "provider": "slack", "name": "Slack " + o.name, "secrets": map[string]string{"signing": slackSigning}}))
		objs.inst = id(h.create("/v1/installations", o.tok, map[string]any{"org_id": objs.id, "profile_id": objs.prof, "provider": "slack", "external_id": "T" + o.name, "secrets": map[string]string{"bot_token": slackBot}}))
		objs.agent = id(h.create("/v1/agents", o.tok, map[string]any{"org_id": objs.id, "name": "agent " + o.name, "url": "https://agent.example/" + o.name}))
		objs.bind = id(h.create("/v1/bindings", o.tok, map[string]any{"installation_id": objs.inst, "agent_id": objs.agent, "persona": "support", "selector": map[string]string{"channel": "C1"}}))
		f.org[o.name] = objs
	}
	f.orgTok = h.create("/v1/tokens", f.agencyTok, map[string]any{"kind": "org", "subject_id": f.org["A1"].id})["token"].(string)
	f.orgA2Tok = h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": f.org["A2"].id})["token"].(string)
	return f
}

// smallFixture is one org with a profile, installation and agent (for fuzzing).
func (h *harness) smallFixture() *orgObjs {
	h.t.Helper()
	o := &orgObjs{}
	o.id = id(h.create("/v1/orgs", h.admin, map[string]any{"name": "Org"}))
	o.prof = id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": o.id, "provider": "slack", "name": "Slack", "secrets": map[string]string{"signing": slackSigning}}))
	o.inst = id(h.create("/v1/installations", h.admin, map[string]any{"org_id": o.id, "profile_id": o.prof, "external_id": "T0"}))
	o.agent = id(h.create("/v1/agents", h.admin, map[string]any{"org_id": o.id, "name": "agent", "url": "https://agent.example/"}))
	return o
}
