package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	edgereport "github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

func reportBatch(id string) edgereport.Batch {
	from := testNow.Unix() - 4
	return edgereport.Batch{Version: 1, ID: id, Edge: "edge-1", Rows: []edgereport.Row{
		{Org: "org_a", Installation: "inst_slack_a", Profile: "prof_slack_a", Provider: "slack", Reason: "bad_signature", Count: 3, From: from, To: from + 2},
		{Org: "org_b", Installation: "inst_wa_b", Profile: "prof_wa_plat", Provider: "whatsapp", Reason: "revoked", Count: 1, From: from, To: from},
		{Profile: "prof_slack_plat", Platform: true, Provider: "slack", Reason: "missing_signature", Count: 2, From: from, To: from + 1},
		{Reason: "bad_signature", Summary: true, Count: 7, From: from, To: from + 3},
	}}
}

func (h *harness) report(body []byte, sig string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest("POST", edgereport.Path, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set(filter.HeaderReportSignature, sig)
	}
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, req)
	return w
}

func TestEdgeReportAudited(t *testing.T) {
	h := newHarness(t)
	body, err := edgereport.Encode(reportBatch(strings.Repeat("1", 32)))
	must(t, err)
	w := h.report(body, filter.SignReport(attKey, body, testNow.Unix()))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"audited":4`) {
		t.Fatalf("good batch: %d %s", w.Code, w.Body)
	}
	got := h.audits("webhook.reject")
	if len(got) != 4 {
		t.Fatalf("%d webhook.reject audit events, want 4: %+v", len(got), got)
	}
	want := []struct {
		org, target string
		detail      map[string]any
	}{
		{"org_a", "inst_slack_a", map[string]any{"source": "edge", "reason": "bad_signature", "provider": "slack", "count": 3.0,
			"from": "2026-03-02T09:29:56Z", "to": "2026-03-02T09:29:58Z", "edge": "edge-1"}},
		{"org_b", "inst_wa_b", map[string]any{"source": "edge", "reason": "revoked", "provider": "whatsapp", "count": 1.0,
			"from": "2026-03-02T09:29:56Z", "to": "2026-03-02T09:29:56Z", "edge": "edge-1"}},
		{"", "prof_slack_plat", map[string]any{"source": "edge", "reason": "missing_signature", "provider": "slack", "count": 2.0,
			"from": "2026-03-02T09:29:56Z", "to": "2026-03-02T09:29:57Z", "edge": "edge-1", "platform": true, "profile": "prof_slack_plat"}},
		{"", "", map[string]any{"source": "edge", "reason": "bad_signature", "provider": "", "count": 7.0,
			"from": "2026-03-02T09:29:56Z", "to": "2026-03-02T09:29:59Z", "edge": "edge-1", "summary": true}},
	}
	for i, ev := range got {
		var d map[string]any
		must(t, json.Unmarshal([]byte(ev.Detail), &d))
		if ev.OrgID != want[i].org || ev.Target != want[i].target || ev.Actor != "edge" || !ev.At.Equal(testNow) {
			t.Errorf("event %d: org %q target %q actor %q at %v", i, ev.OrgID, ev.Target, ev.Actor, ev.At)
		}
		if len(d) != len(want[i].detail) {
			t.Errorf("event %d detail %v, want %v", i, d, want[i].detail)
		}
		for k, v := range want[i].detail {
			if d[k] != v {
				t.Errorf("event %d detail %s = %v, want %v", i, k, d[k], v)
			}
		}
	}
	// Org A's audit log holds its row only.
	a, err := h.st.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{"org_a"}, Limit: 100})
	must(t, err)
	if len(a) != 1 || a[0].Target != "inst_slack_a" {
		t.Errorf("org_a sees %+v", a)
	}

	// The same batch again (a replay inside the signature window): not audited twice.
	w = h.report(body, filter.SignReport(attKey, body, testNow.Unix()))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"duplicate":true`) || len(h.audits("webhook.reject")) != 4 {
		t.Fatalf("replayed batch: %d %s, %d events", w.Code, w.Body, len(h.audits("webhook.reject")))
	}
}

func TestEdgeReportRefused(t *testing.T) {
	h := newHarness(t)
	body, _ := edgereport.Encode(reportBatch(strings.Repeat("2", 32)))
	now := testNow.Unix()
	otherKey := bytes.Repeat([]byte{3}, 32)
	var attestation string
	for _, kv := range filter.Attest(attKey, idSlackA, body, now) {
		if kv[0] == filter.HeaderAttestation {
			attestation = kv[1]
		}
	}
	malformed := func(s string) []byte { return []byte(s) }
	signed := func(b []byte) string { return filter.SignReport(attKey, b, now) }
	for _, c := range []struct {
		name   string
		body   []byte
		sig    string
		status int
		reason Reason
		field  string
	}{
		{"no signature", body, "", 401, ReasonReportSignatureMissing, ""},
		{"forged (other key)", body, filter.SignReport(otherKey, body, now), 401, ReasonReportSignatureInvalid, ""},
		{"stale", body, filter.SignReport(attKey, body, now-121), 401, ReasonReportSignatureInvalid, ""},
		{"future", body, filter.SignReport(attKey, body, now+121), 401, ReasonReportSignatureInvalid, ""},
		{"body changed after signing", append(bytes.Clone(body[:len(body)-1]), ' ', '}'), signed(body), 401, ReasonReportSignatureInvalid, ""},
		{"an attestation header as signature", body, attestation, 401, ReasonReportSignatureInvalid, ""},
		{"garbage signature", body, "v1,t=1,xx", 401, ReasonReportSignatureInvalid, ""},
		{"not json", malformed(`{`), signed(malformed(`{`)), 400, ReasonMalformedReport, "body"},
		{"bad version", malformed(`{"version":9}`), signed(malformed(`{"version":9}`)), 400, ReasonMalformedReport, "version"},
		{"bad row", malformed(`{"version":1,"id":"` + strings.Repeat("3", 32) + `","edge":"e","rows":[{"org":"org_a","provider":"slack","reason":"revoked","count":1,"from":1,"to":1}]}`),
			"", 400, ReasonMalformedReport, "rows[0].installation"},
		{"too large", bytes.Repeat([]byte(" "), edgereport.MaxBatchBytes+1), "", 413, ReasonBodyTooLarge, ""},
	} {
		sig := c.sig
		if sig == "" && c.status != 401 {
			sig = signed(c.body)
		}
		w := h.report(c.body, sig)
		var v map[string]any
		json.Unmarshal(w.Body.Bytes(), &v)
		if w.Code != c.status || v["error"] != string(c.reason) {
			t.Errorf("%s: %d %s, want %d %s", c.name, w.Code, w.Body, c.status, c.reason)
		}
		if c.field != "" && v["field"] != c.field {
			t.Errorf("%s: field %v, want %s", c.name, v["field"], c.field)
		}
	}
	if n := len(h.audits("webhook.reject")); n != 0 {
		t.Fatalf("refused reports wrote %d audit events", n)
	}
	// GET is not a report.
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, httptest.NewRequest("GET", edgereport.Path, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d", edgereport.Path, w.Code)
	}
}

// failingAudit fails the n-th AppendAudit made inside a transaction while armed.
type failingAudit struct {
	store.Store
	armed bool
	n     int
}

type failingQueries struct {
	store.Queries
	f     *failingAudit
	calls int
}

func (q *failingQueries) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	q.calls++
	if q.f.armed && q.calls == q.f.n {
		return 0, errors.New("injected audit failure")
	}
	return q.Queries.AppendAudit(ctx, e)
}

func (f *failingAudit) InTx(ctx context.Context, fn func(store.Queries) error) error {
	return f.Store.InTx(ctx, func(q store.Queries) error { return fn(&failingQueries{Queries: q, f: f}) })
}

// A batch whose audit fails part-way leaves nothing written and is not
// remembered as seen: the edge's resend is audited in full, once.
func TestEdgeReportAuditFailureWritesNothing(t *testing.T) {
	h := newHarness(t)
	fa := &failingAudit{Store: h.st, armed: true, n: 3}
	hh, err := New(Config{Store: fa, Queue: h.q, AttestationKey: attKey,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)), Now: func() time.Time { return testNow }})
	must(t, err)
	h.h = hh
	body, err := edgereport.Encode(reportBatch(strings.Repeat("2", 32)))
	must(t, err)
	if w := h.report(body, filter.SignReport(attKey, body, testNow.Unix())); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("audit failure: %d %s, want 503", w.Code, w.Body)
	}
	if got := h.audits("webhook.reject"); len(got) != 0 {
		t.Fatalf("%d audit events written by a failed batch, want none", len(got))
	}
	fa.armed = false
	w := h.report(body, filter.SignReport(attKey, body, testNow.Unix()))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"audited":4`) {
		t.Fatalf("resend after the failure: %d %s", w.Code, w.Body)
	}
	if got := h.audits("webhook.reject"); len(got) != 4 {
		t.Fatalf("%d audit events after the resend, want 4", len(got))
	}
}

// TestEdgeReportQuarantineAudited: a quarantined row (the edge started a
// quarantine of a tenant's ingress id) is audited as ingress.quarantined for
// that tenant, not as webhook.reject.
func TestEdgeReportQuarantineAudited(t *testing.T) {
	h := newHarness(t)
	from := testNow.Unix() - 4
	b := edgereport.Batch{Version: 1, ID: strings.Repeat("2", 32), Edge: "edge-1", Rows: []edgereport.Row{
		{Org: "org_a", Installation: "inst_slack_a", Profile: "prof_slack_a", Provider: "slack", Reason: "quarantined", Count: 1, From: from, To: from, Until: from + 60},
	}}
	body, err := edgereport.Encode(b)
	must(t, err)
	if w := h.report(body, filter.SignReport(attKey, body, testNow.Unix())); w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	if n := len(h.audits("webhook.reject")); n != 0 {
		t.Fatalf("%d webhook.reject events, want 0", n)
	}
	a, err := h.st.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{"org_a"}, Limit: 100})
	must(t, err)
	if len(a) != 1 || a[0].Action != "ingress.quarantined" || a[0].Target != "inst_slack_a" || !strings.Contains(a[0].Detail, `"reason":"quarantined"`) ||
		!strings.Contains(a[0].Detail, `"until":"`+time.Unix(from+60, 0).UTC().Format(time.RFC3339)+`"`) {
		t.Fatalf("org_a audit %+v, want one ingress.quarantined with its until", a)
	}
}
