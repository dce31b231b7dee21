package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/api"
)

// TestTokenMetadata: GET /v1/tokens lists the tokens in the caller's scope
// (platform: all; agency: itself and its organisations' tokens;
// organisation: its own organisation's) and GET /v1/tokens/{id} shows one;
// neither answer carries a token value or hash; a rotation shows on both
// tokens.
func TestTokenMetadata(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": f.org["A1"].id})
	b1 := h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": f.org["B1"].id})
	agencyB := h.create("/v1/tokens", h.admin, map[string]any{"kind": "agency", "subject_id": f.agencyB})
	rot := h.create("/v1/tokens/"+id(a1)+"/rotate", f.agencyTok, nil)
	values := []string{a1["token"].(string), b1["token"].(string), agencyB["token"].(string), rot["token"].(string), f.orgTok, f.agencyTok, h.admin}

	whoami := func(tok string) string { _, m := h.call("GET", "/v1/whoami", tok, nil); return id(m) }
	list := func(tok string) []string {
		t.Helper()
		status, raw := h.callRaw("GET", "/v1/tokens", tok, nil)
		if status != 200 {
			t.Fatalf("list tokens: %d %s", status, raw)
		}
		for _, v := range values {
			if strings.Contains(string(raw), v) || strings.Contains(string(raw), api.TokenPrefix) {
				t.Fatalf("the list carries a token value: %s", raw)
			}
		}
		var l struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range l.Items {
			if _, ok := it["token"]; ok {
				t.Fatalf("item with a token: %v", it)
			}
			if _, ok := it["hash"]; ok {
				t.Fatalf("item with a hash: %v", it)
			}
			if it["created_at"] == nil || it["kind"] == nil {
				t.Fatalf("item without created_at or kind: %v", it)
			}
			ids = append(ids, id(it))
		}
		return ids
	}
	has := func(who string, ids []string, want, not []string) {
		t.Helper()
		for _, w := range want {
			if !slices.Contains(ids, w) {
				t.Errorf("%s: %s missing from %v", who, w, ids)
			}
		}
		for _, n := range not {
			if slices.Contains(ids, n) {
				t.Errorf("%s: sees %s out of its scope", who, n)
			}
		}
	}
	agencyA, orgA1, orgA2 := whoami(f.agencyTok), whoami(f.orgTok), whoami(f.orgA2Tok)
	has("platform", list(h.admin), []string{whoami(h.admin), agencyA, orgA1, orgA2, id(a1), id(b1), id(agencyB), id(rot)}, nil)
	has("agency A", list(f.agencyTok), []string{agencyA, orgA1, orgA2, id(a1), id(rot)}, []string{whoami(h.admin), id(b1), id(agencyB)})
	has("org A1", list(f.orgTok), []string{orgA1, id(a1), id(rot)}, []string{whoami(h.admin), agencyA, orgA2, id(b1), id(agencyB)})

	status, old := h.call("GET", "/v1/tokens/"+id(a1), f.orgTok, nil)
	if status != 200 || old["revoked"] != true || old["replaced_by"] != id(rot) || old["rotated_at"] == nil || old["token"] != nil {
		t.Errorf("rotated token: %d %v", status, old)
	}
	status, nt := h.call("GET", "/v1/tokens/"+id(rot), f.agencyTok, nil)
	if status != 200 || nt["revoked"] != false || nt["replaces"] != id(a1) || nt["subject_id"] != f.org["A1"].id || nt["token"] != nil {
		t.Errorf("rotation's token: %d %v", status, nt)
	}
	if status, _ := h.call("GET", "/v1/tokens/"+id(b1), f.orgTok, nil); status != 404 {
		t.Errorf("org A1 reads org B1's token: %d", status)
	}
	if status, _ := h.call("GET", "/v1/tokens/"+id(agencyB), f.agencyTok, nil); status != 404 {
		t.Errorf("agency A reads agency B's token: %d", status)
	}
	if status, _ := h.call("GET", "/v1/tokens?kind=org", h.admin, nil); status != 400 {
		t.Errorf("unknown query parameter: %d", status)
	}
}
