package ingest

import (
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// TestOrgRateLimit: an organisation over its token bucket is answered 429
// rate_limited with Retry-After and nothing is enqueued; another
// organisation is unaffected; a shared platform app's organisation is
// limited once its installation is resolved; a flood of refusals is audited
// once per interval, not once per request. The harness clock stands still,
// so the bucket never refills.
func TestOrgRateLimit(t *testing.T) {
	h := newHarness(t)
	ls := h.st.(store.Limits)
	must(t, ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: "org_a", RatePerSec: 1, Burst: 2, UpdatedAt: t0}))
	for i, ev := range []string{"EvR1", "EvR2"} {
		w := h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", ev))
		if w.Code != 200 {
			t.Fatalf("request %d inside the burst: %d %s", i, w.Code, w.Body)
		}
	}
	for _, ev := range []string{"EvR3", "EvR4"} {
		w := h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", ev))
		wantStatus(t, w, 429, ReasonRateLimited)
		if ra := w.Header().Get("Retry-After"); ra != "1" {
			t.Fatalf("Retry-After %q, want 1", ra)
		}
	}
	if n := len(h.tasks(t)); n != 2 {
		t.Fatalf("%d tasks enqueued, want the 2 inside the burst", n)
	}
	// org_b (shared platform app, no limit) is unaffected.
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "EvS1")), 200, "")
	// Its own limit applies once its installation is resolved from the body.
	must(t, ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: "org_b", RatePerSec: 1, Burst: 1, UpdatedAt: t0}))
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "EvS2")), 200, "")
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "EvS3")), 429, ReasonRateLimited)
	if n := len(h.tasks(t)); n != 4 {
		t.Fatalf("%d tasks enqueued, want 4", n)
	}
	a, err := h.st.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{"org_a"}, Limit: 100})
	must(t, err)
	n := 0
	for _, e := range a {
		if e.Action == "webhook.reject" && strings.Contains(e.Detail, `"rate_limited"`) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d rate_limited audit events for two refusals within %s, want 1", n, noteEvery)
	}
	// Clearing the limit lets the organisation through at once.
	must(t, ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: "org_a", UpdatedAt: t0}))
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvR5")), 200, "")
}
