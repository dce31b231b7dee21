// Package slacktest is a fake Slack Web API for tests: auth.test (with the
// x-oauth-scopes header) and oauth.v2.access as documented
// (https://api.slack.com/methods), answering {"ok":false,"error":…} the way
// Slack does (HTTP 200).
package slacktest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// API is a fake Slack workspace with one bot token.
type API struct {
	*httptest.Server
	BotToken, TeamID, TeamName, BotUser, BotUserID, AppID string
	Scopes                                                []string
	// OAuth: a code that oauth.v2.access exchanges (once) for BotToken,
	// given ClientID/ClientSecret and RedirectURI.
	ClientID, ClientSecret, Code, RedirectURI string

	mu    sync.Mutex
	used  map[string]bool
	Calls []string
}

// New serves a fake Slack API.
func New() *API {
	a := &API{BotToken: "xoxb-1111-2222-fakebottoken", TeamID: "T0TEAM", TeamName: "Acme", BotUser: "switchboard", BotUserID: "U0BOT",
		AppID: "A0APP", Scopes: []string{"app_mentions:read", "channels:history", "chat:write", "commands", "files:read", "groups:history", "im:history", "mpim:history"},
		ClientID: "1111.2222", ClientSecret: "0123456789abcdef0123456789abcdef", Code: "code-abc", used: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

func reply(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Calls = append(a.Calls, r.URL.Path)
	switch r.URL.Path {
	case "/api/auth.test":
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "" {
			reply(w, map[string]any{"ok": false, "error": "not_authed"})
			return
		}
		if tok != a.BotToken {
			reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		w.Header().Set("X-OAuth-Scopes", strings.Join(a.Scopes, ","))
		reply(w, map[string]any{"ok": true, "url": "https://acme.slack.com/", "team": a.TeamName, "user": a.BotUser,
			"team_id": a.TeamID, "user_id": a.BotUserID, "bot_id": "B0BOT", "is_enterprise_install": false})
	case "/api/oauth.v2.access":
		if err := r.ParseForm(); err != nil {
			reply(w, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		switch {
		case id != a.ClientID:
			reply(w, map[string]any{"ok": false, "error": "invalid_client_id"})
		case secret != a.ClientSecret:
			reply(w, map[string]any{"ok": false, "error": "bad_client_secret"})
		case r.PostForm.Get("code") != a.Code || a.used[a.Code]:
			reply(w, map[string]any{"ok": false, "error": "invalid_code"})
		case a.RedirectURI != "" && r.PostForm.Get("redirect_uri") != a.RedirectURI:
			reply(w, map[string]any{"ok": false, "error": "bad_redirect_uri"})
		default:
			a.used[a.Code] = true
			reply(w, map[string]any{"ok": true, "access_token": a.BotToken, "token_type": "bot", "scope": strings.Join(a.Scopes, ","),
				"bot_user_id": a.BotUserID, "app_id": a.AppID, "team": map[string]any{"name": a.TeamName, "id": a.TeamID},
				"enterprise": nil, "authed_user": map[string]any{"id": "U0INSTALLER"}, "is_enterprise_install": false})
		}
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}
