// Package kit is Slack's conformance kit (see provider/conformance).
package kit

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/slack"
)

func init() { conformance.Register(Kit{}) }

// Kit is the Slack kit.
type Kit struct{}

func (Kit) Provider() string  { return slack.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake workspace.
const (
	BotToken    = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
	Channel     = "C0123456789"
	SlowChannel = "C0RATELIMIT" // the fake answers 429 Retry-After: 30
)

// Vectors: Slack's worked example ("Verifying requests from Slack").
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/slack/" + conformance.Ingress
	const (
		secret = "8f742231b10e8888abcd99yyyzzz85a5"
		body   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		sig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
		ts     = 1531420618
	)
	req := func(sig, b string) filter.Request {
		h := [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Slack-Request-Timestamp", "1531420618"}}
		if sig != "" {
			h = append(h, [2]string{"X-Slack-Signature", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: []byte(b)}
	}
	sec := map[string]string{"signing": secret}
	return []conformance.Vector{
		{Name: "docs example", Secrets: sec, Request: req(sig, body), Now: ts, Accept: true},
		{Name: "docs example, 6 minutes later", Secrets: sec, Request: req(sig, body), Now: ts + 360, Reason: filter.ReasonStaleTimestamp},
		{Name: "docs example, body changed", Secrets: sec, Request: req(sig, body+"x"), Now: ts, Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: sec, Request: req("", body), Now: ts, Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows chat.postMessage: POST /api/chat.postMessage with a Bearer
// bot token and a JSON body {channel, text, thread_ts}; HTTP 200 with
// {"ok":true,...} or {"ok":false,"error":...}; 429 with Retry-After.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		answer := func(s string) { w.Write([]byte(s)) }
		if r.Header.Get("Authorization") != "Bearer "+BotToken {
			answer(`{"ok":false,"error":"invalid_auth"}`)
			return
		}
		var q struct {
			Channel string `json:"channel"`
			Text    string `json:"text"`
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&q) != nil {
			answer(`{"ok":false,"error":"invalid_json"}`)
			return
		}
		switch {
		case q.Channel == SlowChannel:
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			answer(`{"ok":false,"error":"ratelimited"}`)
		case q.Channel != Channel:
			answer(`{"ok":false,"error":"channel_not_found"}`)
		case q.Text == "":
			answer(`{"ok":false,"error":"no_text"}`)
		default:
			answer(`{"ok":true,"channel":"` + Channel + `","ts":"1503435956.000247","message":{"type":"message","subtype":"bot_message","ts":"1503435956.000247"}}`)
		}
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return slack.NewSender(base, nil) }
func (Kit) GoodReply() provider.Reply                    { return provider.Reply{Token: BotToken, Conversation: Channel} }
func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: BotToken, Conversation: SlowChannel}
}
func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: slack.MaxText, Unit: "characters", Over: conformance.Refuse}
}
func (Kit) RateLimitWait() time.Duration { return 30 * time.Second }

// Texts reads the text of a chat.postMessage request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Text == "" {
		return nil
	}
	return []string{q.Text}
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{Inputs: []string{"app_uninstalled", "tokens_revoked_bot", "app_uninstalled_enterprise"}}
}
