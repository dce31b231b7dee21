package edge_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/edge"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

const wait = 5 * time.Second

type ingest struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []filter.Identity
	hdrs []http.Header // of the accepted requests
	bad  int
}

// newIngest is a stand-in for ingest that trusts only the attestation.
func newIngest(t *testing.T, attKey []byte) *ingest {
	in := &ingest{}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, err := filter.VerifyAttestation(attKey, func(n string) string { return r.Header.Get(n) }, body, time.Now().Unix(), 60)
		in.mu.Lock()
		defer in.mu.Unlock()
		if err != nil || len(r.Header.Values("X-Switchboard-Org")) != 1 {
			in.bad++
			w.WriteHeader(401)
			return
		}
		in.got = append(in.got, id)
		in.hdrs = append(in.hdrs, r.Header.Clone())
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(in.srv.Close)
	return in
}

func (in *ingest) count() (int, int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.got), in.bad
}

type controlPlane struct {
	t      *testing.T
	env    *xdstest.Env
	key    []byte
	addr   string
	c      *xds.Controller
	cancel context.CancelFunc
	done   chan struct{}
}

func startCP(t *testing.T, env *xdstest.Env, key []byte, addr string) *controlPlane {
	t.Helper()
	return startCPTLS(t, env, key, addr, nil)
}

func startCPTLS(t *testing.T, env *xdstest.Env, key []byte, addr string, tlsCfg *tls.Config) *controlPlane {
	t.Helper()
	return startCPShards(t, env, key, addr, tlsCfg, 0)
}

// startCPShards starts a control plane serving the edge configuration in
// shards ECDS shards (0: one resource).
func startCPShards(t *testing.T, env *xdstest.Env, key []byte, addr string, tlsCfg *tls.Config, shards int) *controlPlane {
	t.Helper()
	c, err := xds.NewController(xds.ControllerConfig{Store: env.Store, Keyring: env.Keyring, EdgeKey: key,
		Resources: xds.ResourceOptions{IngestAddress: "127.0.0.1:1", Shards: shards}, PollInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp := &controlPlane{t: t, env: env, key: key, addr: lis.Addr().String(), c: c, cancel: cancel, done: make(chan struct{})}
	go func() {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = c.Serve(ctx, lis) }()
		go func() { defer wg.Done(); _ = c.Run(ctx) }()
		wg.Wait()
		close(cp.done)
	}()
	t.Cleanup(cp.stop)
	return cp
}

func (cp *controlPlane) stop() {
	cp.cancel()
	<-cp.done
}

func startEdge(t *testing.T, cpAddr string, edgeKey, attKey []byte, ingestURL string, run bool) (*edge.Host, *httptest.Server, func()) {
	t.Helper()
	u, _ := url.Parse(ingestURL)
	h, err := edge.New(edge.Config{ControlPlane: cpAddr, NodeID: "edge-" + xdstest.ID("n"), EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := func() {
		go func() { _ = h.Run(ctx); close(done) }()
	}
	if run {
		start()
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(wait):
		}
	})
	return h, srv, start
}

func slackRequest(t *testing.T, base, ingress, secret string, spoof bool) *http.Request {
	t.Helper()
	body := []byte(`{"type":"event_callback","event_id":"Ev1","team_id":"T1","event":{"type":"message","text":"hi"}}`)
	req, err := http.NewRequest("POST", base+"/v1/hooks/slack/"+ingress, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range sign.Slack(secret, time.Now().Unix(), body) {
		req.Header.Add(kv[0], kv[1])
	}
	req.Header.Set("Content-Type", "application/json")
	if spoof {
		req.Header.Set("X-Switchboard-Org", "org_evil")
		req.Header.Set("X-Switchboard-Installation", "inst_evil")
	}
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls f until it returns "" or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not within %v: %s", what, within, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func expect(t *testing.T, base, ingress, secret string, status int, reason string) func() string {
	return func() string {
		code, body := do(t, slackRequest(t, base, ingress, secret, true))
		if code != status || (reason != "" && !strings.Contains(body, reason)) {
			return body
		}
		return ""
	}
}

func TestEdgeLifecycle(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	first := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCP(t, env, edgeKey, "")
	ing := newIngest(t, attKey)
	h, srv, start := startEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, false)

	// No configuration yet: everything refused.
	if code, body := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1", false)); code != 503 || !strings.Contains(body, "no_config") {
		t.Fatalf("before first config: %d %s", code, body)
	}
	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	if rec.Code != 503 {
		t.Fatalf("GET /config before the first configuration: %d %s", rec.Code, rec.Body)
	}
	start()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.WaitVersion(ctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	// GET /config on the admin handler is the configuration in force, in the
	// format `switchboard verify --config` reads.
	rec = httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /config: %d %s", rec.Code, rec.Body)
	}
	if dumped, err := filter.Load(rec.Body.Bytes(), edgeKey); err != nil {
		t.Fatalf("GET /config does not load: %v", err)
	} else if dumped.Version() != h.Version() || dumped.Len() != 1 {
		t.Fatalf("GET /config: version %q (%d entries), in force %q", dumped.Version(), dumped.Len(), h.Version())
	}

	// Accepted, with spoofed identity headers replaced by the attested ones.
	if code, body := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1", true)); code != 200 {
		t.Fatalf("signed request: %d %s", code, body)
	}
	if n, bad := ing.count(); n != 1 || bad != 0 || ing.got[0].Org != org || ing.got[0].Installation != first.ID {
		t.Fatalf("ingest saw %d good %d bad %+v", n, bad, ing.got)
	}
	// Forged, unknown, oversized: refused at the edge, never forwarded.
	if code, body := do(t, slackRequest(t, srv.URL, first.IngressID, "wrong", false)); code != 401 || !strings.Contains(body, "bad_signature") {
		t.Fatalf("forged: %d %s", code, body)
	}
	if code, body := do(t, slackRequest(t, srv.URL, xdstest.IngressID(), "slack-secret-1", false)); code != 404 || !strings.Contains(body, "unknown_ingress") {
		t.Fatalf("unknown: %d %s", code, body)
	}
	big, _ := http.NewRequest("POST", srv.URL+"/v1/hooks/slack/"+first.IngressID, bytes.NewReader(make([]byte, filter.DefaultMaxBodyBytes+1)))
	if code, body := do(t, big); code != 413 || !strings.Contains(body, "body_too_large") {
		t.Fatalf("oversized: %d %s", code, body)
	}
	if n, _ := ing.count(); n != 1 {
		t.Fatalf("refused requests reached ingest: %d", n)
	}

	// A new installation is accepted within a second, and refused within a
	// second of its revocation.
	second := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-2"))
	eventually(t, time.Second, "new installation accepted", expect(t, srv.URL, second.IngressID, "slack-secret-2", 200, ""))
	env.Revoke(t, second.ID)
	eventually(t, time.Second, "revoked installation refused", expect(t, srv.URL, second.IngressID, "slack-secret-2", 403, "revoked"))

	// Rotation: the new secret works within a second, the previous one until
	// its window ends.
	env.Rotate(t, first.ID, store.PurposeSigning, []byte("slack-secret-1b"), time.Now().Add(time.Hour))
	eventually(t, time.Second, "rotated secret accepted", expect(t, srv.URL, first.IngressID, "slack-secret-1b", 200, ""))
	if code, _ := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1", false)); code != 200 {
		t.Fatalf("previous secret refused inside its window: %d", code)
	}

	// Control plane down: the edge keeps serving its last configuration.
	addr := cp.addr
	cp.stop()
	if code, _ := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1b", false)); code != 200 {
		t.Fatalf("edge stopped serving while the control plane is down: %d", code)
	}
	third := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-3"))
	// Back up on the same address: the edge reconnects and catches up.
	startCP(t, env, edgeKey, addr)
	eventually(t, 10*time.Second, "edge caught up after reconnect", expect(t, srv.URL, third.IngressID, "slack-secret-3", 200, ""))

	// Metrics by provider and reason on the admin handler.
	rec = httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`switchboard_edge_requests_total{decision="reject",provider="slack",reason="bad_signature"} `,
		`switchboard_edge_requests_total{decision="reject",provider="unknown",reason="unknown_ingress"} `,
		`switchboard_edge_requests_total{decision="reject",provider="unknown",reason="no_config"} 1` + "\n",
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// An edge that cannot load a configuration NACKs it and keeps the previous
// one; the control plane records the rejection and stops sending it.
func TestEdgeNACKKeepsPrevious(t *testing.T) {
	env := xdstest.NewEnv(t)
	cpKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	// Telegram entries carry only fingerprints: they load under any key.
	tg := env.Installation(t, org, "telegram", store.PurposeSecretToken, []byte("tg-secret-token"))
	cp := startCP(t, env, cpKey, "")
	ing := newIngest(t, attKey)
	// This edge has another edge key: it cannot unseal sealed secrets.
	h, srv, _ := startEdge(t, cp.addr, xdstest.Key(), attKey, ing.srv.URL, true)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.WaitVersion(ctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	v1 := h.Version()
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("sealed-one"))
	eventually(t, wait, "NACK recorded", func() string {
		st := cp.c.Status()
		if len(st.Rejections) == 0 || len(h.Rejected()) == 0 {
			return "no rejection yet"
		}
		if st.Rejections[0].AckedVersion != v1 || st.Rejections[0].Version != h.Rejected()[0] {
			return "unexpected rejection"
		}
		return ""
	})
	if h.Version() != v1 {
		t.Fatalf("edge moved to %s after NACK", h.Version())
	}
	// The previous configuration is still applied: the telegram path still
	// answers from it (wrong fingerprint key, so its token does not match,
	// but it is known: 401, not 404/503).
	req, _ := http.NewRequest("POST", srv.URL+"/v1/hooks/telegram/"+tg.IngressID, strings.NewReader(`{"update_id":1}`))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "tg-secret-token")
	if code, body := do(t, req); code == 503 || code == 404 {
		t.Fatalf("previous configuration not in force: %d %s", code, body)
	}
}

// TestEdgeStripsCredentialHeaders: after verifying a request the edge
// removes every provider credential header (Telegram's secret token, any
// Authorization, cookies, signatures) before forwarding, so ingest never
// sees a secret; the attestation still identifies the request.
func TestEdgeStripsCredentialHeaders(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	const token = "tg_Secret-Token_0123456789"
	tg := env.Installation(t, org, "telegram", store.PurposeSecretToken, []byte(token))
	sl := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCP(t, env, edgeKey, "")
	ing := newIngest(t, attKey)
	h, srv, _ := startEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, true)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.WaitVersion(ctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/hooks/telegram/"+tg.IngressID, strings.NewReader(`{"update_id":5}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sign.HeaderTelegramToken, token)
	req.Header.Set("Authorization", "Bearer sbt_leaked_value")
	req.Header.Set("Cookie", "session=s3cret")
	req.Header.Set("User-Agent", "TelegramBot (like TwitterBot)")
	if code, body := do(t, req); code != 200 {
		t.Fatalf("telegram: %d %s", code, body)
	}
	if code, body := do(t, slackRequest(t, srv.URL, sl.IngressID, "slack-secret-1", false)); code != 200 {
		t.Fatalf("slack: %d %s", code, body)
	}
	ing.mu.Lock()
	defer ing.mu.Unlock()
	if len(ing.hdrs) != 2 {
		t.Fatalf("ingest saw %d requests", len(ing.hdrs))
	}
	for _, hd := range ing.hdrs {
		for name, vals := range hd {
			for _, v := range vals {
				if filter.IsCredentialHeader(name) || strings.Contains(v, token) || strings.Contains(v, "sbt_leaked") || strings.Contains(v, "s3cret") {
					t.Errorf("credential reached ingest: %s: %s", name, v)
				}
			}
		}
	}
	if ing.hdrs[0].Get("User-Agent") == "" || ing.hdrs[1].Get(sign.HeaderSlackTimestamp) == "" {
		t.Errorf("non-credential headers removed: %v", ing.hdrs)
	}
}

// TestEdgeOverMTLS: the native edge subscribes over mTLS with its node
// certificate (its id and group taken from it), gets the configuration and
// forwards to ingest over mTLS with the same certificate; an edge whose
// declared node differs from its certificate does not start.
func TestEdgeOverMTLS(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	ca, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(r pki.Request) tls.Certificate {
		r.Validity = time.Hour
		is, err := ca.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := is.TLS()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	server := issue(pki.Request{Hosts: []string{"127.0.0.1"}})
	nodeCert := issue(pki.Request{Node: &pki.Identity{Node: "edge-tls-1", Group: "canary"}})
	cp := startCPTLS(t, env, edgeKey, "", pki.ServerTLS(server, ca.Pool()))

	// ingest over mTLS: it requires the edge's node certificate.
	ing := newIngest(t, attKey)
	ing.srv.Close()
	ing.srv = httptest.NewUnstartedServer(ing.srv.Config.Handler)
	ing.srv.TLS = pki.ServerTLS(server, ca.Pool())
	ing.srv.StartTLS()
	t.Cleanup(ing.srv.Close)
	u, _ := url.Parse(ing.srv.URL)
	clientTLS := pki.ClientTLS(nodeCert, ca.Pool())
	tr := &http.Transport{TLSClientConfig: clientTLS}

	if _, err := edge.New(edge.Config{ControlPlane: cp.addr, NodeID: "edge-other", EdgeKey: edgeKey, AttestationKey: attKey, Ingest: u, XDSTLS: clientTLS}); err == nil || !strings.Contains(err.Error(), "edge-tls-1") {
		t.Fatalf("edge declaring another node than its certificate: %v", err)
	}
	h, err := edge.New(edge.Config{ControlPlane: cp.addr, EdgeKey: edgeKey, AttestationKey: attKey, Ingest: u, XDSTLS: clientTLS, Transport: tr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(context.Background(), wait)
	defer wcancel()
	if err := h.WaitVersion(wctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatalf("no configuration over mTLS: %v", err)
	}
	st := cp.c.Status()
	if len(st.Nodes) != 1 || st.Nodes[0].ID != "edge-tls-1" || st.Nodes[0].Group != "canary" {
		t.Fatalf("control plane sees %+v, want edge-tls-1 in canary (from its certificate)", st.Nodes)
	}
	if code, body := do(t, slackRequest(t, srv.URL, inst.IngressID, "slack-secret-1", false)); code != 200 {
		t.Fatalf("forward over mTLS: %d %s", code, body)
	}
	if n, bad := ing.count(); n != 1 || bad != 0 {
		t.Fatalf("ingest saw %d good %d bad", n, bad)
	}
	// Ingest over mTLS refuses a client without the node certificate.
	if _, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}).Post(ing.srv.URL+"/v1/hooks/slack/x", "application/json", nil); err == nil {
		t.Fatal("ingest over mTLS accepted a client without a certificate")
	}
}
