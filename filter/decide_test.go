package filter

import (
	"bytes"
	"crypto/ed25519"
	"strconv"
	"strings"
	"testing"
)

const T0 = int64(1700000000)

var discordPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
var discordOtherPriv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))

const (
	swSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swSecretB  = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGVzdHMtb25seQ=="
	metaSecret = "meta-app-secret"
)

func matrixEdge(t testing.TB) *Edge {
	sign := func(id, plain string) secretSpec { return secretSpec{id: id, purpose: PurposeSigning, plain: plain} }
	return loadEdge(t,
		inst(t, ingSlackA, "slack", SchemeSlackV0, "org_a", sign("sec_a1", "slack-secret-A")),
		inst(t, ingSlackB, "slack", SchemeSlackV0, "org_b", sign("sec_b1", "slack-secret-B")),
		inst(t, ingSlackRot, "slack", SchemeSlackV0, "org_a",
			secretSpec{id: "sec_old", purpose: PurposeSigning, plain: "old-secret", na: T0 - 10},
			secretSpec{id: "sec_prev", purpose: PurposeSigning, plain: "prev-secret", na: T0 + 3600},
			secretSpec{id: "sec_new", purpose: PurposeSigning, plain: "new-secret", nb: T0 - 100},
			secretSpec{id: "sec_future", purpose: PurposeSigning, plain: "future-secret", nb: T0 + 100}),
		func() Installation {
			in := inst(t, ingSlackRev, "slack", SchemeSlackV0, "org_a", sign("sec_r", "revoked-secret"))
			in.Revoked = true
			in.MaxBodyBytes = 64
			return in
		}(),
		inst(t, ingSlackNo, "slack", SchemeSlackV0, "org_a",
			secretSpec{id: "sec_gone", purpose: PurposeSigning, plain: "gone-secret", na: T0 - 1}),
		inst(t, ingSlackPl, "slack", SchemeSlackV0, "", sign("sec_pl", "platform-secret")),
		inst(t, ingMeta, "whatsapp", SchemeMetaSHA256, "org_m", sign("sec_m", metaSecret),
			secretSpec{id: "sec_vt", purpose: PurposeVerifyToken, plain: "verify-me"}),
		inst(t, ingTelegram, "telegram", SchemeTelegramToken, "org_t",
			secretSpec{id: "sec_t", purpose: PurposeSecretToken, plain: "tg_Secret-123"},
			secretSpec{id: "sec_t_old", purpose: PurposeSecretToken, plain: "tgOld", na: T0 - 5}),
		inst(t, ingDiscord, "discord", SchemeDiscordEd25519, "org_d",
			secretSpec{id: "sec_d", purpose: PurposePublicKey, plain: hexPub(discordPriv)}),
		func() Installation {
			in := inst(t, ingTwilio, "twilio", SchemeTwilioSHA1, "org_tw", sign("sec_tw", "12345"))
			in.PublicURL = "https://mycompany.com/myapp.php"
			return in
		}(),
		inst(t, ingTwilioPU, "twilio", SchemeTwilioSHA1, "org_tw2", sign("sec_tw2", "tw-token")),
		inst(t, ingLINE, "line", SchemeLINE, "org_l", sign("sec_l", "line-channel-secret")),
		inst(t, ingSW, "standardwebhooks", SchemeStandardWebhooks, "org_s",
			sign("sec_s", swSecret), sign("sec_s2", swSecretB)),
		inst(t, ingGitHub, "github", SchemeGitHubSHA256, "org_g", sign("sec_g", "It's a Secret to Everybody")),
	)
}

func hexPub(p ed25519.PrivateKey) string {
	return strings.ToLower(hexEncode(p.Public().(ed25519.PublicKey)))
}

type decideCase struct {
	name   string
	req    *Request
	now    int64
	want   Reason
	status int
	accept bool
}

func runCases(t *testing.T, e *Edge, cases []decideCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now == 0 {
				now = T0
			}
			d := e.Decide(c.req, now)
			if d.Reason != c.want || d.Accept != c.accept {
				t.Fatalf("decision %s, want accept=%v reason=%q", d.JSONLine(), c.accept, c.want)
			}
			if c.status != 0 && d.Status != c.status {
				t.Fatalf("status %d, want %d", d.Status, c.status)
			}
			checkDecision(t, c.req, d, now)
		})
	}
}

// checkDecision checks the invariants of every decision: rejects carry the
// short JSON body and nothing else, accepts carry a verifiable attestation.
func checkDecision(t *testing.T, req *Request, d Decision, now int64) {
	t.Helper()
	switch {
	case d.Accept:
		if d.Respond || d.Status != 0 || d.Body != nil {
			t.Fatalf("accept with respond/status/body: %+v", d)
		}
		get := func(name string) string {
			for _, h := range d.Headers {
				if h[0] == name {
					return h[1]
				}
			}
			return ""
		}
		id, err := VerifyAttestation(testAttestKey, get, req.Body, now, 60)
		if err != nil {
			t.Fatalf("attestation of accepted request: %v", err)
		}
		if id != d.Identity || id.IngressID == "" {
			t.Fatalf("attested identity %+v, decision identity %+v", id, d.Identity)
		}
	case d.Respond:
		if d.Status != 200 {
			t.Fatalf("respond status %d", d.Status)
		}
	default:
		want := `{"error":"` + string(d.Reason) + `"}`
		if string(d.Body) != want || d.ContentType != "application/json" || len(d.Headers) != 0 {
			t.Fatalf("reject body %q (%s), headers %v", d.Body, d.ContentType, d.Headers)
		}
		if d.Status != d.Reason.Status() || d.Status < 400 {
			t.Fatalf("reject status %d for %s", d.Status, d.Reason)
		}
	}
}

func ts(n int64) string { return strconv.FormatInt(n, 10) }

const slackBody = `{"type":"event_callback","team_id":"T1","api_app_id":"A1","event_id":"Ev1","event":{"type":"message","text":"hi"}}`

func slackReq(ingress, secret string, t int64, body string) *Request {
	return post(hookPath("slack", ingress), body,
		"X-Slack-Signature", slackSig(secret, t, body), "X-Slack-Request-Timestamp", ts(t),
		"Content-Type", "application/json")
}

func TestDecideSlack(t *testing.T) {
	e := matrixEdge(t)
	tampered := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	tampered.Body = []byte(strings.Replace(slackBody, "hi", "HI", 1))
	upper := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	upper.Headers[0][1] = "v0=" + strings.ToUpper(upper.Headers[0][1][3:])
	dupSig := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	dupSig.Headers = append(dupSig.Headers, [2]string{"x-slack-signature", "v0=00"})
	get := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	get.Method = "GET"
	big := slackReq(ingSlackA, "slack-secret-A", T0, strings.Repeat("x", DefaultMaxBodyBytes+1))
	retry := slackReq(ingSlackA, "slack-secret-A", T0, slackBody)
	retry.Headers = append(retry.Headers, [2]string{"X-Slack-Retry-Num", "1"}, [2]string{"X-Slack-Retry-Reason", "http_timeout"})
	runCases(t, e, []decideCase{
		{name: "good", req: slackReq(ingSlackA, "slack-secret-A", T0, slackBody), accept: true},
		{name: "good with retry headers", req: retry, accept: true},
		{name: "hex in upper case", req: upper, accept: true},
		{name: "clock skew inside window", req: slackReq(ingSlackA, "slack-secret-A", T0-299, slackBody), accept: true},
		{name: "platform ingress", req: slackReq(ingSlackPl, "platform-secret", T0, slackBody), accept: true},
		{name: "forged body", req: tampered, want: ReasonBadSignature, status: 401},
		{name: "forged secret", req: slackReq(ingSlackA, "guess", T0, slackBody), want: ReasonBadSignature, status: 401},
		{name: "missing signature", req: post(hookPath("slack", ingSlackA), slackBody, "X-Slack-Request-Timestamp", ts(T0)), want: ReasonMissingSignature, status: 401},
		{name: "missing timestamp", req: post(hookPath("slack", ingSlackA), slackBody, "X-Slack-Signature", slackSig("slack-secret-A", T0, slackBody)), want: ReasonMissingSignature},
		{name: "no headers", req: post(hookPath("slack", ingSlackA), slackBody), want: ReasonMissingSignature},
		{name: "malformed signature", req: post(hookPath("slack", ingSlackA), slackBody, "X-Slack-Signature", "v1=abc", "X-Slack-Request-Timestamp", ts(T0)), want: ReasonBadSignature},
		{name: "duplicate signature header", req: dupSig, want: ReasonMalformedRequest, status: 400},
		{name: "stale timestamp", req: slackReq(ingSlackA, "slack-secret-A", T0-301, slackBody), want: ReasonStaleTimestamp, status: 401},
		{name: "future timestamp", req: slackReq(ingSlackA, "slack-secret-A", T0+301, slackBody), want: ReasonStaleTimestamp},
		{name: "bad timestamp", req: post(hookPath("slack", ingSlackA), slackBody, "X-Slack-Signature", slackSig("s", T0, slackBody), "X-Slack-Request-Timestamp", "-1700000000"), want: ReasonBadTimestamp, status: 401},
		{name: "cross-tenant: org B secret on org A path", req: slackReq(ingSlackA, "slack-secret-B", T0, slackBody), want: ReasonBadSignature},
		{name: "cross-tenant: org A secret on org B path", req: slackReq(ingSlackB, "slack-secret-A", T0, slackBody), want: ReasonBadSignature},
		{name: "platform secret on BYOA path", req: slackReq(ingSlackA, "platform-secret", T0, slackBody), want: ReasonBadSignature},
		{name: "BYOA secret on platform path", req: slackReq(ingSlackPl, "slack-secret-A", T0, slackBody), want: ReasonBadSignature},
		{name: "rotation: new secret", req: slackReq(ingSlackRot, "new-secret", T0, slackBody), accept: true},
		{name: "rotation: previous secret inside its window", req: slackReq(ingSlackRot, "prev-secret", T0, slackBody), accept: true},
		{name: "rotation: previous secret after its window", req: slackReq(ingSlackRot, "prev-secret", T0+3600, slackBody), now: T0 + 3600, want: ReasonBadSignature},
		{name: "rotation: rotated-out secret", req: slackReq(ingSlackRot, "old-secret", T0, slackBody), want: ReasonBadSignature},
		{name: "rotation: secret not yet valid", req: slackReq(ingSlackRot, "future-secret", T0, slackBody), want: ReasonBadSignature},
		{name: "rotation: future secret once valid", req: slackReq(ingSlackRot, "future-secret", T0+100, slackBody), now: T0 + 100, accept: true},
		{name: "no valid secret fails closed", req: slackReq(ingSlackNo, "gone-secret", T0, slackBody), want: ReasonNoValidSecret, status: 401},
		{name: "revoked", req: slackReq(ingSlackRev, "revoked-secret", T0, slackBody), want: ReasonRevoked, status: 403},
		{name: "unknown ingress", req: slackReq("ffffffffffffffffffffffffffffffff", "slack-secret-A", T0, slackBody), want: ReasonUnknownIngress, status: 404},
		{name: "provider mismatch", req: post(hookPath("telegram", ingSlackA), slackBody), want: ReasonProviderMismatch, status: 404},
		{name: "trailing slash", req: post(hookPath("slack", ingSlackA)+"/", slackBody), want: ReasonUnknownIngress},
		{name: "other path", req: post("/v1/other/slack/"+ingSlackA, slackBody), want: ReasonUnknownIngress},
		{name: "wrong method", req: get, want: ReasonMethodNotAllowed, status: 405},
		{name: "oversized", req: big, want: ReasonBodyTooLarge, status: 413},
		{name: "ssl_check answered at the edge", req: post(hookPath("slack", ingSlackA), "ssl_check=1&token=abc", "Content-Type", "application/x-www-form-urlencoded")},
	})
}

// Slack's own worked example (api.slack.com, "Verifying requests from Slack").
func TestDecideSlackPublishedExample(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	const body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	const sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	e := loadEdge(t, inst(t, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "sec_doc", purpose: PurposeSigning, plain: secret}))
	req := func() *Request {
		return post(hookPath("slack", ingSlackA), body, "X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", sig,
			"Content-Type", "application/x-www-form-urlencoded")
	}
	runCases(t, e, []decideCase{
		{name: "published example", req: req(), now: 1531420618, accept: true},
		{name: "published example, 6 minutes later", req: req(), now: 1531420618 + 360, want: ReasonStaleTimestamp},
	})
}

func TestDecideMeta(t *testing.T) {
	e := matrixEdge(t)
	// Meta escapes non-ASCII as \uXXXX in the raw JSON; the signature is over
	// those raw bytes, not over a re-serialised (unescaped) body.
	raw := `{"object":"whatsapp_business_account","entry":[{"id":"102","changes":[{"value":{"metadata":{"phone_number_id":"555"},"messages":[{"id":"wamid.1","text":{"body":"Caf\u00e9 \u00fcber \u65e5\u672c \ud83d\ude00"}}]}}]}]}`
	unescaped := `{"object":"whatsapp_business_account","entry":[{"id":"102","changes":[{"value":{"metadata":{"phone_number_id":"555"},"messages":[{"id":"wamid.1","text":{"body":"Café über 日本 😀"}}]}}]}]}`
	p := hookPath("whatsapp", ingMeta)
	reserialised := post(p, unescaped, "X-Hub-Signature-256", hubSig(metaSecret, raw))
	hs := func(q string) *Request { r := post(p+"?"+q, ""); r.Method = "GET"; return r }
	runCases(t, e, []decideCase{
		{name: "good ASCII", req: post(p, `{"object":"whatsapp_business_account"}`, "X-Hub-Signature-256", hubSig(metaSecret, `{"object":"whatsapp_business_account"}`)), accept: true},
		{name: "good escaped non-ASCII over raw bytes", req: post(p, raw, "X-Hub-Signature-256", hubSig(metaSecret, raw)), accept: true},
		{name: "re-serialised body does not verify", req: reserialised, want: ReasonBadSignature},
		{name: "forged", req: post(p, raw, "X-Hub-Signature-256", hubSig("other", raw)), want: ReasonBadSignature},
		{name: "sha1 header only", req: post(p, raw, "X-Hub-Signature", "sha1=0000000000000000000000000000000000000000"), want: ReasonMissingSignature},
		{name: "wrong prefix", req: post(p, raw, "X-Hub-Signature-256", strings.Replace(hubSig(metaSecret, raw), "sha256=", "sha1=", 1)), want: ReasonBadSignature},
		{name: "handshake ok", req: hs("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")},
		{name: "handshake wrong token", req: hs("hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444"), want: ReasonBadVerifyToken, status: 403},
		{name: "handshake missing token", req: hs("hub.mode=subscribe&hub.challenge=1158201444"), want: ReasonBadVerifyToken},
		{name: "handshake wrong mode", req: hs("hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1"), want: ReasonMalformedRequest, status: 400},
		{name: "handshake challenge not a token", req: hs("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=%3Cscript%3E"), want: ReasonMalformedRequest},
		{name: "handshake duplicate token", req: hs("hub.mode=subscribe&hub.verify_token=guess&hub.verify_token=verify-me&hub.challenge=1"), want: ReasonMalformedRequest},
		{name: "handshake bad escape", req: hs("hub.mode=subscribe&hub.verify_token=%zz&hub.challenge=1"), want: ReasonMalformedRequest},
		{name: "GET not allowed on slack", req: func() *Request { r := hs("hub.mode=subscribe"); r.Path = hookPath("slack", ingSlackA); return r }(), want: ReasonMethodNotAllowed},
	})
	d := e.Decide(hs("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"), T0)
	if !d.Respond || d.Accept || string(d.Body) != "1158201444" || d.ContentType != "text/plain" || d.Identity.IngressID != ingMeta {
		t.Fatalf("handshake decision %+v", d)
	}
}

// GitHub's worked example ("Validating webhook deliveries").
func TestDecideGitHub(t *testing.T) {
	e := matrixEdge(t)
	p := hookPath("github", ingGitHub)
	const doc = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	runCases(t, e, []decideCase{
		{name: "published example", req: post(p, "Hello, World!", "X-Hub-Signature-256", doc, "X-GitHub-Delivery", "d1"), accept: true},
		{name: "published signature, other body", req: post(p, "Hello, World?", "X-Hub-Signature-256", doc), want: ReasonBadSignature},
		{name: "missing", req: post(p, "Hello, World!"), want: ReasonMissingSignature},
		{name: "truncated", req: post(p, "Hello, World!", "X-Hub-Signature-256", doc[:len(doc)-2]), want: ReasonBadSignature},
		{name: "cross-tenant", req: post(p, "x", "X-Hub-Signature-256", hubSig(metaSecret, "x")), want: ReasonBadSignature},
	})
}

func TestDecideTelegram(t *testing.T) {
	e := matrixEdge(t)
	p := hookPath("telegram", ingTelegram)
	body := `{"update_id":1,"message":{"text":"hi"}}`
	runCases(t, e, []decideCase{
		{name: "good", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", "tg_Secret-123"), accept: true},
		{name: "wrong token", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", "tg_Secret-124"), want: ReasonBadSignature, status: 401},
		{name: "expired token", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", "tgOld"), want: ReasonBadSignature},
		{name: "missing token", req: post(p, body), want: ReasonMissingSignature},
		{name: "token with bad characters", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", "tg Secret"), want: ReasonBadSignature},
		{name: "token too long", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", strings.Repeat("a", 257)), want: ReasonBadSignature},
		{name: "fingerprint is not the token", req: post(p, body, "X-Telegram-Bot-Api-Secret-Token", Fingerprint(testEdgeKey, "tg_Secret-123")[12:]), want: ReasonBadSignature},
	})
}
