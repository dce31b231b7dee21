package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseConfigErrorsNameTheField(t *testing.T) {
	okInst := `{"ingress_id":"a0000000000000000000000000000001","provider":"slack","scheme":"slack_v0","org_id":"org_a","installation_id":"inst_a","profile_id":"prof_a","secrets":[%s]}`
	fp := Fingerprint(testEdgeKey, "tok")
	with := func(inst string) string { return `{"version":"1","installations":[` + inst + `]}` }
	instWith := func(secrets string) string { return strings.Replace(okInst, "%s", secrets, 1) }
	cases := []struct{ name, in, field string }{
		{"not an object", `[]`, ""},
		{"bad json", `{"version":`, ""},
		{"trailing data", `{} {}`, ""},
		{"unknown top-level field", `{"versions":"1"}`, "versions"},
		{"duplicate key", `{"version":"1","version":"2"}`, ""},
		{"installations not array", `{"installations":{}}`, "installations"},
		{"unknown installation field", with(`{"ingress":"x"}`), "installations[0].ingress"},
		{"bad ingress id", with(strings.Replace(instWith(""), "a0000000000000000000000000000001", "A0000000000000000000000000000001", 1)), "installations[0].ingress_id"},
		{"duplicate ingress id", `{"installations":[` + instWith("") + `,` + instWith("") + `]}`, "installations[1].ingress_id"},
		{"unknown scheme", with(strings.Replace(instWith(""), `"slack_v0"`, `"slack_v1"`, 1)), "installations[0].scheme"},
		{"scheme does not fit provider", with(strings.Replace(instWith(""), `"slack_v0"`, `"line"`, 1)), "installations[0].scheme"},
		{"missing org for org installation", with(strings.Replace(instWith(""), `"org_id":"org_a",`, "", 1)), "installations[0].org_id"},
		{"platform with org", with(strings.Replace(instWith(""), `"org_id"`, `"platform":true,"org_id"`, 1)), "installations[0].org_id"},
		{"missing profile", with(strings.Replace(instWith(""), `"profile_id":"prof_a",`, "", 1)), "installations[0].profile_id"},
		{"string for bool", with(strings.Replace(instWith(""), `"org_id"`, `"revoked":"yes","org_id"`, 1)), "installations[0].revoked"},
		{"fraction for int", with(strings.Replace(instWith(""), `"org_id"`, `"max_body_bytes":1.5,"org_id"`, 1)), "installations[0].max_body_bytes"},
		{"negative limit", with(strings.Replace(instWith(""), `"org_id"`, `"max_body_bytes":-1,"org_id"`, 1)), "installations[0].max_body_bytes"},
		{"tolerance too large", with(strings.Replace(instWith(""), `"org_id"`, `"tolerance_seconds":86400,"org_id"`, 1)), "installations[0].tolerance_seconds"},
		{"public url with query", with(strings.Replace(instWith(""), `"org_id"`, `"public_url":"https://x.example/a?b=1","org_id"`, 1)), "installations[0].public_url"},
		{"public url not absolute", with(strings.Replace(instWith(""), `"org_id"`, `"public_url":"/hooks","org_id"`, 1)), "installations[0].public_url"},
		{"secret purpose wrong for scheme", with(instWith(`{"id":"s1","purpose":"public_key","sealed":"sb1:x"}`)), "installations[0].secrets[0].purpose"},
		{"signing secret with fingerprint", with(instWith(`{"id":"s1","purpose":"signing","fingerprint":"` + fp + `"}`)), "installations[0].secrets[0]"},
		{"secret without id", with(instWith(`{"purpose":"signing","sealed":"sb1:x"}`)), "installations[0].secrets[0].id"},
		{"duplicate secret id", with(instWith(`{"id":"s1","purpose":"signing","sealed":"sb1:x"},{"id":"s1","purpose":"signing","sealed":"sb1:y"}`)), "installations[0].secrets[1].id"},
		{"window inverted", with(instWith(`{"id":"s1","purpose":"signing","sealed":"sb1:x","not_before":10,"not_after":5}`)), "installations[0].secrets[0].not_after"},
		{"unknown secret field", with(instWith(`{"id":"s1","purpose":"signing","plain":"oops"}`)), "installations[0].secrets[0].plain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConfigError", err)
			}
			if ce.Field != c.field {
				t.Fatalf("field %q, want %q (%v)", ce.Field, c.field, err)
			}
		})
	}
	// Meta: bad fingerprint format.
	meta := `{"installations":[{"ingress_id":"b0000000000000000000000000000001","provider":"whatsapp","scheme":"meta_sha256","org_id":"o","installation_id":"i","profile_id":"p","secrets":[{"id":"v","purpose":"verify_token","fingerprint":"sha256:abc"}]}]}`
	if _, err := ParseConfig([]byte(meta)); err == nil || !strings.Contains(err.Error(), "secrets[0].fingerprint") {
		t.Fatalf("bad fingerprint: %v", err)
	}
	// A custom provider on a known scheme is fine.
	custom := `{"installations":[{"ingress_id":"b0000000000000000000000000000001","provider":"clerk","scheme":"standard_webhooks","org_id":"o","installation_id":"i","profile_id":"p","secrets":[]}]}`
	if _, err := ParseConfig([]byte(custom)); err != nil {
		t.Fatalf("custom provider: %v", err)
	}
}

func TestLoadFailsClosed(t *testing.T) {
	good := configJSON(t, inst(t, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s1", purpose: PurposeSigning, plain: "x"}))
	if _, err := Load(good, testEdgeKey); err != nil {
		t.Fatal(err)
	}
	otherKey := []byte("ffffffffffffffffffffffffffffffff")
	if _, err := Load(good, otherKey); err == nil || !strings.Contains(err.Error(), "secrets[0].sealed") {
		t.Fatalf("wrong edge key: %v", err)
	}
	if _, err := Load(good, testEdgeKey[:16]); !errors.Is(err, ErrEdgeKey) {
		t.Fatalf("short edge key: %v", err)
	}
	// A sealed secret moved to another ingress id does not open (AAD binding).
	moved := strings.Replace(string(good), ingSlackA, ingSlackB, 1)
	if _, err := Load([]byte(moved), testEdgeKey); err == nil {
		t.Fatal("sealed secret moved to another ingress id was accepted")
	}
	// Discord key that is not a key.
	bad := configJSON(t, inst(t, ingDiscord, "discord", SchemeDiscordEd25519, "org_d", secretSpec{id: "k", purpose: PurposePublicKey, plain: "nothex"}))
	if _, err := Load(bad, testEdgeKey); err == nil {
		t.Fatal("bad public key accepted")
	}
	badSW := configJSON(t, inst(t, ingSW, "standardwebhooks", SchemeStandardWebhooks, "org_s", secretSpec{id: "k", purpose: PurposeSigning, plain: "whsec_***"}))
	if _, err := Load(badSW, testEdgeKey); err == nil {
		t.Fatal("bad whsec secret accepted")
	}
}

func TestNoConfigRefusesEverything(t *testing.T) {
	req := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	var nilEdge *Edge
	if d := nilEdge.Decide(req, T0); d.Reason != ReasonNoConfig || d.Status != 503 || d.Accept {
		t.Fatalf("nil edge: %s", d.JSONLine())
	}
	e, err := Load(configJSON(t, inst(t, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s1", purpose: PurposeSigning, plain: "slack-secret-A"})), testEdgeKey)
	if err != nil {
		t.Fatal(err)
	}
	if d := e.Decide(req, T0); d.Reason != ReasonNoConfig {
		t.Fatalf("edge without attestation key: %s", d.JSONLine())
	}
	e.SetAttestationKey(testAttestKey)
	if d := e.Decide(req, T0); !d.Accept {
		t.Fatalf("after SetAttestationKey: %s", d.JSONLine())
	}
	if _, d := nilEdge.Lookup("POST", "/v1/hooks/slack/"+ingSlackA); d == nil || d.Reason != ReasonNoConfig {
		t.Fatal("nil edge lookup")
	}
}

func TestLookup(t *testing.T) {
	e := matrixEdge(t)
	r, d := e.Lookup("POST", hookPath("slack", ingSlackA)+"?x=1")
	if d != nil || r.Installation == nil || r.Installation.OrgID != "org_a" || r.MaxBodyBytes != DefaultMaxBodyBytes || r.Identity.IngressID != ingSlackA {
		t.Fatalf("lookup: %+v %+v", r, d)
	}
	if _, d := e.Lookup("POST", hookPath("slack", ingSlackRev)); d == nil || d.Reason != ReasonRevoked || d.Identity.Installation == "" {
		t.Fatalf("revoked lookup: %+v", d)
	}
	if d := RejectFor(ReasonBodyTooLarge, r.Identity); d.Status != 413 || d.Identity.Org != "org_a" || string(d.Body) != `{"error":"body_too_large"}` {
		t.Fatalf("RejectFor: %+v", d)
	}
	if _, d := e.Lookup("GET", hookPath("whatsapp", ingMeta)); d != nil {
		t.Fatalf("meta GET: %+v", d)
	}
	if _, d := e.Lookup("PUT", hookPath("whatsapp", ingMeta)); d == nil || d.Reason != ReasonMethodNotAllowed {
		t.Fatalf("meta PUT: %+v", d)
	}
	if _, d := e.Lookup("POST", "/v1/hooks//"+ingSlackA); d == nil || d.Reason != ReasonUnknownIngress {
		t.Fatalf("empty provider: %+v", d)
	}
}

func TestSealFingerprint(t *testing.T) {
	s1, err := Seal(testEdgeKey, []byte("secret"), "i/s")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := Seal(testEdgeKey, []byte("secret"), "i/s")
	if s1 == s2 || strings.Contains(s1, "secret") || !strings.HasPrefix(s1, "sb1:") {
		t.Fatalf("seal output %q %q", s1, s2)
	}
	if pt, err := Unseal(testEdgeKey, s1, "i/s"); err != nil || string(pt) != "secret" {
		t.Fatalf("unseal: %q %v", pt, err)
	}
	if _, err := Unseal(testEdgeKey, s1, "i/t"); !errors.Is(err, ErrUnseal) {
		t.Fatalf("wrong aad: %v", err)
	}
	tampered := s1[:len(s1)-4] + "AAA="
	if _, err := Unseal(testEdgeKey, tampered, "i/s"); err == nil {
		t.Fatal("tampered seal opened")
	}
	for _, bad := range []string{"", "sb1:", "sb1:!!", "sb2:" + s1[4:], "sb1:AAAA"} {
		if _, err := Unseal(testEdgeKey, bad, "i/s"); err == nil {
			t.Fatalf("unseal(%q) succeeded", bad)
		}
	}
	fp := Fingerprint(testEdgeKey, "tok")
	if !validFingerprint(fp) || fp == Fingerprint(testEdgeKey, "tok2") || fp == Fingerprint([]byte("ffffffffffffffffffffffffffffffff"), "tok") {
		t.Fatalf("fingerprint %q", fp)
	}
	if Fingerprint(testEdgeKey[:3], "tok") != "" {
		t.Fatal("fingerprint with a short key")
	}
}

// TestCharacterClasses pins the character classes behind ids, Telegram
// secret tokens and echoed Meta challenges (all built on isWord).
func TestCharacterClasses(t *testing.T) {
	long := strings.Repeat("a", 257)
	for _, c := range []struct {
		fn   func(string) bool
		name string
		in   string
		want bool
	}{
		{func(s string) bool { return isToken(s, maxIDLen) }, "token", "inst_Ab-1.x:y", true},
		{func(s string) bool { return isToken(s, maxIDLen) }, "token", "", false},
		{func(s string) bool { return isToken(s, maxIDLen) }, "token", "a/b", false},
		{func(s string) bool { return isToken(s, maxIDLen) }, "token", "é", false},
		{func(s string) bool { return isToken(s, 3) }, "token", "abcd", false},
		{validTelegramToken, "telegram", "tg_Secret-123", true},
		{validTelegramToken, "telegram", "a.b", false},
		{validTelegramToken, "telegram", "a:b", false},
		{validTelegramToken, "telegram", long[:256], true},
		{validTelegramToken, "telegram", long, false},
		{validChallenge, "challenge", "1158201444", true},
		{validChallenge, "challenge", "a.b~c-d_e", true},
		{validChallenge, "challenge", "<script>", false},
		{validChallenge, "challenge", "a b", false},
		{validChallenge, "challenge", "", false},
		{validChallenge, "challenge", long, false},
	} {
		if got := c.fn(c.in); got != c.want {
			t.Errorf("%s(%q) = %v, want %v", c.name, c.in, got, c.want)
		}
	}
}
