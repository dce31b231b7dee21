// Package metagraphtest is a fake Graph API for tests: POST
// /{version}/{app-id}/subscriptions (which, like Meta, first calls the
// callback URL's GET handshake with hub.mode=subscribe, hub.verify_token and
// hub.challenge and expects the challenge back) and POST
// /{version}/{account}/subscribed_apps, with Meta's error envelope.
package metagraphtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
)

// API is a fake Graph API for one app.
type API struct {
	*httptest.Server
	AppID, AppSecret, AccessToken string

	mu            sync.Mutex
	Subscriptions []url.Values // app subscriptions accepted
	Subscribed    []string     // accounts subscribed to the app
	Form          []url.Values // subscribed_apps forms
}

// New serves a fake Graph API.
func New(appID, appSecret, accessToken string) *API {
	a := &API{AppID: appID, AppSecret: appSecret, AccessToken: accessToken}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	return a
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method == http.MethodGet && len(parts) == 3 && parts[2] == "subscriptions" {
		a.listSubscriptions(w, r, parts[1])
		return
	}
	if r.Method != http.MethodPost || len(parts) != 3 {
		fail(w, 400, 100, "Unsupported request")
		return
	}
	_ = r.ParseForm()
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch parts[2] {
	case "subscriptions":
		if parts[1] != a.AppID || tok != a.AppID+"|"+a.AppSecret {
			fail(w, 400, 190, "Invalid OAuth access token - Cannot parse access token")
			return
		}
		cb := r.PostForm.Get("callback_url")
		challenge := "1158201444"
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {r.PostForm.Get("verify_token")}, "hub.challenge": {challenge}}
		resp, err := http.Get(cb + "?" + q.Encode())
		ok := false
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == 200 && string(b) == challenge
		}
		if !ok {
			fail(w, 400, 2200, "(#2200) callback verification failed with the following errors: HTTP Status Code = 403; HTTP Message = Forbidden")
			return
		}
		a.mu.Lock()
		a.Subscriptions = append(a.Subscriptions, r.PostForm)
		a.mu.Unlock()
	case "subscribed_apps":
		if tok != a.AccessToken {
			fail(w, 400, 190, "Invalid OAuth access token - Cannot parse access token")
			return
		}
		a.mu.Lock()
		a.Subscribed = append(a.Subscribed, parts[1])
		a.Form = append(a.Form, r.PostForm)
		a.mu.Unlock()
	default:
		fail(w, 400, 100, "Unsupported post request")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"success":true}`)
}

// listSubscriptions answers GET /{app-id}/subscriptions: the app's current
// subscription per object (the latest POST for it).
func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request, app string) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if app != a.AppID || tok != a.AppID+"|"+a.AppSecret {
		fail(w, 400, 190, "Invalid OAuth access token - Cannot parse access token")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	byObject := map[string]url.Values{}
	var order []string
	for _, s := range a.Subscriptions {
		if byObject[s.Get("object")] == nil {
			order = append(order, s.Get("object"))
		}
		byObject[s.Get("object")] = s
	}
	data := []any{}
	for _, o := range order {
		s := byObject[o]
		var fields []any
		for _, f := range strings.Split(s.Get("fields"), ",") {
			fields = append(fields, map[string]string{"name": f, "version": "v21.0"})
		}
		data = append(data, map[string]any{"object": o, "callback_url": s.Get("callback_url"), "active": true, "fields": fields})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": data})
}
