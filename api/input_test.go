package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestBadInput: every refusal is a 4xx JSON error naming the field, and
// writes nothing.
func TestBadInput(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	inst := func(extra map[string]any) map[string]any {
		m := map[string]any{"org_id": a1.id, "profile_id": a1.prof, "external_id": "TNEW"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tgProf := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "telegram", "name": "tg"}))
	dcProf := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "discord", "name": "dc"}))
	swProf := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "standardwebhooks", "name": "sw"}))
	const swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ghProf := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "github", "name": "gh"}))
	twProf := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "twilio", "name": "tw"}))
	withSettings := func(m map[string]any, settings map[string]string) map[string]any {
		m["settings"] = settings
		return m
	}
	onProf := func(prof string, secrets map[string]string) map[string]any {
		return map[string]any{"org_id": a1.id, "profile_id": prof, "external_id": "X1", "secrets": secrets}
	}
	rot := "/v1/installations/" + a1.inst + "/secrets/signing/rotate"
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"no body", "POST", "/v1/orgs", "", 400, "invalid_json", ""},
		{"malformed JSON", "POST", "/v1/orgs", `{"name":`, 400, "invalid_json", ""},
		{"array body", "POST", "/v1/orgs", `[]`, 400, "invalid_json", ""},
		{"trailing data", "POST", "/v1/orgs", `{"name":"x"} {"name":"y"}`, 400, "invalid_json", ""},
		{"unknown field", "POST", "/v1/orgs", `{"name":"x","colour":"red"}`, 400, "unknown_field", "colour"},
		{"wrong type", "POST", "/v1/orgs", `{"name":5}`, 400, "invalid_field", "name"},
		{"oversized body", "POST", "/v1/orgs", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large", ""},
		{"missing name", "POST", "/v1/orgs", map[string]any{}, 400, "invalid_field", "name"},
		{"control char in name", "POST", "/v1/orgs", map[string]any{"name": "a\x00b"}, 400, "invalid_field", "name"},
		{"unknown agency", "POST", "/v1/orgs", map[string]any{"name": "x", "agency_id": "agc_nope"}, 400, "invalid_field", "agency_id"},
		{"unknown provider", "POST", "/v1/profiles", map[string]any{"org_id": a1.id, "provider": "myspace", "name": "x"}, 400, "invalid_field", "provider"},
		{"unknown secret purpose", "POST", "/v1/profiles", map[string]any{"org_id": a1.id, "provider": "slack", "name": "x", "secrets": map[string]string{"password": "x"}}, 400, "invalid_field", "secrets.password"},
		{"secret purpose of another provider", "POST", "/v1/profiles", map[string]any{"org_id": a1.id, "provider": "slack", "name": "x", "secrets": map[string]string{"public_key": discordKey}}, 400, "invalid_field", "secrets.public_key"},
		{"slack signing secret too short", "POST", "/v1/installations", inst(map[string]any{"secrets": map[string]string{"signing": "abc"}}), 400, "invalid_field", "secrets.signing"},
		{"slack bot token without xoxb-", "POST", "/v1/installations", inst(map[string]any{"secrets": map[string]string{"bot_token": "abc"}}), 400, "invalid_field", "secrets.bot_token"},
		{"secret of wrong JSON type", "POST", "/v1/installations", inst(map[string]any{"secrets": map[string]any{"signing": 5}}), 400, "invalid_field", "secrets.signing"},
		{"telegram secret_token bad chars", "POST", "/v1/installations", onProf(tgProf, map[string]string{"secret_token": "has space!"}), 400, "invalid_field", "secrets.secret_token"},
		{"telegram secret_token too long", "POST", "/v1/installations", onProf(tgProf, map[string]string{"secret_token": strings.Repeat("a", 257)}), 400, "invalid_field", "secrets.secret_token"},
		{"telegram bot token malformed", "POST", "/v1/installations", onProf(tgProf, map[string]string{"secret_token": telegramToken, "bot_token": "nocolon"}), 400, "invalid_field", "secrets.bot_token"},
		{"telegram without secret_token", "POST", "/v1/installations", onProf(tgProf, map[string]string{"bot_token": telegramBot}), 400, "invalid_field", "secrets.secret_token"},
		{"discord public key not hex", "POST", "/v1/installations", onProf(dcProf, map[string]string{"public_key": strings.Repeat("z", 64)}), 400, "invalid_field", "secrets.public_key"},
		{"discord public key short", "POST", "/v1/installations", onProf(dcProf, map[string]string{"public_key": "abcd"}), 400, "invalid_field", "secrets.public_key"},
		{"standard webhooks secret without whsec_", "POST", "/v1/installations", onProf(swProf, map[string]string{"signing": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}), 400, "invalid_field", "secrets.signing"},
		{"standard webhooks secret not base64", "POST", "/v1/installations", onProf(swProf, map[string]string{"signing": "whsec_!!!!"}), 400, "invalid_field", "secrets.signing"},
		{"provider mismatch", "POST", "/v1/installations", inst(map[string]any{"provider": "telegram"}), 400, "invalid_field", "provider"},
		{"standard webhooks without settings", "POST", "/v1/installations", onProf(swProf, map[string]string{"signing": swSecret}), 400, "invalid_field", "settings"},
		{"standard webhooks pointer not a JSON pointer", "POST", "/v1/installations", withSettings(onProf(swProf, map[string]string{"signing": swSecret}), map[string]string{"conversation_pointer": "data.channel"}), 400, "invalid_field", "settings"},
		{"standard webhooks unknown setting", "POST", "/v1/installations", withSettings(onProf(swProf, map[string]string{"signing": swSecret}), map[string]string{"conversation_pointer": "/data/channel", "colour": "red"}), 400, "invalid_field", "settings"},
		{"standard webhooks reply_url with credentials", "POST", "/v1/installations", withSettings(onProf(swProf, map[string]string{"signing": swSecret}), map[string]string{"conversation_pointer": "/c", "reply_url": "https://u:p@x.example/r"}), 400, "invalid_field", "settings"},
		{"settings for a provider that takes none", "POST", "/v1/installations", inst(map[string]any{"settings": map[string]string{"conversation_pointer": "/c"}}), 400, "invalid_field", "settings"},
		{"github bot token a broken private key", "POST", "/v1/installations", onProf(ghProf, map[string]string{"signing": "s", "bot_token": "-----BEGIN RSA PRIVATE KEY-----\nnotakey\n-----END RSA PRIVATE KEY-----\n"}), 400, "invalid_field", "secrets.bot_token"},
		{"platform standard webhooks profile", "POST", "/v1/profiles", map[string]any{"provider": "standardwebhooks", "name": "x"}, 400, "invalid_field", "org_id"},
		{"twilio bot token not credentials", "POST", "/v1/installations", onProf(twProf, map[string]string{"signing": strings.Repeat("a", 32), "bot_token": "justatoken"}), 400, "invalid_field", "secrets.bot_token"},
		{"missing external id", "POST", "/v1/installations", map[string]any{"org_id": a1.id, "profile_id": a1.prof}, 400, "invalid_field", "external_id"},
		{"missing profile", "POST", "/v1/installations", map[string]any{"org_id": a1.id, "external_id": "T"}, 400, "invalid_field", "profile_id"},
		{"unknown profile", "POST", "/v1/installations", inst(map[string]any{"profile_id": "prof_nope"}), 404, "not_found", "profile_id"},
		{"duplicate installation", "POST", "/v1/installations", map[string]any{"org_id": a1.id, "profile_id": a1.prof, "external_id": "TA1"}, 409, "conflict", ""},
		{"agent URL not http", "POST", "/v1/agents", map[string]any{"org_id": a1.id, "name": "a", "url": "ftp://x/y"}, 400, "invalid_field", "url"},
		{"agent URL relative", "POST", "/v1/agents", map[string]any{"org_id": a1.id, "name": "a", "url": "/agent"}, 400, "invalid_field", "url"},
		{"agent URL with credentials", "POST", "/v1/agents", map[string]any{"org_id": a1.id, "name": "a", "url": "https://u:p@x/"}, 400, "invalid_field", "url"},
		{"agent secret not whsec_", "POST", "/v1/agents", map[string]any{"org_id": a1.id, "name": "a", "url": "https://x/", "signing_secret": "plain"}, 400, "invalid_field", "signing_secret"},
		{"binding priority out of range", "POST", "/v1/bindings", map[string]any{"installation_id": a1.inst, "agent_id": a1.agent, "priority": 2000000}, 400, "invalid_field", "priority"},
		{"binding selector of wrong type", "POST", "/v1/bindings", map[string]any{"installation_id": a1.inst, "agent_id": a1.agent, "selector": map[string]any{"channel": 3}}, 400, "invalid_field", "selector.channel"},
		{"binding selector unknown key", "POST", "/v1/bindings", map[string]any{"installation_id": a1.inst, "agent_id": a1.agent, "selector": map[string]any{"planet": "x"}}, 400, "unknown_field", "planet"},
		{"binding unknown agent", "POST", "/v1/bindings", map[string]any{"installation_id": a1.inst, "agent_id": "agt_nope"}, 404, "not_found", "agent_id"},
		{"rotate without previous_valid_until", "POST", rot, map[string]any{"value": slackSigning2}, 400, "invalid_field", "previous_valid_until"},
		{"rotate with previous in the past", "POST", rot, map[string]any{"value": slackSigning2, "previous_valid_until": "2029-12-31T00:00:00Z"}, 400, "invalid_field", "previous_valid_until"},
		{"rotate with previous too far", "POST", rot, map[string]any{"value": slackSigning2, "previous_valid_until": "2030-03-01T00:00:00Z"}, 400, "invalid_field", "previous_valid_until"},
		{"rotate with bad time", "POST", rot, map[string]any{"value": slackSigning2, "previous_valid_until": "tomorrow"}, 400, "invalid_field", "previous_valid_until"},
		{"rotate with bad value", "POST", rot, map[string]any{"value": "short", "previous_valid_until": rotateUntil}, 400, "invalid_field", "value"},
		{"rotate unknown purpose", "POST", "/v1/installations/" + a1.inst + "/secrets/public_key/rotate", map[string]any{"value": discordKey, "previous_valid_until": rotateUntil}, 400, "invalid_field", "purpose"},
		{"stage unknown", "PUT", "/v1/providers/slack/stage", map[string]any{"stage": "maybe"}, 400, "invalid_field", "stage"},
		{"stage canary org unknown", "PUT", "/v1/providers/slack/stage", map[string]any{"stage": "canary", "canary_orgs": []string{a1.id, "org_nope"}}, 400, "invalid_field", "canary_orgs[1]"},
		{"stage canary orgs with on", "PUT", "/v1/providers/slack/stage", map[string]any{"stage": "on", "canary_orgs": []string{a1.id}}, 400, "invalid_field", "canary_orgs"},
		{"stage unknown provider", "PUT", "/v1/providers/myspace/stage", map[string]any{"stage": "on"}, 404, "not_found", ""},
		{"audit bad limit", "GET", "/v1/audit?limit=0", nil, 400, "invalid_field", "limit"},
		{"audit bad after", "GET", "/v1/audit?after=x", nil, 400, "invalid_field", "after"},
		{"token bad kind", "POST", "/v1/tokens", map[string]any{"kind": "root"}, 400, "invalid_field", "kind"},
		{"platform token with subject", "POST", "/v1/tokens", map[string]any{"kind": "platform", "subject_id": a1.id}, 400, "invalid_field", "subject_id"},
		{"unknown route", "GET", "/v1/nothing", nil, 404, "no_route", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := h.generation()
			status, out := h.call(tc.method, tc.path, h.admin, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			e, _ := out["error"].(map[string]any)
			if e == nil {
				t.Fatalf("no error object: %v", out)
			}
			if e["code"] != tc.code {
				t.Errorf("code %v, want %s (%v)", e["code"], tc.code, e)
			}
			field, _ := e["field"].(string)
			if field != tc.field {
				t.Errorf("field %q, want %q (%v)", field, tc.field, e)
			}
			if msg, _ := e["message"].(string); msg == "" {
				t.Errorf("empty message")
			}
			if g := h.generation(); g != before {
				t.Errorf("refused request changed the store (generation %d -> %d)", before, g)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	for _, tc := range []struct{ name, header string }{
		{"no header", ""},
		{"not bearer", "Basic " + h.admin},
		{"unknown token", "Bearer sbt_unknown"},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", h.srv.URL+"/v1/orgs", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
		})
	}
	// A token works, is shown once, and stops working once revoked.
	created := h.create("/v1/tokens", f.agencyTok, map[string]any{"kind": "org", "subject_id": f.org["A2"].id})
	tok := created["token"].(string)
	if !strings.HasPrefix(tok, "sbt_") {
		t.Fatalf("token %q", tok)
	}
	status, who := h.call("GET", "/v1/whoami", tok, nil)
	if status != 200 || who["kind"] != "org" || who["subject_id"] != f.org["A2"].id || who["token"] != nil {
		t.Fatalf("whoami: %d %v", status, who)
	}
	// The store keeps only the hash.
	if _, err := h.raw.GetTokenByHash(t.Context(), []byte(tok)); err == nil {
		t.Fatal("token stored in plaintext")
	}
	if status, _ := h.call("POST", "/v1/tokens/"+id(created)+"/revoke", tok, nil); status != 200 {
		t.Fatalf("self revoke: %d", status)
	}
	if status, _ := h.call("GET", "/v1/whoami", tok, nil); status != 401 {
		t.Fatalf("revoked token: %d, want 401", status)
	}
	// Revoking an organisation locks out its tokens.
	if status, _ := h.call("POST", "/v1/orgs/"+f.org["A2"].id+"/revoke", f.agencyTok, nil); status != 200 {
		t.Fatalf("agency revokes client org: %d", status)
	}
	if status, _ := h.call("GET", "/v1/whoami", f.orgA2Tok, nil); status != 401 {
		t.Fatalf("token of revoked org: %d, want 401", status)
	}
	// Org tokens cannot revoke their own organisation.
	if status, _ := h.call("POST", "/v1/orgs/"+f.org["A1"].id+"/revoke", f.orgTok, nil); status != 403 {
		t.Fatalf("org revokes itself: %d, want 403", status)
	}
}

// TestInstallationSettings: a Standard Webhooks installation keeps the
// settings it was created with (validated) and shows them.
func TestInstallationSettings(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	a1 := f.org["A1"]
	prof := id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": a1.id, "provider": "standardwebhooks", "name": "sw"}))
	settings := map[string]any{"conversation_pointer": "/data/channel", "reply_url": "https://svc.example/replies"}
	in := h.create("/v1/installations", h.admin, map[string]any{"org_id": a1.id, "profile_id": prof, "external_id": "svc",
		"secrets":  map[string]string{"signing": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "bot_token": "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGVzdHMtb25seQ=="},
		"settings": settings})
	code, got := h.call("GET", "/v1/installations/"+id(in), h.admin, nil)
	if code != http.StatusOK {
		t.Fatalf("get: %d", code)
	}
	if s, _ := got["settings"].(map[string]any); s["conversation_pointer"] != "/data/channel" || s["reply_url"] != "https://svc.example/replies" || len(s) != 2 {
		t.Fatalf("settings shown: %v", got["settings"])
	}
	// A provider without settings shows none.
	code, got = h.call("GET", "/v1/installations/"+a1.inst, h.admin, nil)
	if _, has := got["settings"]; code != http.StatusOK || has {
		t.Fatalf("slack installation: %d settings %v", code, got["settings"])
	}
}
