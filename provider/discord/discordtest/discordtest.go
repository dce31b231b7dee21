// Package discordtest is a fake Discord API for tests: GET and PATCH
// /api/v10/applications/@me as documented (Edit Current Application), with
// the interactions endpoint validated the way Discord does: a signed PING
// (Ed25519 over timestamp + body) that must be answered {"type":1}.
package discordtest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// API is one application's fake API.
type API struct {
	*httptest.Server
	AppID, BotToken string
	Key             ed25519.PrivateKey // signs the validation PING

	mu       sync.Mutex
	endpoint string
	Pings    int

	// OAuth2: a code the token endpoint exchanges once, for GuildID.
	ClientSecret, Code, GuildID, RedirectURI string
	used                                     map[string]bool
}

// New serves a fake application; key signs the PINGs (its public half is
// the application's public key).
func New(appID, botToken string, key ed25519.PrivateKey) *API {
	a := &API{AppID: appID, BotToken: botToken, Key: key, ClientSecret: "discord-client-secret-value", Code: "discord-code", GuildID: "200000000000000002", used: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

// Endpoint is the interactions endpoint URL set.
func (a *API) Endpoint() string { a.mu.Lock(); defer a.mu.Unlock(); return a.endpoint }

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *API) app() map[string]any {
	return map[string]any{"id": a.AppID, "name": "Switchboard", "interactions_endpoint_url": a.endpoint,
		"verify_key": hex.EncodeToString(a.Key.Public().(ed25519.PublicKey)), "bot_public": true}
}

// ping posts a signed PING to url and reports whether it was answered with type 1.
func (a *API) ping(url string) bool {
	body := []byte(`{"id":"1000000000000000001","application_id":"` + a.AppID + `","type":1,"token":"ping-token","version":1}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	sig := ed25519.Sign(a.Key, append([]byte(ts), body...))
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Signature-Ed25519", hex.EncodeToString(sig))
	req.Header.Set("X-Signature-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct{ Type int }
	return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(&out) == nil && out.Type == 1
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/v10/oauth2/token" {
		a.token(w, r)
		return
	}
	if r.URL.Path != "/api/v10/applications/@me" {
		reply(w, 404, map[string]any{"message": "404: Not Found", "code": 0})
		return
	}
	if tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bot "); tok != a.BotToken {
		reply(w, 401, map[string]any{"message": "401: Unauthorized", "code": 0})
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.mu.Lock()
		defer a.mu.Unlock()
		reply(w, 200, a.app())
	case http.MethodPatch:
		var body struct {
			URL *string `json:"interactions_endpoint_url"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(w, 400, map[string]any{"message": "400: Bad Request", "code": 50109})
			return
		}
		if body.URL != nil && *body.URL != "" {
			a.mu.Lock()
			a.Pings++
			a.mu.Unlock()
			if !a.ping(*body.URL) {
				reply(w, 400, map[string]any{"message": "Invalid Form Body", "code": 50035, "errors": map[string]any{
					"interactions_endpoint_url": map[string]any{"_errors": []any{map[string]any{"code": "APPLICATION_INTERACTIONS_ENDPOINT_URL_INVALID",
						"message": "The specified interactions endpoint url could not be verified."}}}}})
				return
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if body.URL != nil {
			a.endpoint = *body.URL
		}
		reply(w, 200, a.app())
	default:
		reply(w, 405, map[string]any{"message": "405: Method Not Allowed", "code": 0})
	}
}

// token is the OAuth2 token endpoint (authorization_code grant).
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch {
	case id != a.AppID || secret != a.ClientSecret:
		reply(w, 401, map[string]any{"error": "invalid_client"})
	case r.PostForm.Get("grant_type") != "authorization_code":
		reply(w, 400, map[string]any{"error": "unsupported_grant_type"})
	case r.PostForm.Get("code") != a.Code || a.used[a.Code]:
		reply(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid \"code\" in request."})
	case a.RedirectURI != "" && r.PostForm.Get("redirect_uri") != a.RedirectURI:
		reply(w, 400, map[string]any{"error": "invalid_grant", "error_description": "Invalid \"redirect_uri\" in request."})
	default:
		a.used[a.Code] = true
		reply(w, 200, map[string]any{"access_token": "user-access-token", "token_type": "Bearer", "expires_in": 604800,
			"refresh_token": "refresh", "scope": "bot applications.commands", "guild": map[string]any{"id": a.GuildID, "name": "Acme Guild"}})
	}
}
