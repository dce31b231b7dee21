// Package kit is Twilio's conformance kit (see provider/conformance).
package kit

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/twilio"
)

func init() { conformance.Register(Kit{}) }

// Kit is the Twilio kit.
type Kit struct{}

func (Kit) Provider() string  { return twilio.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake account: its sid, auth token, the number it owns, and a number
// the fake answers as rate limited.
const (
	AccountSid  = "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
	AuthToken   = "0a1b2c3d4e5f60718293a4b5c6d7e8f9" // the fake account's (32 hex, as the API takes it)
	docToken    = "12345"                            // the security docs' example token
	OwnNumber   = "+15557654321"
	SlowNumber  = "+15550000429"
	Customer    = "+15551234567"
	BotToken    = AccountSid + ":" + AuthToken
	vectorsPath = "/v1/hooks/twilio/" + conformance.Ingress
)

// Vectors: Twilio's published signature example (auth token 12345, the URL
// https://mycompany.com/myapp.php?foo=1&bar=2, its form parameters) and
// the JSON variant with bodySHA256, then the same requests altered.
func (Kit) Vectors() []conformance.Vector {
	form := "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212"
	const docSig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=" // X-Twilio-Signature of the security docs' example
	req := func(path, sig, ct, body string) filter.Request {
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path,
			Headers: [][2]string{{"X-Twilio-Signature", sig}, {"Content-Type", ct}}, Body: []byte(body)}
	}
	secrets := map[string]string{"signing": docToken}
	const formCT = "application/x-www-form-urlencoded"
	jsonBody := `{"MessageSid":"SM1","From":"+15551234567","To":"+15557654321","Body":"hi"}`
	jsonURL := "https://edge.example" + vectorsPath + "?bodySHA256=" + sha256Hex(jsonBody)
	mac := hmac.New(sha1.New, []byte(docToken))
	mac.Write([]byte(jsonURL))
	jsonSig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	jsonPath := vectorsPath + "?bodySHA256=" + sha256Hex(jsonBody)
	return []conformance.Vector{
		{Name: "docs example", Secrets: secrets, PublicURL: "https://mycompany.com/myapp.php", Request: req(vectorsPath+"?foo=1&bar=2", docSig, formCT, form), Accept: true},
		{Name: "docs example, parameter changed", Secrets: secrets, PublicURL: "https://mycompany.com/myapp.php", Request: req(vectorsPath+"?foo=1&bar=2", docSig, formCT, form[:len(form)-1]+"3"), Reason: filter.ReasonBadSignature},
		{Name: "docs example, other token", Secrets: map[string]string{"signing": "54321"}, PublicURL: "https://mycompany.com/myapp.php", Request: req(vectorsPath+"?foo=1&bar=2", docSig, formCT, form), Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: secrets, Request: filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: vectorsPath, Body: []byte(form)}, Reason: filter.ReasonMissingSignature},
		{Name: "json with bodySHA256", Secrets: secrets, Request: req(jsonPath, jsonSig, "application/json", jsonBody), Accept: true},
		{Name: "json body changed", Secrets: secrets, Request: req(jsonPath, jsonSig, "application/json", jsonBody+" "), Reason: filter.ReasonBadSignature},
	}
}

// FakeAPI follows the Messages API: POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json with basic authentication
// and form parameters To, From and Body; 201 with the message resource, or
// an error object {code, message, more_info, status}.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"code":` + itoa(code) + `,"message":"` + msg + `","more_info":"https://www.twilio.com/docs/errors/` + itoa(code) + `","status":` + itoa(status) + `}`))
	}
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != AccountSid || p != AuthToken || r.PathValue("sid") != AccountSid {
			fail(w, 401, 20003, "Authenticate")
			return
		}
		if err := r.ParseForm(); err != nil || !provider.IsForm(r.Header.Get("Content-Type")) {
			fail(w, 400, 20001, "Invalid request")
			return
		}
		to, from, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Body")
		switch {
		case to == SlowNumber:
			fail(w, 429, 20429, "Too Many Requests")
			return
		case to == "":
			fail(w, 400, 21604, "A 'To' phone number is required.")
			return
		case from != OwnNumber:
			fail(w, 400, 21606, "The From phone number is not a valid, message-capable Twilio phone number for this account.")
			return
		case body == "":
			fail(w, 400, 21602, "Message body is required.")
			return
		case len([]rune(body)) > twilio.MaxBody:
			fail(w, 400, 21617, "The concatenated message body exceeds the 1600 character limit.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		w.Write([]byte(`{"account_sid":"` + AccountSid + `","api_version":"2010-04-01","direction":"outbound-api","from":"` + from + `","to":"` + to + `","num_media":"0","sid":"SM` + "0123456789abcdef0123456789abcdef" + `","status":"queued","uri":"/2010-04-01/Accounts/` + AccountSid + `/Messages/SM0123456789abcdef0123456789abcdef.json"}`))
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return twilio.NewSender(base, nil) }

func (Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: BotToken, Account: OwnNumber, Conversation: Customer, EventID: "SM1"}
}

func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: BotToken, Account: OwnNumber, Conversation: SlowNumber, EventID: "SM2"}
}

func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: twilio.MaxBody, Unit: "characters", Over: conformance.Refuse}
}

func (Kit) RateLimitWait() time.Duration { return 0 }

// Texts reads the Body parameter of a Messages API request.
func (Kit) Texts(r *conformance.Recorded) []string {
	v, err := url.ParseQuery(string(r.Body))
	if err != nil || v.Get("Body") == "" {
		return nil
	}
	return []string{v.Get("Body")}
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{None: "Twilio Messaging webhooks carry no uninstall notification (a number's webhook URL is configured, not installed)"}
}
