// Package metakit is the conformance kit Messenger and Instagram share
// (provider/messenger/kit and provider/instagram/kit give it their name,
// webhook object, limit and sender).
package metakit

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
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
)

// The fake Meta app and account.
const (
	AppSecret   = "6a3f7e2c9b1d4e8fa0b2c4d6e8f01234"
	VerifyToken = "meta-verify-token"
	AccessToken = "EAAG-fake-page-access-token"
	Account     = "106540352242922"
	User        = "6543210987654321"
	SlowUser    = "6543210987650429" // the fake answers with a rate-limit error for it
	Version     = metamsg.DefaultAPIVersion
)

// Kit is the shared kit; the providers' kits embed it.
type Kit struct {
	Name, Object string
	Dir          string
	Lim          conformance.Limit
	New          func(base string) *metamsg.Sender
}

func (k Kit) Provider() string  { return k.Name }
func (k Kit) GoldenDir() string { return k.Dir }

// Body is a one-message webhook of the kit's object.
func (k Kit) Body(text string) []byte {
	b, _ := json.Marshal(map[string]any{"object": k.Object, "entry": []any{map[string]any{"id": Account, "time": 1699999999999,
		"messaging": []any{map[string]any{"sender": map[string]any{"id": User}, "recipient": map[string]any{"id": Account},
			"timestamp": 1699999999000, "message": map[string]any{"mid": "m_1", "text": text}}}}}})
	return b
}

// Vectors: X-Hub-Signature-256 over the raw body, including Meta's \uXXXX
// escapes of non-ASCII text (verifying a re-serialised body would fail
// them), and the GET verify handshake.
func (k Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/" + k.Name + "/" + conformance.Ingress
	sign := func(secret string, b []byte) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(b)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	body := k.Body("hello")
	escaped := []byte(`{"object":"` + k.Object + `","entry":[{"id":"` + Account + `","time":1,"messaging":[{"sender":{"id":"` + User + `"},"recipient":{"id":"` + Account + `"},"timestamp":1,"message":{"mid":"m_2","text":"Ol\u00e1, \u4f60\u597d"}}]}]}`)
	post := func(sig string, b []byte) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}}
		if sig != "" {
			h = append(h, [2]string{"X-Hub-Signature-256", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: b}
	}
	sec := map[string]string{"signing": AppSecret, "verify_token": VerifyToken}
	get := func(token string) filter.Request {
		return filter.Request{Method: "GET", Scheme: "https", Host: "edge.example",
			Path: path + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + token}
	}
	return []conformance.Vector{
		{Name: "signed body", Secrets: sec, Request: post(sign(AppSecret, body), body), Accept: true},
		{Name: "escaped non-ASCII body", Secrets: sec, Request: post(sign(AppSecret, escaped), escaped), Accept: true},
		{Name: "body changed", Secrets: sec, Request: post(sign(AppSecret, body), append(body[:len(body):len(body)], '\n')), Reason: filter.ReasonBadSignature},
		{Name: "other app secret", Secrets: sec, Request: post(sign("00000000000000000000000000000000", body), body), Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: sec, Request: post("", body), Reason: filter.ReasonMissingSignature},
		{Name: "verify handshake", Secrets: sec, Request: get(VerifyToken), Accept: true},
		{Name: "verify handshake, wrong token", Secrets: sec, Request: get("guess"), Reason: filter.ReasonBadVerifyToken},
	}
}

// FakeAPI follows the Send API: POST /{version}/{account id}/messages with
// a Bearer Page access token and {recipient:{id}, messaging_type, message:
// {text}}; 200 {recipient_id, message_id}; Graph error objects {error:
// {message, type, code, error_subcode, fbtrace_id}} otherwise (code 190 bad
// token, 100 bad parameter, 613 rate limit).
func (k Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status, code int, typ, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"message":"` + msg + `","type":"` + typ + `","code":` + itoa(code) + `,"fbtrace_id":"AbCdEf"}}`))
	}
	mux.HandleFunc("POST /{version}/{account}/messages", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+AccessToken || r.URL.Query().Has("access_token") {
			fail(w, 401, 190, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
			return
		}
		if r.PathValue("version") != Version || r.PathValue("account") != Account {
			fail(w, 400, 100, "GraphMethodException", "Unsupported post request.")
			return
		}
		var q struct {
			Recipient struct {
				ID string `json:"id"`
			} `json:"recipient"`
			MessagingType string `json:"messaging_type"`
			Message       struct {
				Text string `json:"text"`
			} `json:"message"`
		}
		if json.NewDecoder(r.Body).Decode(&q) != nil || q.Recipient.ID == "" || q.Message.Text == "" || q.MessagingType == "" {
			fail(w, 400, 100, "OAuthException", "(#100) Invalid parameter")
			return
		}
		if k.Lim.Length(q.Message.Text) > k.Lim.Max {
			fail(w, 400, 100, "OAuthException", "(#100) Length of param message[text] must be less than or equal to the limit")
			return
		}
		if q.Recipient.ID == SlowUser {
			fail(w, 400, 613, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"recipient_id":"` + q.Recipient.ID + `","message_id":"m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}`))
	})
	return mux
}

func (k Kit) NewSender(base string) conformance.TextSender { return k.New(base) }

func (k Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: Account, Conversation: User, EventID: "m_1"}
}

func (k Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: Account, Conversation: SlowUser, EventID: "m_2"}
}

func (k Kit) Limit() conformance.Limit { return k.Lim }

func (k Kit) RateLimitWait() time.Duration { return 0 }

// Texts reads message.text of a Send API request.
func (k Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Message.Text == "" {
		return nil
	}
	return []string{q.Message.Text}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// UninstallCase: Meta's deauthorize callback (a signed_request form, verified
// by the edge with the app secret) revokes the installation it is posted for
// (docs/revocation.md).
func (k Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{Inputs: []string{"deauthorize"}}
}
