package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

const ingMessenger = "d0000000000000000000000000000001"

// signedRequest builds a Meta signed_request: base64url(HMAC-SHA256(secret,
// payload)) "." payload, payload = base64url(JSON), both without padding.
func signedRequest(secret, json string) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(json))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + "." + payload
}

func TestDecideMetaDeauthorize(t *testing.T) {
	sign := func(id, plain string) secretSpec { return secretSpec{id: id, purpose: PurposeSigning, plain: plain} }
	e := loadEdge(t,
		inst(t, ingMessenger, "messenger", SchemeMetaSHA256, "org_m", sign("sec_ms", metaSecret)),
		inst(t, ingMeta, "whatsapp", SchemeMetaSHA256, "org_m", sign("sec_m", metaSecret)))
	const payload = `{"algorithm":"HMAC-SHA256","issued_at":1700000000,"user_id":"6934012343346218"}`
	good := signedRequest(metaSecret, payload)
	form := func(path, body string, headers ...string) *Request {
		return post(path, body, append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)...)
	}
	p := hookPath("messenger", ingMessenger)
	runCases(t, e, []decideCase{
		{name: "deauthorize callback signed with the app secret", req: form(p, "signed_request="+good), accept: true},
		{name: "padded signature", req: form(p, "signed_request="+good[:43]+"="+good[43:]), accept: true},
		{name: "signed with another secret", req: form(p, "signed_request="+signedRequest("other-secret", payload)), want: ReasonBadSignature},
		{name: "payload changed", req: form(p, "signed_request="+good[:44]+"eyJ1c2VyX2lkIjoiMSJ9"), want: ReasonBadSignature},
		{name: "no dot", req: form(p, "signed_request=abc"), want: ReasonBadSignature},
		{name: "short signature", req: form(p, "signed_request=YWJj."+good[44:]), want: ReasonBadSignature},
		// Anything besides the one field is a notification and needs the header.
		{name: "second field", req: form(p, "signed_request="+good+"&x=1"), want: ReasonMissingSignature},
		{name: "not a form", req: post(p, "signed_request="+good), want: ReasonMissingSignature},
		{name: "whatsapp has no deauthorize callback", req: form(hookPath("whatsapp", ingMeta), "signed_request="+good), want: ReasonMissingSignature},
	})
}

// FuzzMetaDeauthorize: any form body on a Messenger ingress without the
// signature header is accepted exactly when it is one signed_request field
// whose signature is the app secret's HMAC of its payload.
func FuzzMetaDeauthorize(f *testing.F) {
	sign := secretSpec{id: "sec_ms", purpose: PurposeSigning, plain: metaSecret}
	e := loadEdge(f, inst(f, ingMessenger, "messenger", SchemeMetaSHA256, "org_m", sign))
	good := signedRequest(metaSecret, `{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"1"}`)
	for _, s := range []string{"signed_request=" + good, "signed_request=" + good + "&a=b", "signed_request=.", "signed_request=%2E", "x=1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		d := e.Decide(post(hookPath("messenger", ingMessenger), body, "Content-Type", "application/x-www-form-urlencoded"), T0)
		form, err := ParseForm(body)
		want := false
		if err == nil && len(form) == 1 && form[0][0] == "signed_request" {
			sr := form[0][1]
			if i := strings.IndexByte(sr, '.'); i > 0 && i < len(sr)-1 {
				sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sr[:i], "="))
				m := hmac.New(sha256.New, []byte(metaSecret))
				m.Write([]byte(sr[i+1:]))
				want = err == nil && hmac.Equal(sig, m.Sum(nil))
			}
		}
		if d.Accept != want {
			t.Fatalf("body %q: accept=%v (%s), want %v", body, d.Accept, d.Reason, want)
		}
	})
}
