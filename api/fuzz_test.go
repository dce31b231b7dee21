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

// FuzzOrgLimitsBody throws arbitrary bodies at PUT /v1/orgs/{id}/limits: never
// an internal failure; a refusal is a JSON error and writes nothing; an
// accepted body stores limits within their bounds that GET answers back.
func FuzzOrgLimitsBody(f *testing.F) {
	for _, s := range []string{
		`{"rate_per_sec":50,"burst":100,"max_in_flight":4}`, `{"rate_per_sec":0,"burst":0,"max_in_flight":0}`,
		`{"rate_per_sec":1e3,"burst":-1,"max_in_flight":4}`, `{"rate_per_sec":1,"burst":1,"max_in_flight":1,"RATE_PER_SEC":2}`,
		`{"rate_per_sec":null,"burst":1,"max_in_flight":1}`, `{"rate_per_sec":99999999999999999999,"burst":1,"max_in_flight":1}`,
		`[]`, `null`, `{`, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h := newHarness(t, nil)
		a1 := h.smallFixture()
		path := "/v1/orgs/" + a1.id + "/limits"
		before := h.generation()
		status, raw := h.callRaw("PUT", path, h.admin, body)
		switch {
		case status >= 500:
			t.Fatalf("PUT %q: %d %s", body, status, raw)
		case status >= 400:
			if !strings.Contains(string(raw), `"error"`) {
				t.Fatalf("refusal without error object: %s", raw)
			}
			if h.generation() != before {
				t.Fatal("refused request wrote to the store")
			}
		default:
			_, got := h.call("GET", path, h.admin, nil)
			r, b, m := got["rate_per_sec"].(float64), got["burst"].(float64), got["max_in_flight"].(float64)
			if r < 0 || r > 100000 || b < 0 || b > 1000000 || m < 0 || m > 10000 || b > 0 && r == 0 {
				t.Fatalf("PUT %q stored out-of-bounds limits %v", body, got)
			}
		}
	})
}
