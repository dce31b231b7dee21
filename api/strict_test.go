package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStrictJSON: a body with a key twice (exactly or in another letter
// case), a key in the wrong case, or invalid UTF-8 is refused with 400
// naming the key, and writes nothing. encoding/json alone keeps the last
// duplicate, matches keys case-insensitively and replaces invalid UTF-8.
func TestStrictJSON(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	cases := []struct {
		name, path, body string
		code, field      string
	}{
		{"duplicate key", "/v1/orgs", `{"name":"a","name":"b"}`, "duplicate_field", "name"},
		{"case-variant duplicate", "/v1/orgs", `{"name":"a","NAME":"b"}`, "duplicate_field", "NAME"},
		{"case-variant duplicate before a bad type", "/v1/orgs", `{"name":"a","Name":5}`, "duplicate_field", "Name"},
		{"key in the wrong case", "/v1/orgs", `{"Name":"a"}`, "unknown_field", "Name"},
		{"nested duplicate (selector)", "/v1/bindings", fmt.Sprintf(`{"installation_id":%q,"agent_id":%q,"selector":{"peer":"U1","peer":"U2"}}`, a1.inst, a1.agent), "duplicate_field", "selector.peer"},
		{"nested wrong case (selector)", "/v1/bindings", fmt.Sprintf(`{"installation_id":%q,"agent_id":%q,"selector":{"Peer":"U1"}}`, a1.inst, a1.agent), "unknown_field", "selector.Peer"},
		{"duplicate secret purpose", "/v1/installations", fmt.Sprintf(`{"org_id":%q,"profile_id":%q,"external_id":"TX","secrets":{"signing":%q,"Signing":%q}}`, a1.id, a1.prof, slackSigning, slackSigning2), "duplicate_field", "secrets.Signing"},
		{"duplicate in a list element", "/v1/providers/slack/stage", `{"stage":"canary","canary_orgs":["` + a1.id + `"],"stage":"on"}`, "duplicate_field", "stage"},
		{"invalid UTF-8 in a value", "/v1/orgs", "{\"name\":\"a\xffb\"}", "invalid_utf8", ""},
		{"invalid UTF-8 in a key", "/v1/orgs", "{\"na\xc3me\":\"a\"}", "invalid_utf8", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := "POST"
			if strings.HasSuffix(tc.path, "/stage") {
				method = "PUT"
			}
			before := h.generation()
			status, out := h.call(method, tc.path, h.admin, tc.body)
			if status != 400 {
				t.Fatalf("status %d, want 400: %v", status, out)
			}
			e, _ := out["error"].(map[string]any)
			if e["code"] != tc.code || (e["field"] != nil && e["field"] != tc.field) || (tc.field != "" && e["field"] != tc.field) {
				t.Fatalf("error %v, want code %s field %q", e, tc.code, tc.field)
			}
			if g := h.generation(); g != before {
				t.Errorf("refused request changed the store")
			}
		})
	}
	// The exact keys still work.
	if status, out := h.call("POST", "/v1/orgs", h.admin, `{"name":"fine"}`); status != 201 {
		t.Fatalf("well-formed body: %d %v", status, out)
	}
}

// TestContentType: a body must be declared application/json.
func TestContentType(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"", 415}, {"text/plain", 415}, {"application/x-www-form-urlencoded", 415}, {"application/json; charset=latin1", 415},
		{"application/jsonx", 415}, {"application/json", 201}, {"application/json; charset=utf-8", 201}, {"Application/JSON; charset=UTF-8", 201},
	} {
		t.Run(tc.ct, func(t *testing.T) {
			before := h.generation()
			req, _ := http.NewRequest("POST", h.srv.URL+"/v1/orgs", strings.NewReader(`{"name":"o-`+fmt.Sprint(time.Now().UnixNano())+`"}`))
			req.Header.Set("Authorization", "Bearer "+h.admin)
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("Content-Type %q: status %d, want %d: %s", tc.ct, resp.StatusCode, tc.status, raw)
			}
			if tc.status == 415 {
				if !strings.Contains(string(raw), `"unsupported_media_type"`) {
					t.Errorf("415 without its code: %s", raw)
				}
				if h.generation() != before {
					t.Errorf("refused request changed the store")
				}
			}
		})
	}
}

// TestParallelIdenticalBindings: 16 identical POSTs at once give exactly one
// 201; the others are 409 (the store's unique index decides, not a
// pre-check that all of them could pass).
func TestParallelIdenticalBindings(t *testing.T) {
	h := newHarness(t, nil)
	o := h.smallFixture()
	body := map[string]any{"installation_id": o.inst, "agent_id": o.agent, "persona": "p", "selector": map[string]string{"channel": "C1"}}
	const n = 16
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = h.callRaw("POST", "/v1/bindings", h.admin, body)
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", count, n-1)
	}
	_, list := h.call("GET", "/v1/bindings?installation_id="+o.inst, h.admin, nil)
	if items := list["items"].([]any); len(items) != 1 {
		t.Fatalf("%d bindings stored, want 1", len(items))
	}
	// The same binding is accepted again once the first is revoked.
	first := list["items"].([]any)[0].(map[string]any)["id"].(string)
	if status, _ := h.call("POST", "/v1/bindings/"+first+"/revoke", h.admin, nil); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	h.create("/v1/bindings", h.admin, body)
}

// TestListFilterScope: a list filter is applied or refused, never ignored.
func TestListFilterScope(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	for _, tc := range []struct {
		name, tok, path string
		status          int
		field           string
	}{
		{"agency_id with an org token", f.orgTok, "/v1/orgs?agency_id=" + f.agencyA, 400, "agency_id"},
		{"agency_id of another agency with an agency token", f.agencyTok, "/v1/orgs?agency_id=" + f.agencyB, 404, ""},
		{"own agency_id with an agency token", f.agencyTok, "/v1/orgs?agency_id=" + f.agencyA, 200, ""},
		{"unknown filter", f.orgTok, "/v1/agents?owner=" + a1.id, 400, "owner"},
		{"filter given twice", h.admin, "/v1/agents?org_id=" + a1.id + "&org_id=" + f.org["B1"].id, 400, "org_id"},
		{"empty filter", f.orgTok, "/v1/installations?org_id=", 400, "org_id"},
		{"two bindings filters", h.admin, "/v1/bindings?org_id=" + a1.id + "&installation_id=" + a1.inst, 400, "org_id"},
		{"filter on a list that takes none", h.admin, "/v1/providers?org_id=" + a1.id, 400, "org_id"},
		{"audit takes its filters", f.orgTok, "/v1/audit?org_id=" + a1.id + "&limit=5", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := h.call("GET", tc.path, tc.tok, nil)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if tc.field != "" {
				if e, _ := out["error"].(map[string]any); e["field"] != tc.field {
					t.Fatalf("error %v, want field %s", e, tc.field)
				}
			}
		})
	}
}

// TestAgentURLPolicy: unless the deployment allows private agent URLs, an
// agent URL naming a loopback, private, link-local or metadata address is
// refused when the agent is created.
func TestAgentURLPolicy(t *testing.T) {
	refused := []string{
		"http://127.0.0.1:8081/agent", "http://localhost/agent", "http://[::1]/", "http://10.0.0.5/",
		"http://192.168.1.10/", "http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/computeMetadata/v1/",
		"http://[fd00:ec2::254]/", "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f.1/", "http://0.0.0.0:80/",
	}
	strict := newHarness(t, nil)
	o := strict.smallFixture()
	for _, u := range refused {
		before := strict.generation()
		status, out := strict.call("POST", "/v1/agents", strict.admin, map[string]any{"org_id": o.id, "name": "a", "url": u})
		e, _ := out["error"].(map[string]any)
		if status != 400 || e["field"] != "url" {
			t.Errorf("%s: %d %v, want 400 on url", u, status, out)
		}
		if strict.generation() != before {
			t.Errorf("%s: refused agent written", u)
		}
	}
	strict.create("/v1/agents", strict.admin, map[string]any{"org_id": o.id, "name": "public", "url": "https://agent.example/hook"})

	open := newHarnessWith(t, nil, true)
	o2 := open.smallFixture()
	for _, u := range refused[:4] {
		open.create("/v1/agents", open.admin, map[string]any{"org_id": o2.id, "name": "dev", "url": u})
	}
}

// TestTokenExpiryAndRotation: a token with expires_at stops working then; a
// rotated token is replaced by a new value (same kind and subject), the old
// one revoked at once or valid until previous_valid_until; both audited.
func TestTokenExpiryAndRotation(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	exp := testNow.Add(time.Hour)
	tok := h.create("/v1/tokens", f.agencyTok, map[string]any{"kind": "org", "subject_id": f.org["A1"].id, "expires_at": exp.Format(time.RFC3339)})
	if tok["expires_at"] == nil {
		t.Fatalf("no expires_at in the answer: %v", tok)
	}
	value := tok["token"].(string)
	if status, _ := h.call("GET", "/v1/whoami", value, nil); status != 200 {
		t.Fatalf("token before expiry: %d", status)
	}
	for _, bad := range []string{"2029-01-01T00:00:00Z", "2032-01-01T00:00:00Z", "soon"} {
		if status, out := h.call("POST", "/v1/tokens", h.admin, map[string]any{"kind": "platform", "expires_at": bad}); status != 400 {
			t.Errorf("expires_at %s: %d %v", bad, status, out)
		}
	}

	// Rotation with a grace period: both work until then, then only the new one.
	until := testNow.Add(10 * time.Minute)
	status, rot := h.call("POST", "/v1/tokens/"+id(tok)+"/rotate", value, map[string]any{"previous_valid_until": until.Format(time.RFC3339)})
	if status != 201 || rot["replaces"] != id(tok) || rot["kind"] != "org" || rot["subject_id"] != f.org["A1"].id {
		t.Fatalf("rotate: %d %v", status, rot)
	}
	newValue := rot["token"].(string)
	if rot["expires_at"] == nil {
		t.Errorf("rotated token lost the previous expiry: %v", rot)
	}
	for _, v := range []string{value, newValue} {
		if status, _ := h.call("GET", "/v1/whoami", v, nil); status != 200 {
			t.Fatalf("during the grace period: %d", status)
		}
	}
	h.setNow(until)
	if status, _ := h.call("GET", "/v1/whoami", value, nil); status != 401 {
		t.Fatalf("previous token after previous_valid_until: %d, want 401", status)
	}
	if status, _ := h.call("GET", "/v1/whoami", newValue, nil); status != 200 {
		t.Fatalf("new token: %d", status)
	}
	h.setNow(exp)
	if status, _ := h.call("GET", "/v1/whoami", newValue, nil); status != 401 {
		t.Fatalf("new token after its expiry: %d, want 401", status)
	}
	h.setNow(testNow)

	// Rotation without a grace period revokes at once; a rotated-away
	// token cannot be rotated again.
	status, rot2 := h.call("POST", "/v1/tokens/"+id(rot)+"/rotate", h.admin, nil)
	if status != 201 {
		t.Fatalf("rotate: %d %v", status, rot2)
	}
	if status, _ := h.call("GET", "/v1/whoami", newValue, nil); status != 401 {
		t.Fatalf("rotated token still works: %d", status)
	}
	if status, _ := h.call("POST", "/v1/tokens/"+id(rot)+"/rotate", h.admin, nil); status != 409 {
		t.Fatalf("rotating a revoked token: %d, want 409", status)
	}
	_, audit := h.call("GET", "/v1/audit?org_id="+f.org["A1"].id+"&limit=1000", h.admin, nil)
	n := 0
	for _, e := range audit["items"].([]any) {
		if e.(map[string]any)["action"] == "token.rotate" {
			n++
			if strings.Contains(fmt.Sprint(e), "sbt_") {
				t.Errorf("audit event holds a token value: %v", e)
			}
		}
	}
	if n != 2 {
		t.Fatalf("%d token.rotate audit events, want 2", n)
	}
}
