package api_test

import (
	"strings"
	"testing"
)

// TestOrgLimits: the platform sets an organisation's limits, the
// organisation and its agency read them but may not set them, every field is
// required and bounded, a burst needs a rate, and all-zero clears them.
func TestOrgLimits(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	org := f.org["A1"].id
	path := "/v1/orgs/" + org + "/limits"

	status, got := h.call("GET", path, f.orgTok, nil)
	if status != 200 || got["org_id"] != org || got["rate_per_sec"] != 0.0 || got["max_in_flight"] != 0.0 || got["updated_at"] != nil {
		t.Fatalf("limits before any: %d %v", status, got)
	}
	status, got = h.call("PUT", path, h.admin, map[string]any{"rate_per_sec": 20, "burst": 40, "max_in_flight": 3})
	if status != 200 || got["rate_per_sec"] != 20.0 || got["burst"] != 40.0 || got["max_in_flight"] != 3.0 || got["updated_at"] == nil {
		t.Fatalf("put limits: %d %v", status, got)
	}
	for _, tok := range []string{f.orgTok, f.agencyTok} {
		status, got = h.call("GET", path, tok, nil)
		if status != 200 || got["rate_per_sec"] != 20.0 || got["burst"] != 40.0 || got["max_in_flight"] != 3.0 {
			t.Fatalf("limits as read by a tenant: %d %v", status, got)
		}
		// Raising its own limit is refused and changes nothing.
		before := h.generation()
		status, raw := h.callRaw("PUT", path, tok, map[string]any{"rate_per_sec": 1000, "burst": 1000, "max_in_flight": 100})
		if status != 403 || !strings.Contains(string(raw), `"forbidden"`) {
			t.Fatalf("tenant sets its own limits: %d %s", status, raw)
		}
		if h.generation() != before {
			t.Fatal("a refused PUT changed the store")
		}
	}
	bad := []struct {
		body  any
		field string
		code  string
	}{
		{map[string]any{"burst": 1, "max_in_flight": 1}, "rate_per_sec", "invalid_field"},
		{map[string]any{"rate_per_sec": 1, "max_in_flight": 1}, "burst", "invalid_field"},
		{map[string]any{"rate_per_sec": 1, "burst": 1}, "max_in_flight", "invalid_field"},
		{map[string]any{"rate_per_sec": -1, "burst": 1, "max_in_flight": 1}, "rate_per_sec", "invalid_field"},
		{map[string]any{"rate_per_sec": 100001, "burst": 1, "max_in_flight": 1}, "rate_per_sec", "invalid_field"},
		{map[string]any{"rate_per_sec": 1, "burst": 1000001, "max_in_flight": 1}, "burst", "invalid_field"},
		{map[string]any{"rate_per_sec": 1, "burst": 1, "max_in_flight": 10001}, "max_in_flight", "invalid_field"},
		{map[string]any{"rate_per_sec": 0, "burst": 5, "max_in_flight": 1}, "burst", "invalid_field"},
		{map[string]any{"rate_per_sec": 1, "burst": 1, "max_in_flight": 1, "concurrency": 2}, "", "unknown_field"},
		{`{"rate_per_sec": 1.5, "burst": 1, "max_in_flight": 1}`, "", ""},
		{`{"rate_per_sec": "1", "burst": 1, "max_in_flight": 1}`, "", ""},
	}
	for _, b := range bad {
		status, raw := h.callRaw("PUT", path, h.admin, b.body)
		if status != 400 {
			t.Errorf("PUT %v: status %d, want 400: %s", b.body, status, raw)
			continue
		}
		if b.field != "" && !strings.Contains(string(raw), `"field": "`+b.field+`"`) {
			t.Errorf("PUT %v: does not name field %s: %s", b.body, b.field, raw)
		}
		if b.code != "" && !strings.Contains(string(raw), `"code": "`+b.code+`"`) {
			t.Errorf("PUT %v: code is not %s: %s", b.body, b.code, raw)
		}
	}
	status, got = h.call("GET", path, h.admin, nil)
	if status != 200 || got["rate_per_sec"] != 20.0 {
		t.Fatalf("a refused PUT changed the limits: %v", got)
	}
	status, got = h.call("PUT", path, h.admin, map[string]any{"rate_per_sec": 0, "burst": 0, "max_in_flight": 0})
	if status != 200 || got["updated_at"] != nil || got["rate_per_sec"] != 0.0 {
		t.Fatalf("clear limits: %d %v", status, got)
	}
	status, _ = h.call("GET", "/v1/orgs/org_missing/limits", h.admin, nil)
	if status != 404 {
		t.Fatalf("limits of a missing org: %d", status)
	}
	// Audited for the organisation.
	status, raw := h.callRaw("GET", "/v1/audit?org_id="+org, f.orgTok, nil)
	if status != 200 || strings.Count(string(raw), `"org.limits"`) != 2 {
		t.Fatalf("audit of limit changes: %d %s", status, raw)
	}
}
