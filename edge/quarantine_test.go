package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/edge"
	"github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// readTracker is a request body that records whether anyone read it.
type readTracker struct {
	r    io.Reader
	read bool
}

func (t *readTracker) Read(p []byte) (int, error) { t.read = true; return t.r.Read(p) }

// TestForgedFloodIsQuarantined: an ingress id flooded with forged requests
// (wrong signing secret) past the threshold is answered 429 without its body
// being read, counted; valid traffic to another ingress id is still accepted.
func TestForgedFloodIsQuarantined(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	flooded := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	other := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-2"))
	cp := startCP(t, env, edgeKey, "")
	ing := newIngest(t, attKey)
	sink := newReportSink(t, attKey)
	u, _ := url.Parse(ing.srv.URL)
	ru, _ := url.Parse(sink.srv.URL + rejection.Path)
	h, err := edge.New(edge.Config{ControlPlane: cp.addr, NodeID: "edge-" + xdstest.ID("n"), EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: u, ReportURL: ru, ReportInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Quarantine: quarantine.Policy{Threshold: 5, CoolDown: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(context.Background(), wait)
	defer wcancel()
	if err := h.WaitVersion(wctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := 0; i < 6; i++ { // threshold 5: the 6th refusal starts the quarantine
		if rec := serve(slackRequest(t, "http://edge", flooded.IngressID, "forged-secret", false)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("forged request %d: %d %s, want 401", i, rec.Code, rec.Body)
		}
	}
	if q := h.Quarantined(); len(q) != 1 || q[0] != flooded.IngressID {
		t.Fatalf("quarantined %v, want [%s]", q, flooded.IngressID)
	}
	// Now even a correctly signed request to the flooded id gets the cheap
	// 429: its body is not read.
	req := slackRequest(t, "http://edge", flooded.IngressID, "slack-secret-1", false)
	b, _ := io.ReadAll(req.Body)
	body := &readTracker{r: bytes.NewReader(b)}
	req.Body = io.NopCloser(body)
	rec := serve(req)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "quarantined") || rec.Header().Get("Retry-After") != "3600" {
		t.Fatalf("request to the quarantined id: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if body.read {
		t.Fatal("the quarantined request's body was read")
	}
	// Valid traffic to another ingress id is unaffected.
	if rec := serve(slackRequest(t, "http://edge", other.IngressID, "slack-secret-2", false)); rec.Code != http.StatusOK {
		t.Fatalf("valid request to another ingress id: %d %s", rec.Code, rec.Body)
	}
	if acc, _ := ing.count(); acc != 1 {
		t.Fatalf("ingest got %d accepted requests, want 1", acc)
	}
	// The quarantine is reported to ingest once, for the tenant.
	eventually(t, wait, "quarantine reported", func() string {
		rows, _ := sink.rows()
		if n := rows[org+"/"+flooded.ID+"/slack/quarantined"]; n != 1 {
			return fmt.Sprintf("quarantined rows %d in %v", n, rows)
		}
		return ""
	})
	var m strings.Builder
	mrec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(mrec, httptest.NewRequest("GET", "/metrics", nil))
	m.WriteString(mrec.Body.String())
	for _, want := range []string{`switchboard_edge_quarantines_total{provider="slack"} 1`, `reason="quarantined"} 1`} {
		if !strings.Contains(m.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
