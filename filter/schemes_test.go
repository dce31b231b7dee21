package filter

import (
	"strings"
	"testing"
)

func TestDecideDiscord(t *testing.T) {
	e := matrixEdge(t)
	p := hookPath("discord", ingDiscord)
	body := `{"type":1,"id":"1","application_id":"2"}`
	req := func(sig string, at int64, b string) *Request {
		return post(p, b, "X-Signature-Ed25519", sig, "X-Signature-Timestamp", ts(at))
	}
	good := discordSig(discordPriv, T0, body)
	runCases(t, e, []decideCase{
		{name: "good", req: req(good, T0, body), accept: true},
		{name: "good, upper-case hex", req: req(strings.ToUpper(good), T0, body), accept: true},
		{name: "invalid signature gets 401", req: req(discordSig(discordOtherPriv, T0, body), T0, body), want: ReasonBadSignature, status: 401},
		{name: "forged body", req: req(good, T0, body+" "), want: ReasonBadSignature},
		{name: "signature for another timestamp", req: req(good, T0+1, body), want: ReasonBadSignature},
		{name: "stale", req: req(discordSig(discordPriv, T0-301, body), T0-301, body), want: ReasonStaleTimestamp},
		{name: "future", req: req(discordSig(discordPriv, T0+301, body), T0+301, body), want: ReasonStaleTimestamp},
		{name: "missing signature", req: post(p, body, "X-Signature-Timestamp", ts(T0)), want: ReasonMissingSignature},
		{name: "missing timestamp", req: post(p, body, "X-Signature-Ed25519", good), want: ReasonMissingSignature},
		{name: "short signature", req: req(good[:100], T0, body), want: ReasonBadSignature},
		{name: "non-hex signature", req: req("zz"+good[2:], T0, body), want: ReasonBadSignature},
	})
}

func TestDecideTwilio(t *testing.T) {
	e := matrixEdge(t)
	form := "application/x-www-form-urlencoded"
	// Twilio's worked example (security docs): auth token 12345, URL
	// https://mycompany.com/myapp.php?foo=1&bar=2 and these POST parameters.
	docBody := "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
	docPath := hookPath("twilio", ingTwilio) + "?foo=1&bar=2"
	docSig := "RSOYDt4T1cUTdK1PDd93/VVr8B8="
	// Same parameters in another order: the signature sorts them.
	shuffled := "To=%2B18005551212&Digits=1234&From=%2B14158675309&CallSid=CA1234567890ABCDE&Caller=%2B14158675309"
	// Twilio's JSON example body and its bodySHA256 (from Twilio's docs),
	// signed here with token 12345 over the public URL.
	jsonBody := `{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}`
	jsonQuery := "?bodySHA256=5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9"
	jsonSig := hmacB64(sha1New, []byte("12345"), "https://mycompany.com/myapp.php"+jsonQuery)
	// No public_url: rebuilt from the request's scheme and host.
	pu := hookPath("twilio", ingTwilioPU)
	puURL := "https://edge.example.com" + pu
	puBody := "Body=hello+world&From=%2B1555"
	puSig := hmacB64(sha1New, []byte("tw-token"), puURL+"Bodyhello worldFrom+1555")
	puPortSig := hmacB64(sha1New, []byte("tw-token"), "https://edge.example.com:443"+pu+"Bodyhello worldFrom+1555")
	httpReq := post(pu, puBody, "X-Twilio-Signature", puSig, "Content-Type", form)
	httpReq.Scheme = "http"
	runCases(t, e, []decideCase{
		{name: "published example", req: post(docPath, docBody, "X-Twilio-Signature", docSig, "Content-Type", form), accept: true},
		{name: "published example, parameters reordered", req: post(docPath, shuffled, "X-Twilio-Signature", docSig, "Content-Type", form+"; charset=utf-8"), accept: true},
		{name: "published example, parameter changed", req: post(docPath, strings.Replace(docBody, "1234&", "1235&", 1), "X-Twilio-Signature", docSig, "Content-Type", form), want: ReasonBadSignature},
		{name: "published example, query changed", req: post(hookPath("twilio", ingTwilio)+"?foo=1&bar=3", docBody, "X-Twilio-Signature", docSig, "Content-Type", form), want: ReasonBadSignature},
		{name: "published example, extra parameter", req: post(docPath, docBody+"&Extra=1", "X-Twilio-Signature", docSig, "Content-Type", form), want: ReasonBadSignature},
		{name: "json body with bodySHA256", req: post(hookPath("twilio", ingTwilio)+jsonQuery, jsonBody, "X-Twilio-Signature", jsonSig, "Content-Type", "application/json"), accept: true},
		{name: "json body changed", req: post(hookPath("twilio", ingTwilio)+jsonQuery, jsonBody+" ", "X-Twilio-Signature", jsonSig, "Content-Type", "application/json"), want: ReasonBadSignature},
		{name: "json body without bodySHA256 is unsigned", req: post(hookPath("twilio", ingTwilio), jsonBody, "X-Twilio-Signature", hmacB64(sha1New, []byte("12345"), "https://mycompany.com/myapp.php"), "Content-Type", "application/json"), want: ReasonBadSignature},
		{name: "rebuilt URL", req: post(pu, puBody, "X-Twilio-Signature", puSig, "Content-Type", form), accept: true},
		{name: "rebuilt URL, signed with default port", req: post(pu, puBody, "X-Twilio-Signature", puPortSig, "Content-Type", form), accept: true},
		{name: "rebuilt URL, other scheme", req: httpReq, want: ReasonBadSignature},
		{name: "cross-tenant token", req: post(pu, puBody, "X-Twilio-Signature", hmacB64(sha1New, []byte("12345"), puURL+"Bodyhello worldFrom+1555"), "Content-Type", form), want: ReasonBadSignature},
		{name: "missing", req: post(pu, puBody, "Content-Type", form), want: ReasonMissingSignature},
		{name: "not base64", req: post(pu, puBody, "X-Twilio-Signature", "!!!", "Content-Type", form), want: ReasonBadSignature},
		{name: "bad form escape", req: post(pu, "Body=%zz", "X-Twilio-Signature", puSig, "Content-Type", form), want: ReasonMalformedRequest},
	})
}

func TestDecideLINE(t *testing.T) {
	e := matrixEdge(t)
	p := hookPath("line", ingLINE)
	body := `{"destination":"U1","events":[{"webhookEventId":"01H","type":"message","message":{"text":"こんにちは"}}]}`
	good := hmacB64(sha256New, []byte("line-channel-secret"), body)
	runCases(t, e, []decideCase{
		{name: "good", req: post(p, body, "X-Line-Signature", good), accept: true},
		{name: "forged", req: post(p, body+"\n", "X-Line-Signature", good), want: ReasonBadSignature},
		{name: "hex instead of base64", req: post(p, body, "X-Line-Signature", hmacHex(sha256New, "line-channel-secret", body)), want: ReasonBadSignature},
		{name: "missing", req: post(p, body), want: ReasonMissingSignature},
		{name: "cross-tenant", req: post(p, body, "X-Line-Signature", hmacB64(sha256New, []byte("slack-secret-A"), body)), want: ReasonBadSignature},
	})
}

// Standard Webhooks: the specification's worked example, several signatures
// in one header, whsec_ secrets decoded (not used literally, as Stripe does).
func TestDecideStandardWebhooks(t *testing.T) {
	e := matrixEdge(t)
	p := hookPath("standardwebhooks", ingSW)
	const id, at, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), `{"test": 2432232314}`
	const doc = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	req := func(sig string, b string) *Request {
		return post(p, b, "webhook-id", id, "webhook-timestamp", ts(at), "webhook-signature", sig)
	}
	other := "v1," + hmacB64(sha256New, []byte("not-the-key"), id+"."+ts(at)+"."+body)
	literal := "v1," + hmacB64(sha256New, []byte(swSecret), id+"."+ts(at)+"."+body) // Stripe-style use of the string
	runCases(t, e, []decideCase{
		{name: "published example", req: req(doc, body), now: at, accept: true},
		{name: "several signatures, one valid", req: req(other+" "+doc, body), now: at, accept: true},
		{name: "unknown version entries skipped", req: req("v1a,Zm9v "+doc, body), now: at, accept: true},
		{name: "rotation: second secret", req: req("v1,"+hmacB64(sha256New, mustB64(t, swSecretB[6:]), id+"."+ts(at)+"."+body), body), now: at, accept: true},
		{name: "secret used literally does not verify", req: req(literal, body), now: at, want: ReasonBadSignature},
		{name: "only invalid signatures", req: req(other+" "+other, body), now: at, want: ReasonBadSignature},
		{name: "forged body", req: req(doc, `{"test": 2432232315}`), now: at, want: ReasonBadSignature},
		{name: "no v1 entry", req: req("v2,abc", body), now: at, want: ReasonBadSignature},
		{name: "garbage header", req: req("nonsense", body), now: at, want: ReasonBadSignature},
		{name: "stale", req: req(doc, body), now: at + 301, want: ReasonStaleTimestamp},
		{name: "future", req: req(doc, body), now: at - 301, want: ReasonStaleTimestamp},
		{name: "missing id", req: post(p, body, "webhook-timestamp", ts(at), "webhook-signature", doc), now: at, want: ReasonMissingSignature},
		{name: "missing signature", req: post(p, body, "webhook-id", id, "webhook-timestamp", ts(at)), now: at, want: ReasonMissingSignature},
	})
}
