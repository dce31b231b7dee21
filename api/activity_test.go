package api_test

import (
	"testing"
	"time"
)

// TestInstallationShowsAcceptedActivity: GET /v1/installations/{id} shows
// when ingest first and last accepted its events, once it has.
func TestInstallationShowsAcceptedActivity(t *testing.T) {
	h := newHarness(t, nil)
	org := id(h.create("/v1/orgs", h.admin, map[string]any{"name": "Acme"}))
	prof := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": org, "provider": "telegram", "name": "bot"}))
	inst := id(h.create("/v1/installations", h.admin, map[string]any{"org_id": org, "profile_id": prof, "external_id": "123456",
		"secrets": map[string]string{"secret_token": telegramToken, "bot_token": telegramBot}}))
	if _, got := h.call("GET", "/v1/installations/"+inst, h.admin, nil); got["first_accepted_at"] != nil || got["last_accepted_at"] != nil {
		t.Fatalf("before any event: %v", got)
	}
	first, last := testNow.Add(-time.Hour), testNow.Add(-time.Minute)
	if err := h.raw.RecordAccepted(t.Context(), inst, first); err != nil {
		t.Fatal(err)
	}
	if err := h.raw.RecordAccepted(t.Context(), inst, last); err != nil {
		t.Fatal(err)
	}
	code, got := h.call("GET", "/v1/installations/"+inst, h.admin, nil)
	if code != 200 || got["first_accepted_at"] != first.Format(time.RFC3339) || got["last_accepted_at"] != last.Format(time.RFC3339) {
		t.Fatalf("after two recorded events: %d %v", code, got)
	}
}
