// Package kit is LINE's conformance kit (see provider/conformance).
package kit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/line"
)

func init() { conformance.Register(Kit{}) }

// Kit is the LINE kit.
type Kit struct{}

func (Kit) Provider() string  { return line.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake channel.
const (
	ChannelSecret = "8c570fa6dd201bb328f1c1eac23a96d8"
	AccessToken   = "fake-line-channel-access-token"
	BotUserID     = "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	User          = "U4af4980629a5b0e4e8f6b9bd7e0d8f6c"
	SlowUser      = "U0000000000000000000000000000429f" // the fake answers 429 for it
	ReplyToken    = "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA"
)

// Body is a one-message webhook body from user with a reply token.
func Body(user, eventID, replyToken string) []byte {
	b, _ := json.Marshal(map[string]any{"destination": BotUserID, "events": []any{map[string]any{
		"type": "message", "mode": "active", "timestamp": 1462629479859, "webhookEventId": eventID, "replyToken": replyToken,
		"deliveryContext": map[string]any{"isRedelivery": false},
		"source":          map[string]any{"type": "user", "userId": user},
		"message":         map[string]any{"id": "444573844083572737", "type": "text", "text": "hello"},
	}}})
	return b
}

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Vectors: X-Line-Signature is base64 HMAC-SHA256 of the raw body with the
// channel secret; non-ASCII text must verify over the bytes received.
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/line/" + conformance.Ingress
	body := Body(User, "01FZ74A0TDDPYRVKNK77XKC3ZR", ReplyToken)
	jp := []byte(`{"destination":"` + BotUserID + `","events":[{"type":"message","mode":"active","timestamp":1,"webhookEventId":"01X","source":{"type":"user","userId":"U1"},"message":{"id":"1","type":"text","text":"こんにちは"}}]}`)
	req := func(sig string, b []byte) filter.Request {
		h := [][2]string{{"Content-Type", "application/json; charset=utf-8"}}
		if sig != "" {
			h = append(h, [2]string{"X-Line-Signature", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: b}
	}
	sec := map[string]string{"signing": ChannelSecret}
	return []conformance.Vector{
		{Name: "signed body", Secrets: sec, Request: req(sign(ChannelSecret, body), body), Accept: true},
		{Name: "non-ASCII body", Secrets: sec, Request: req(sign(ChannelSecret, jp), jp), Accept: true},
		{Name: "body changed", Secrets: sec, Request: req(sign(ChannelSecret, body), append(body[:len(body):len(body)], ' ')), Reason: filter.ReasonBadSignature},
		{Name: "other channel secret", Secrets: map[string]string{"signing": "0123456789abcdef0123456789abcdef"}, Request: req(sign(ChannelSecret, body), body), Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: sec, Request: req("", body), Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows the Messaging API: POST /v2/bot/message/reply
// {replyToken, messages} and POST /v2/bot/message/push {to, messages}
// (optional X-Line-Retry-Key, 409 with X-Line-Accepted-Request-Id on a
// repeat), Bearer channel access token; a reply token is accepted once; 200 {} on success; errors
// {"message": ...}: 400 "Invalid reply token" for an unknown or spent token,
// 401 for a bad token, 429 when rate limited; at most 5 messages of at most
// 5,000 characters each.
func (Kit) FakeAPI() http.Handler {
	var mu sync.Mutex
	spent := map[string]bool{}
	keys := map[string]bool{}
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"` + msg + `"}`))
	}
	type req struct {
		ReplyToken string `json:"replyToken"`
		To         string `json:"to"`
		Messages   []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"messages"`
	}
	check := func(w http.ResponseWriter, r *http.Request) (*req, bool) {
		if r.Header.Get("Authorization") != "Bearer "+AccessToken {
			fail(w, 401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
			return nil, false
		}
		var q req
		if json.NewDecoder(r.Body).Decode(&q) != nil {
			fail(w, 400, "The request body has 1 error(s)")
			return nil, false
		}
		if len(q.Messages) == 0 || len(q.Messages) > line.MaxMessages {
			fail(w, 400, "The request body has 1 error(s)")
			return nil, false
		}
		for _, m := range q.Messages {
			if m.Type != "text" || m.Text == "" || provider.UTF16Len(m.Text) > line.MaxText {
				fail(w, 400, "The request body has 1 error(s)")
				return nil, false
			}
		}
		return &q, true
	}
	mux.HandleFunc("POST /v2/bot/message/reply", func(w http.ResponseWriter, r *http.Request) {
		q, ok := check(w, r)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		// LINE issues reply tokens (32 hex characters in its examples) with
		// webhook events; the fake takes ReplyToken and any such token once.
		if (q.ReplyToken != ReplyToken && !isHex32(q.ReplyToken)) || spent[q.ReplyToken] {
			fail(w, 400, "Invalid reply token")
			return
		}
		spent[q.ReplyToken] = true
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sentMessages":[{"id":"461230966842064897","quoteToken":"IStG5h1Tz7b..."}]}`))
	})
	mux.HandleFunc("POST /v2/bot/message/push", func(w http.ResponseWriter, r *http.Request) {
		q, ok := check(w, r)
		if !ok {
			return
		}
		if q.To == SlowUser {
			fail(w, 429, "The API rate limit has been exceeded. Try again later.")
			return
		}
		if q.To == "" {
			fail(w, 400, "The request body has 1 error(s)")
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if k := r.Header.Get("X-Line-Retry-Key"); k != "" {
			if keys[k] {
				w.Header().Set("X-Line-Accepted-Request-Id", "5b59509c-c57b-11e9-aa8c-2a2ae2dbcce4")
				fail(w, 409, "The retry key is already accepted")
				return
			}
			keys[k] = true
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"sentMessages":[{"id":"461230966842064898","quoteToken":"IStG5h1Tz7c..."}]}`))
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return line.NewSender(base, nil) }

func (Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: BotUserID, Conversation: User, EventID: "01FZ74A0TDDPYRVKNK77XKC3ZR",
		Raw: Body(User, "01FZ74A0TDDPYRVKNK77XKC3ZR", ReplyToken), ReceivedAt: time.Now()}
}

// RateLimitedReply has no reply token (a push to the user the fake limits).
func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: AccessToken, Account: BotUserID, Conversation: SlowUser, EventID: "01FZ74A0TDDPYRVKNK77XKC4ZZ"}
}

func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: line.MaxText, Unit: "utf16", Over: conformance.Split}
}

func (Kit) RateLimitWait() time.Duration { return 0 }

// Texts reads the text messages of a reply or push request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Messages []struct {
			Text string `json:"text"`
		} `json:"messages"`
	}
	if json.Unmarshal(r.Body, &q) != nil {
		return nil
	}
	var out []string
	for _, m := range q.Messages {
		out = append(out, m.Text)
	}
	return out
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{None: "LINE has no app uninstall; unfollow and leave (the bot blocked or removed in one chat) are delivered to the agent as membership events, not yet treated as a conversation revocation"}
}
