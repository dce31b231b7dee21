// Package slacktest is a fake Slack Web API for tests: auth.test (with the
// x-oauth-scopes header) and oauth.v2.access as documented, and the OAuth
// consent page (GET /oauth/v2/authorize: its "Allow" link sends the browser
// to redirect_uri with code and state, as Slack does)
// (https://api.slack.com/methods), answering {"ok":false,"error":…} the way
// Slack does (HTTP 200).
package slacktest

import (
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	case "/oauth/v2/authorize":
		a.authorize(w, r)
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

var consent = template.Must(template.New("consent").Parse(`<!doctype html><html><head><title>Slack: {{.Title}}</title></head><body>
<h1 id="consent-title">{{.Title}}</h1>{{if .Allow}}<p>Scopes: <code id="consent-scopes">{{.Scopes}}</code></p>
<p><a id="consent-allow" href="{{.Allow}}">Allow</a> <a id="consent-deny" href="{{.Deny}}">Cancel</a></p>{{end}}
</body></html>`))

// authorize is Slack's consent page: an unknown client_id or a redirect_uri
// other than RedirectURI (when set) is an error page; otherwise Allow goes
// to redirect_uri?code=Code&state=… and Cancel to ?error=access_denied&state=….
func (a *API) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	ru, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != a.ClientID:
		w.WriteHeader(http.StatusBadRequest)
		consent.Execute(w, map[string]string{"Title": "invalid_client_id"})
		return
	case err != nil || ru.Scheme == "" || ru.Host == "" || (a.RedirectURI != "" && q.Get("redirect_uri") != a.RedirectURI):
		w.WriteHeader(http.StatusBadRequest)
		consent.Execute(w, map[string]string{"Title": "bad_redirect_uri"})
		return
	}
	back := func(v url.Values) string {
		u := *ru
		rq := u.Query()
		for k, vs := range v {
			rq[k] = vs
		}
		u.RawQuery = rq.Encode()
		return u.String()
	}
	consent.Execute(w, map[string]string{"Title": "Switchboard is requesting permission to access the " + a.TeamName + " Slack workspace",
		"Scopes": q.Get("scope"),
		"Allow":  back(url.Values{"code": {a.Code}, "state": {q.Get("state")}}),
		"Deny":   back(url.Values{"error": {"access_denied"}, "state": {q.Get("state")}})})
}
