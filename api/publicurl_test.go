package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

func TestParsePublicURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"", "", ""},
		{"https://hooks.example.com", "https://hooks.example.com", ""},
		{"https://hooks.example.com/", "https://hooks.example.com", ""},
		{"https://hooks.example.com:8443/sb/", "https://hooks.example.com:8443/sb", ""},
		{"http://127.0.0.1:8443", "http://127.0.0.1:8443", ""},
		{"http://localhost:8443", "http://localhost:8443", ""},
		{"http://[::1]:8443", "http://[::1]:8443", ""},
		{"http://hooks.example.com", "", "must be https"},
		{"http://10.0.0.1", "", "must be https"},
		{"hooks.example.com", "", "absolute URL"},
		{"ftp://hooks.example.com", "", "absolute URL"},
		{"https://user:pw@hooks.example.com", "", "user info"},
		{"https://hooks.example.com/?x=1", "", "query"},
		{"https://hooks.example.com/#f", "", "fragment"},
	} {
		got, err := api.ParsePublicURL(c.in)
		if c.err != "" {
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.err)) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// newHarnessPublic is newHarness with a public URL configured.
func newHarnessPublic(t *testing.T, public string) *harness {
	return newHarnessCfg(t, func(c *api.Config) { c.PublicURL = public })
}

// newHarnessCfg is newHarness with the API's configuration adjusted by set.
func newHarnessCfg(t *testing.T, set func(*api.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "switchboard.db")
	raw, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	clock := &atomic.Pointer[time.Time]{}
	clock.Store(&testNow)
	cfg := api.Config{Store: raw, Keyring: keys, Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time { return *clock.Load() }}
	set(&cfg)
	srv := api.New(cfg)
	admin := api.NewToken()
	if _, _, err := api.EnsureAdminToken(ctx, raw, admin); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: raw, raw: raw, keys: keys, api: srv, admin: admin, dbPath: dbPath, logs: logs, clock: clock}
	h.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// TestWebhookURL: installation and platform profile answers carry the full
// webhook_url beside webhook_path; without a public URL only the path.
func TestWebhookURL(t *testing.T) {
	h := newHarnessPublic(t, "https://hooks.example.com")
	f := h.fixture()
	_, inst := h.call("GET", "/v1/installations/"+f.org["A1"].inst, f.orgTok, nil)
	if inst["webhook_url"] != "https://hooks.example.com"+inst["webhook_path"].(string) {
		t.Errorf("installation webhook_url %v, path %v", inst["webhook_url"], inst["webhook_path"])
	}
	_, list := h.call("GET", "/v1/installations", f.orgTok, nil)
	if it := list["items"].([]any)[0].(map[string]any); it["webhook_url"] == nil {
		t.Errorf("listed installation without webhook_url: %v", it)
	}
	_, prof := h.call("GET", "/v1/profiles/"+f.platformProf, h.admin, nil)
	if prof["webhook_url"] != "https://hooks.example.com"+prof["webhook_path"].(string) {
		t.Errorf("platform profile webhook_url %v, path %v", prof["webhook_url"], prof["webhook_path"])
	}
	_, prof = h.call("GET", "/v1/profiles/"+f.platformProf, f.orgTok, nil)
	if prof["webhook_url"] != nil {
		t.Errorf("tenant sees the platform profile's shared webhook_url: %v", prof)
	}

	plain := newHarness(t, nil)
	o := plain.smallFixture()
	_, inst = plain.call("GET", "/v1/installations/"+o.inst, plain.admin, nil)
	if _, ok := inst["webhook_url"]; ok || inst["webhook_path"] == nil {
		t.Errorf("without a public URL: %v", inst)
	}
}
