// Package kit is Telegram's conformance kit (see provider/conformance).
package kit

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/telegram"
)

func init() { conformance.Register(Kit{}) }

// Kit is the Telegram kit.
type Kit struct{}

func (Kit) Provider() string  { return telegram.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake bot.
const (
	BotToken    = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
	SecretToken = "tg_Secret-123"
	Chat        = "-1001234567890"
	SlowChat    = "-1000000000429" // the fake answers 429 with retry_after 5
)

// Vectors: X-Telegram-Bot-Api-Secret-Token must equal the secret_token
// given to setWebhook.
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/telegram/" + conformance.Ingress
	body := []byte(`{"update_id":10000,"message":{"message_id":1,"date":1441645532,"chat":{"id":1111111,"type":"private"},"text":"hi"}}`)
	req := func(tok string) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}}
		if tok != "" {
			h = append(h, [2]string{"X-Telegram-Bot-Api-Secret-Token", tok})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: body}
	}
	sec := map[string]string{"secret_token": SecretToken}
	return []conformance.Vector{
		{Name: "secret token", Secrets: sec, Request: req(SecretToken), Accept: true},
		{Name: "other token", Secrets: sec, Request: req("tg_Secret-124"), Reason: filter.ReasonBadSignature},
		{Name: "no token", Secrets: sec, Request: req(""), Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows the Bot API: POST /bot<token>/sendMessage with JSON
// {chat_id, text, message_thread_id}; {"ok":true,"result":Message}, or
// {"ok":false,"error_code":...,"description":...,"parameters":{"retry_after":...}}.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, code int, desc, extra string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(`{"ok":false,"error_code":` + itoa(code) + `,"description":"` + desc + `"` + extra + `}`))
	}
	mux.HandleFunc("POST /{bot}/sendMessage", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("bot") != "bot"+BotToken {
			fail(w, 401, "Unauthorized", "")
			return
		}
		var q struct {
			ChatID string `json:"chat_id"`
			Text   string `json:"text"`
		}
		if json.NewDecoder(r.Body).Decode(&q) != nil || q.ChatID == "" {
			fail(w, 400, "Bad Request: chat_id is empty", "")
			return
		}
		switch {
		case q.ChatID == SlowChat:
			fail(w, 429, "Too Many Requests: retry after 5", `,"parameters":{"retry_after":5}`)
		case q.Text == "":
			fail(w, 400, "Bad Request: message text is empty", "")
		case provider.UTF16Len(q.Text) > telegram.MaxText:
			fail(w, 400, "Bad Request: message is too long", "")
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"ok":true,"result":{"message_id":7,"date":1700000000,"chat":{"id":` + q.ChatID + `,"type":"supergroup"},"text":"ok"}}`))
		}
	})
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return telegram.NewSender(base, nil) }
func (Kit) GoodReply() provider.Reply                    { return provider.Reply{Token: BotToken, Conversation: Chat} }
func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: BotToken, Conversation: SlowChat}
}
func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: telegram.MaxText, Unit: "utf16", Over: conformance.Refuse}
}
func (Kit) RateLimitWait() time.Duration { return 5 * time.Second }

// Texts reads the text of a sendMessage request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Text == "" {
		return nil
	}
	return []string{q.Text}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{Inputs: []string{"my_chat_member_blocked", "my_chat_member_removed_from_group", "my_chat_member_unblocked"}}
}
