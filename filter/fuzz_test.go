package filter

import (
	"encoding/json"
	"net/url" // test oracle only: the filter itself must not import net/*
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseConfig: never panics; whenever the hand-written reader accepts a
// document, encoding/json (strict about unknown fields) reads the same Config.
func FuzzParseConfig(f *testing.F) {
	f.Add(configJSON(f, inst(f, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "x"})))
	f.Add([]byte(`{"version":"\u00e9\ud83d\ude00","installations":[]}`))
	f.Add([]byte(`{"installations":[{"ingress_id":"a0000000000000000000000000000001","max_body_bytes":-0,"tolerance_seconds":1e2}]}`))
	f.Add([]byte(`{"version":"a\"b\\c\/d\b\f\n\r\t"}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"version":"x","version":"y"}`))
	f.Add([]byte(" {\"installations\" : [ ] } \n"))
	f.Add([]byte(`{"version":"m","manifest":true,"shards":1024}`))
	f.Add([]byte(`{"version":"s","shard":39,"shards":64,"installations":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseConfig(data)
		mine, err := decodeConfig(data)
		if err != nil {
			return
		}
		var theirs Config
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&theirs); err != nil {
			t.Fatalf("filter reader accepted what encoding/json refuses (%v): %q", err, data)
		}
		norm := func(c *Config) {
			for i := range c.Installations {
				if len(c.Installations[i].Secrets) == 0 {
					c.Installations[i].Secrets = nil
				}
			}
			if len(c.Installations) == 0 {
				c.Installations = nil
			}
		}
		norm(mine)
		norm(&theirs)
		if !reflect.DeepEqual(*mine, theirs) {
			t.Fatalf("readers disagree on %q:\nfilter: %+v\njson:   %+v", data, *mine, theirs)
		}
	})
}

// FuzzParseForm compares the form/query parser with net/url.ParseQuery.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "a=%20+b&&c", "hub.mode=subscribe&hub.challenge=12", "%zz=1", "a=%2", "=x&y=", "a=1&a=2", "k=%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mine, err := ParseForm(s)
		if strings.Contains(s, ";") {
			return // net/url refuses semicolons; the filter treats them as data
		}
		want, uerr := url.ParseQuery(s)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("ParseForm(%q) err=%v, url.ParseQuery err=%v", s, err, uerr)
		}
		if err != nil {
			return
		}
		got := url.Values{}
		for _, kv := range mine {
			got[kv[0]] = append(got[kv[0]], kv[1])
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseForm(%q) = %v, url.ParseQuery = %v", s, got, want)
		}
	})
}

// FuzzStandardSignatures: never panics, never returns more than the bound or
// a signature of the wrong size.
func FuzzStandardSignatures(f *testing.F) {
	for _, s := range []string{"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v1,a v1,b v2,c", "v1a,xx v1,", ",", "v", "  v1,AAAA  ", strings.Repeat("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= ", 20)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sigs, ok := ParseStandardSignatures(s)
		if !ok && sigs != nil {
			t.Fatal("signatures returned with ok=false")
		}
		if len(sigs) > maxSWSignatures {
			t.Fatalf("%d signatures", len(sigs))
		}
		for _, b := range sigs {
			if len(b) != 32 {
				t.Fatalf("signature of %d bytes", len(b))
			}
		}
	})
}

// FuzzParseUnix agrees with strconv on what it accepts.
func FuzzParseUnix(f *testing.F) {
	for _, s := range []string{"0", "1700000000", "-1", "+1", "999999999999", "9999999999999", "", "1e9", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseUnix(s)
		if !ok {
			return
		}
		m, err := strconv.ParseInt(s, 10, 64)
		if err != nil || m != n || m < 0 || strings.ContainsAny(s, "+-") {
			t.Fatalf("parseUnix(%q) = %d, strconv = %d %v", s, n, m, err)
		}
	})
}

// FuzzDecideHeaders feeds arbitrary security header values, query strings
// and bodies to every scheme: the decision must never panic and must keep
// its invariants (rejects are short JSON, accepts carry a valid attestation).
func FuzzDecideHeaders(f *testing.F) {
	e := matrixEdge(f)
	good := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	f.Add(uint8(0), good.Headers[0][1], good.Headers[1][1], "", slackBody)
	f.Add(uint8(1), hubSig(metaSecret, "{}"), "", "hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1", "{}")
	f.Add(uint8(2), "tg_Secret-123", "", "", "{}")
	f.Add(uint8(3), discordSig(discordPriv, T0, "{}"), ts(T0), "", "{}")
	f.Add(uint8(4), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "", "foo=1&bar=2", "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212")
	f.Add(uint8(5), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "1614265330", "", `{"test": 2432232314}`)
	f.Add(uint8(6), "", "", "bodySHA256=00", "x")
	type target struct {
		provider, ingress, sigHeader, tsHeader string
	}
	targets := []target{
		{"slack", ingSlackA, "X-Slack-Signature", "X-Slack-Request-Timestamp"},
		{"whatsapp", ingMeta, "X-Hub-Signature-256", ""},
		{"telegram", ingTelegram, "X-Telegram-Bot-Api-Secret-Token", ""},
		{"discord", ingDiscord, "X-Signature-Ed25519", "X-Signature-Timestamp"},
		{"twilio", ingTwilio, "X-Twilio-Signature", ""},
		{"standardwebhooks", ingSW, "webhook-signature", "webhook-timestamp"},
		{"line", ingLINE, "X-Line-Signature", ""},
		{"github", ingGitHub, "X-Hub-Signature-256", ""},
	}
	f.Fuzz(func(t *testing.T, which uint8, sig, stamp, query, body string) {
		tg := targets[int(which)%len(targets)]
		p := hookPath(tg.provider, tg.ingress)
		if query != "" {
			p += "?" + query
		}
		for _, method := range []string{"POST", "GET"} {
			req := post(p, body, tg.sigHeader, sig, "webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek",
				"Content-Type", "application/x-www-form-urlencoded")
			if tg.tsHeader != "" {
				req.Headers = append(req.Headers, [2]string{tg.tsHeader, stamp})
			}
			req.Method = method
			now := T0
			if tg.provider == "standardwebhooks" {
				now = 1614265330
			}
			d := e.Decide(req, now)
			checkDecision(t, req, d, now)
		}
	})
}

// FuzzVerifyAttestation: arbitrary header values never verify unless they
// are exactly what Attest made.
func FuzzVerifyAttestation(f *testing.F) {
	id := Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", IngressID: ingSlackA}
	h := Attest(testAttestKey, id, []byte("b"), T0)
	f.Add(h[6][1], "org_a", "false", "b")
	f.Add("v1,t=1700000000,AAAA", "org_a", "true", "")
	f.Fuzz(func(t *testing.T, att, org, platform, body string) {
		get := func(name string) string {
			switch name {
			case HeaderAttestation:
				return att
			case HeaderOrg:
				return org
			case HeaderPlatform:
				return platform
			case HeaderInstallation:
				return id.Installation
			case HeaderProfile:
				return id.Profile
			case HeaderProvider:
				return id.Provider
			case HeaderIngress:
				return id.IngressID
			}
			return ""
		}
		got, err := VerifyAttestation(testAttestKey, get, []byte(body), T0, 60)
		if err == nil && (att != h[6][1] || got != id || body != "b") {
			t.Fatalf("verified forged attestation %q org=%q platform=%q body=%q", att, org, platform, body)
		}
	})
}

// FuzzUnseal: a sealed value that was not made by Seal under this key and
// binding never opens, and nothing panics on arbitrary input.
func FuzzUnseal(f *testing.F) {
	good, err := Seal(testEdgeKey, []byte("slack-secret"), SealAAD(ingSlackA, "sec_a"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, SealAAD(ingSlackA, "sec_a"))
	f.Add(good, SealAAD(ingSlackB, "sec_a"))
	f.Add("sb1:", "x")
	f.Add("sb1:AAAA", "")
	f.Add("sb2:"+good[4:], SealAAD(ingSlackA, "sec_a"))
	f.Fuzz(func(t *testing.T, sealed, aad string) {
		pt, err := Unseal(testEdgeKey, sealed, aad)
		if err != nil {
			return
		}
		// Only a seed made by Seal can open (each fuzz worker seals its
		// own, with another nonce, so compare what it opens to, not bytes).
		if aad != SealAAD(ingSlackA, "sec_a") || string(pt) != "slack-secret" {
			t.Fatalf("opened %q (aad %q) to %q", sealed, aad, pt)
		}
	})
}

// FuzzLoad: Load (parse + unseal) never panics, refuses whatever
// ParseConfig refuses, and a configuration it accepts decides without
// panicking.
func FuzzLoad(f *testing.F) {
	f.Add(configJSON(f, inst(f, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "x"})))
	f.Add(configJSON(f, inst(f, ingDiscord, "discord", SchemeDiscordEd25519, "org_d",
		secretSpec{id: "k", purpose: PurposePublicKey, plain: hexPub(discordPriv)})))
	f.Add(configJSON(f, inst(f, ingSW, "standardwebhooks", SchemeStandardWebhooks, "org_s",
		secretSpec{id: "w", purpose: PurposeSigning, plain: "whsec_!!"})))
	f.Add(configJSON(f, inst(f, ingMeta, "whatsapp", SchemeMetaSHA256, "org_m",
		secretSpec{id: "v", purpose: PurposeVerifyToken, plain: "tok"})))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Load(data, testEdgeKey)
		if _, perr := ParseConfig(data); perr != nil && err == nil {
			t.Fatalf("Load accepted what ParseConfig refuses (%v)", perr)
		}
		if err != nil {
			return
		}
		e.SetAttestationKey(testAttestKey)
		for _, in := range e.entries {
			d := e.Decide(post(hookPath(in.inst.Provider, in.inst.IngressID), "{}"), T0)
			if d.Accept {
				t.Fatalf("unsigned request accepted by %s", in.inst.Scheme)
			}
		}
	})
}
