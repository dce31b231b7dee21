// Package kit is WhatsApp's conformance kit (see provider/conformance).
package kit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/whatsapp"
)

func init() { conformance.Register(Kit{}) }

// Kit is the WhatsApp kit.
type Kit struct{}

func (Kit) Provider() string  { return whatsapp.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake business number.
const (
	AppSecret     = "6a3f7e2c9b1d4e8fa0b2c4d6e8f01234"
	AccessToken   = "EAAG-fake-whatsapp-access-token"
	PhoneNumberID = "106540352242922"
	User          = "16505551234"
	SlowUser      = "16505550429" // the fake answers error 130429 (throughput limit)
)

// Vectors: X-Hub-Signature-256 over the raw body, non-ASCII escaped as Meta sends it.
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/whatsapp/" + conformance.Ingress
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"` + PhoneNumberID + `"},"messages":[{"from":"` + User + `","id":"wamid.1","timestamp":"1700000000","type":"text","text":{"body":"Ol\u00e1"}}]}}]}]}`)
	m := hmac.New(sha256.New, []byte(AppSecret))
	m.Write(body)
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	req := func(sig string, b []byte) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}}
		if sig != "" {
			h = append(h, [2]string{"X-Hub-Signature-256", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: b}
	}
	sec := map[string]string{"signing": AppSecret}
	return []conformance.Vector{
		{Name: "escaped non-ASCII body", Secrets: sec, Request: req(sig, body), Accept: true},
		{Name: "body changed", Secrets: sec, Request: req(sig, append(body[:len(body):len(body)], ' ')), Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: sec, Request: req("", body), Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows the Cloud API: POST /{version}/{phone_number_id}/messages
// with a Bearer token and {messaging_product:"whatsapp", to, type:"text",
// text:{body}}; {messages:[{id}]} or Graph error objects.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status, code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"message":"` + msg + `","type":"OAuthException","code":` + itoa(code) + `,"fbtrace_id":"AbC"}}`))
	}
	mux.HandleFunc("POST /{version}/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+AccessToken {
			fail(w, 401, 190, "Invalid OAuth access token.")
			return
		}
		if r.PathValue("version") != whatsapp.DefaultAPIVersion || r.PathValue("phone") != PhoneNumberID {
			fail(w, 400, 100, "Unsupported post request.")
			return
		}
		var q struct {
			Product string `json:"messaging_product"`
			To      string `json:"to"`
			Type    string `json:"type"`
			Text    struct {
				Body string `json:"body"`
			} `json:"text"`
		}
		if json.NewDecoder(r.Body).Decode(&q) != nil || q.Product != "whatsapp" || q.Type != "text" || q.To == "" || q.Text.Body == "" {
			fail(w, 400, 100, "(#100) Invalid parameter")
			return
		}
		if len([]rune(q.Text.Body)) > whatsapp.MaxText {
			fail(w, 400, 100, "(#100) Param text['body'] must be at most 4096 characters long.")
			return
		}
		if q.To == SlowUser {
			fail(w, 400, 130429, "(#130429) Rate limit hit")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"` + q.To + `","wa_id":"` + q.To + `"}],"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"}]}`))
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return whatsapp.NewSender(base, "", nil) }
func (Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: PhoneNumberID, Conversation: User}
}
func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: PhoneNumberID, Conversation: SlowUser}
}
func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: whatsapp.MaxText, Unit: "characters", Over: conformance.Refuse}
}
func (Kit) RateLimitWait() time.Duration { return 0 }

// Texts reads text.body of a messages request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Text struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Text.Body == "" {
		return nil
	}
	return []string{q.Text.Body}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{None: "WhatsApp Cloud API webhooks carry no uninstall or deauthorization notification"}
}
