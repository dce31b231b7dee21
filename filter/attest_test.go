package filter

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestAttestation(t *testing.T) {
	id := Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", IngressID: ingSlackA}
	body := []byte(`{"x":1}`)
	hdrs := Attest(testAttestKey, id, body, T0)
	getFrom := func(h [][2]string) func(string) string {
		return func(name string) string {
			for _, kv := range h {
				if kv[0] == name {
					return kv[1]
				}
			}
			return ""
		}
	}
	got, err := VerifyAttestation(testAttestKey, getFrom(hdrs), body, T0+30, 60)
	if err != nil || got != id {
		t.Fatalf("verify: %+v %v", got, err)
	}
	set := func(name, v string) [][2]string {
		out := append([][2]string(nil), hdrs...)
		for i := range out {
			if out[i][0] == name {
				out[i][1] = v
			}
		}
		return out
	}
	att := getFrom(hdrs)(HeaderAttestation)
	cases := []struct {
		name string
		h    [][2]string
		body []byte
		key  []byte
		now  int64
		want error
	}{
		{"other body", hdrs, []byte(`{"x":2}`), testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed org", set(HeaderOrg, "org_b"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed installation", set(HeaderInstallation, "inst_b"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed profile", set(HeaderProfile, "prof_b"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed provider", set(HeaderProvider, "telegram"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed ingress", set(HeaderIngress, ingSlackB), body, testAttestKey, T0, ErrAttestationInvalid},
		{"spoofed platform", set(HeaderPlatform, "true"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"field shifted between headers", set(HeaderOrg, "org_ainst_a"), body, testAttestKey, T0, ErrAttestationInvalid},
		{"other key", hdrs, body, []byte("another-attestation-key-000000000"), T0, ErrAttestationInvalid},
		{"no key", hdrs, body, nil, T0, ErrNoAttestationKey},
		{"stale", hdrs, body, testAttestKey, T0 + 61, ErrAttestationStale},
		{"future", hdrs, body, testAttestKey, T0 - 61, ErrAttestationStale},
		{"missing", StripTrusted(hdrs), body, testAttestKey, T0, ErrNoAttestation},
		{"retimed", set(HeaderAttestation, strings.Replace(att, "t=1700000000", "t=1700000050", 1)), body, testAttestKey, T0, ErrAttestationInvalid},
		{"leading zero time", set(HeaderAttestation, strings.Replace(att, "t=", "t=0", 1)), body, testAttestKey, T0, ErrMalformedAttest},
		{"unknown version", set(HeaderAttestation, "v3"+att[2:]), body, testAttestKey, T0, ErrMalformedAttest},
		{"v1 label on a v2 header", set(HeaderAttestation, "v1"+att[2:]), body, testAttestKey, T0, ErrMalformedAttest},
		{"counter changed", set(HeaderAttestation, strings.Replace(att, ",n=1,", ",n=2,", 1)), body, testAttestKey, T0, ErrAttestationInvalid},
		{"counter leading zero", set(HeaderAttestation, strings.Replace(att, ",n=1,", ",n=01,", 1)), body, testAttestKey, T0, ErrMalformedAttest},
		{"counter zero", set(HeaderAttestation, strings.Replace(att, ",n=1,", ",n=0,", 1)), body, testAttestKey, T0, ErrMalformedAttest},
		{"counter overflows", set(HeaderAttestation, strings.Replace(att, ",n=1,", ",n=18446744073709551616,", 1)), body, testAttestKey, T0, ErrMalformedAttest},
		{"instance changed", set(HeaderAttestation, strings.Replace(att, ",k=", ",k=A", 1)), body, testAttestKey, T0, ErrMalformedAttest},
		{"other instance", set(HeaderAttestation, otherInstance(t, att)), body, testAttestKey, T0, ErrAttestationInvalid},
		{"short tag", set(HeaderAttestation, att[:strings.LastIndexByte(att, ',')+1]+"AAAA"), body, testAttestKey, T0, ErrMalformedAttest},
		{"not base64", set(HeaderAttestation, "v1,t=1700000000,!!"), body, testAttestKey, T0, ErrMalformedAttest},
		{"v2 not base64", set(HeaderAttestation, att[:strings.LastIndexByte(att, ',')+1]+"!!"), body, testAttestKey, T0, ErrMalformedAttest},
		{"bad platform", set(HeaderPlatform, "yes"), body, testAttestKey, T0, ErrMalformedAttest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := VerifyAttestation(c.key, getFrom(c.h), c.body, c.now, 60)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestStripTrusted(t *testing.T) {
	in := [][2]string{
		{"Content-Type", "application/json"},
		{"X-Switchboard-Org", "org_evil"},
		{"x-switchboard-attestation", "v1,t=1,AAAA"},
		{"X-SWITCHBOARD-PLATFORM", "true"},
		{"x-switchboard", "kept: not in the namespace"},
		{"X-Slack-Signature", "v0=1"},
	}
	out := StripTrusted(in)
	if len(out) != 3 || out[0][0] != "Content-Type" || out[1][0] != "x-switchboard" || out[2][0] != "X-Slack-Signature" {
		t.Fatalf("StripTrusted: %v", out)
	}
}

func TestIsTrustedHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"x-switchboard-org": true, "X-Switchboard-Attestation": true, "X-SWITCHBOARD-": true,
		"x-switchboard": false, "x-switchboardorg": false, "content-type": false, "": false,
		"y-switchboard-org": false, "x-switchboard\u00e9-": false,
	} {
		if got := IsTrustedHeader(name); got != want {
			t.Errorf("IsTrustedHeader(%q) = %v, want %v", name, got, want)
		}
	}
}

// A request carrying forged x-switchboard- headers is still verified on its
// own merits, and the decision's headers are the only trusted ones.
func TestSpoofedTrustedHeaders(t *testing.T) {
	e := matrixEdge(t)
	req := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	req.Headers = append(req.Headers, [2]string{"X-Switchboard-Org", "org_b"}, [2]string{"x-switchboard-platform", "true"})
	d := e.Decide(req, T0)
	if !d.Accept {
		t.Fatalf("%s", d.JSONLine())
	}
	forwarded := append(StripTrusted(req.Headers), d.Headers...)
	n := 0
	for _, h := range forwarded {
		if strings.EqualFold(h[0], HeaderOrg) {
			n++
			if h[1] != "org_a" {
				t.Fatalf("forwarded org %q", h[1])
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d org headers forwarded", n)
	}
}

func TestDecisionJSONLine(t *testing.T) {
	d := reject(ReasonBadSignature, Identity{Installation: `inst_"x"<y>`, IngressID: ingSlackA})
	want := `{"decision":"reject","reason":"bad_signature","installation":"inst_\"x\"\u003cy\u003e","ingress":"a0000000000000000000000000000001","status":401}`
	if got := string(d.JSONLine()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := string((Decision{Accept: true}).JSONLine()); !strings.HasPrefix(got, `{"decision":"accept","reason":""`) {
		t.Fatal(got)
	}
	for _, r := range Reasons {
		if r.Status() < 400 || r.Status() > 503 {
			t.Fatalf("%s -> %d", r, r.Status())
		}
	}
}

// otherInstance swaps the instance id of a v2 header for another valid one.
func otherInstance(t *testing.T, att string) string {
	t.Helper()
	parts := strings.Split(att, ",")
	if len(parts) != 5 || !strings.HasPrefix(parts[2], "k=") {
		t.Fatalf("not a v2 attestation: %q", att)
	}
	parts[2] = "k=" + strings.Repeat("A", 22)
	return strings.Join(parts, ",")
}

// attestV1 makes the header an edge of the previous release sends.
func attestV1(key []byte, id Identity, body []byte, now int64) [][2]string {
	t := strconv.FormatInt(now, 10)
	h := Attest(key, id, body, now)
	h[len(h)-1][1] = attestVersion + ",t=" + t + "," + base64.StdEncoding.EncodeToString(attestMAC(key, t, id, bodyHex(body)))
	return h
}

// During a rolling upgrade ingest accepts the previous release's v1
// attestation, with the same bindings.
func TestAttestationV1StillVerifies(t *testing.T) {
	id := Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", IngressID: ingSlackA}
	body := []byte(`{"x":1}`)
	h := attestV1(testAttestKey, id, body, T0)
	get := func(h [][2]string) func(string) string {
		return func(name string) string {
			for _, kv := range h {
				if kv[0] == name {
					return kv[1]
				}
			}
			return ""
		}
	}
	if got, err := VerifyAttestation(testAttestKey, get(h), body, T0, 60); err != nil || got != id {
		t.Fatalf("v1: %+v %v", got, err)
	}
	if _, err := VerifyAttestation(testAttestKey, get(h), []byte(`{"x":2}`), T0, 60); !errors.Is(err, ErrAttestationInvalid) {
		t.Fatalf("v1 other body: %v", err)
	}
	h[0][1] = "org_b"
	if _, err := VerifyAttestation(testAttestKey, get(h), body, T0, 60); !errors.Is(err, ErrAttestationInvalid) {
		t.Fatalf("v1 spoofed org: %v", err)
	}
}

// Nonces never repeat: one attester counts up, two attesters (two
// processes, VMs or loaded configurations) have different instances.
func TestAttesterNonces(t *testing.T) {
	a, err := NewAttester(testAttestKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAttester(testAttestKey)
	if err != nil {
		t.Fatal(err)
	}
	id := Identity{Org: "o", Installation: "i", Provider: "slack", IngressID: ingSlackA}
	seen := map[string]bool{}
	for i, at := range []*Attester{a, a, a, b, b} {
		h := at.Attest(id, []byte("x"), T0)[6][1]
		parts := strings.Split(h, ",")
		nonce := parts[2] + parts[3]
		if seen[nonce] {
			t.Fatalf("attestation %d reuses instance+counter %s", i, nonce)
		}
		seen[nonce] = true
	}
	if a.inst == b.inst {
		t.Fatal("two attesters drew the same instance id")
	}
	if _, err := NewAttester(nil); !errors.Is(err, ErrNoAttestationKey) {
		t.Fatalf("no key: %v", err)
	}
}

func TestIsCredentialHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"X-Telegram-Bot-Api-Secret-Token", true}, {"x-telegram-bot-api-secret-token", true}, {"X_TELEGRAM_BOT_API_SECRET_TOKEN", true},
		{"Authorization", true}, {"AUTHORIZATION", true}, {"Proxy-Authorization", true}, {"Cookie", true},
		{"X-Slack-Signature", true}, {"X-Hub-Signature-256", true}, {"X-Signature-Ed25519", true}, {"X-Twilio-Signature", true},
		{"X-Line-Signature", true}, {"webhook-signature", true},
		{"X-Slack-Request-Timestamp", false}, {"X-Signature-Timestamp", false}, {"webhook-id", false}, {"Content-Type", false},
		{"X-GitHub-Event", false}, {"Authorizations", false}, {"", false},
	} {
		if got := IsCredentialHeader(tc.name); got != tc.want {
			t.Errorf("IsCredentialHeader(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !DropOnForward("x-switchboard-org") || !DropOnForward("authorization") || DropOnForward("content-type") {
		t.Error("DropOnForward")
	}
}
