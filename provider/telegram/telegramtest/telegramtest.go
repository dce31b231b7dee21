// Package telegramtest is a fake Telegram Bot API for tests: setWebhook and
// getWebhookInfo as documented (https://core.telegram.org/bots/api), with
// the Bot API's answer envelope {"ok","result","description","error_code"}.
package telegramtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// BotAPI is one bot's fake API.
type BotAPI struct {
	*httptest.Server
	Token string

	mu                 sync.Mutex
	url, secret        string
	allowed            []string
	PendingUpdateCount int
	LastErrorMessage   string
	LastErrorDate      int64
	Calls              []string // methods called, in order
}

// New serves a fake Bot API for the bot with token.
func New(token string) *BotAPI {
	b := &BotAPI{Token: token}
	b.Server = httptest.NewServer(http.HandlerFunc(b.serve))
	return b
}

// Webhook is what setWebhook stored.
func (b *BotAPI) Webhook() (url, secretToken string, allowed []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.url, b.secret, append([]string(nil), b.allowed...)
}

// SetWebhook changes the stored webhook (as another client would).
func (b *BotAPI) SetWebhook(url string, allowed []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.url, b.allowed = url, allowed
}

func answer(w http.ResponseWriter, status int, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (b *BotAPI) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		answer(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	if token != b.Token {
		answer(w, 401, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.Calls = append(b.Calls, method)
	var body struct {
		URL            string   `json:"url"`
		SecretToken    string   `json:"secret_token"`
		AllowedUpdates []string `json:"allowed_updates"`
	}
	if r.Header.Get("Content-Type") == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			answer(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: can't parse JSON"})
			return
		}
	}
	switch method {
	case "setWebhook":
		if !strings.HasPrefix(body.URL, "https://") {
			answer(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"})
			return
		}
		for _, c := range body.SecretToken {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				answer(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: secret token contains unallowed characters"})
				return
			}
		}
		desc := "Webhook was set"
		if body.URL == b.url {
			desc = "Webhook is already set"
		}
		b.url, b.secret, b.allowed = body.URL, body.SecretToken, body.AllowedUpdates
		answer(w, 200, map[string]any{"ok": true, "result": true, "description": desc})
	case "getWebhookInfo":
		res := map[string]any{"url": b.url, "has_custom_certificate": false, "pending_update_count": b.PendingUpdateCount, "max_connections": 40}
		if b.allowed != nil {
			res["allowed_updates"] = b.allowed
		}
		if b.LastErrorMessage != "" {
			res["last_error_date"], res["last_error_message"] = b.LastErrorDate, b.LastErrorMessage
		}
		answer(w, 200, map[string]any{"ok": true, "result": res})
	default:
		answer(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found: method not found"})
	}
}
