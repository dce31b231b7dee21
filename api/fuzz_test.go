package api_test

import (
	"strings"
	"testing"
)

// FuzzRequestBodies throws arbitrary bodies at the create routes: the API
// never fails internally on outside input, refusals are JSON errors, and a
// refused request writes nothing.
func FuzzRequestBodies(f *testing.F) {
	seeds := []string{
		`{"org_id":"ORG","profile_id":"PROF","external_id":"T1","secrets":{"signing":"8f742231b10e8888abcd99yyyzzz85a5"}}`,
		`{"org_id":"ORG","profile_id":"PROF","external_id":"T2","secrets":{"signing":5}}`,
		`{"org_id":"ORG","name":"a","url":"https://x/","signing_secret":"whsec_AAAA"}`,
		`{"installation_id":"INST","agent_id":"AGT","selector":{"channel":"C"},"priority":1e99}`,
		`{"name":"\u0000"}`, `[]`, `null`, `{"a":`, `{"secrets":{"x":{"y":1}}}`, "",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		h := newHarness(t, nil)
		a1 := h.smallFixture()
		body = strings.NewReplacer("ORG", a1.id, "PROF", a1.prof, "INST", a1.inst, "AGT", a1.agent).Replace(body)
		paths := []string{"/v1/installations", "/v1/agents", "/v1/bindings", "/v1/orgs", "/v1/profiles", "/v1/installations/" + a1.inst + "/secrets/signing/rotate"}
		path := paths[int(route)%len(paths)]
		before := h.generation()
		status, raw := h.callRaw("POST", path, h.admin, body)
		if status >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, status, raw)
		}
		if status >= 400 {
			if !strings.Contains(string(raw), `"error"`) {
				t.Fatalf("refusal without error object: %s", raw)
			}
			if g := h.generation(); g != before {
				t.Fatalf("refused request wrote to the store")
			}
		}
	})
}
