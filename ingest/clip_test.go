package ingest

import (
	"net/http"
	"strings"
	"testing"
)

// A client that bypasses the edge chooses the path and headers of a request
// ingest refuses, logs and audits: what is recorded must stay small, or a
// few requests a second (the unattested audit rate) grow the store by
// megabytes a second.
func TestRefusalRecordsBoundedClientValues(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("A", 200_000)
	w := h.post("/v1/hooks/slack"+long[:1000]+"/"+long+"%0aforged=1", nil, []byte(slackMsg), func(r *http.Request) {
		r.Header.Set("X-Slack-Retry-Num", long)
	})
	wantStatus(t, w, 401, ReasonAttestationMissing)
	ev := h.audits("webhook.reject")
	if len(ev) != 1 {
		t.Fatalf("%d webhook.reject audit events, want 1", len(ev))
	}
	if n := len(ev[0].Detail) + len(ev[0].Target); n > 1024 {
		t.Errorf("audit event records %d bytes of client-chosen values", n)
	}
	if !strings.Contains(ev[0].Target, "bytes)") {
		t.Errorf("audit target %.100q does not say it was clipped", ev[0].Target)
	}
	if n := h.logs.Len(); n > 2048 {
		t.Errorf("refusal log is %d bytes", n)
	}
}
