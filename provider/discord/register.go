package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/store"
)

func init() {
	registration.Add(Name, registration.Provider{Needs: []string{store.PurposeBotToken}, Register: Register, Check: Check})
}

type application struct {
	ID                      string `json:"id"`
	Name                    string `json:"name"`
	InteractionsEndpointURL string `json:"interactions_endpoint_url"`
	VerifyKey               string `json:"verify_key"`
}

// apiError renders Discord's error body: its message, code and every
// field error's message.
func apiError(status int, body []byte) string {
	var e struct {
		Message string          `json:"message"`
		Code    int             `json:"code"`
		Errors  json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return fmt.Sprintf("HTTP %d", status)
	}
	out := fmt.Sprintf("%s (code %d)", e.Message, e.Code)
	var msgs []string
	collectErrors(e.Errors, "", &msgs)
	sort.Strings(msgs)
	if len(msgs) > 0 {
		out += ": " + strings.Join(msgs, "; ")
	}
	return out
}

// collectErrors walks Discord's nested {"field":{"_errors":[{"code","message"}]}}.
func collectErrors(raw json.RawMessage, path string, out *[]string) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	for k, v := range m {
		if k == "_errors" {
			var errs []struct{ Code, Message string }
			_ = json.Unmarshal(v, &errs)
			for _, e := range errs {
				*out = append(*out, path+": "+e.Message+" ("+e.Code+")")
			}
			continue
		}
		p := k
		if path != "" {
			p = path + "." + k
		}
		collectErrors(v, p, out)
	}
}

func call(ctx context.Context, r registration.Request, method string, body any) (*application, string, error) {
	token, err := r.Need(store.PurposeBotToken, "the application is edited with its bot token")
	if err != nil {
		return nil, "", err
	}
	api := httpsend.NewAPI(r.Base, DefaultAPIBase, r.HTTP)
	var js []byte
	if body != nil {
		if js, err = json.Marshal(body); err != nil {
			return nil, "", err
		}
	}
	ans, err := api.Do(ctx, method, "/api/v10/applications/@me", http.Header{"Authorization": {"Bot " + token}, "Content-Type": {"application/json"}}, js)
	if err != nil {
		return nil, "", fmt.Errorf("discord %s /applications/@me: %s", method, r.Redact(err.Error()))
	}
	if ans.Status/100 != 2 {
		return nil, r.Redact(apiError(ans.Status, ans.Body)), nil
	}
	var app application
	if err := json.Unmarshal(ans.Body, &app); err != nil {
		return nil, "", fmt.Errorf("discord %s /applications/@me: answer is not an application", method)
	}
	return &app, "", nil
}

// Register sets the application's interactions endpoint URL with the bot
// token (PATCH /applications/@me). Discord validates the URL at once with a
// signed PING, which the edge answers; a URL it cannot verify is refused
// with Discord's own message.
func Register(ctx context.Context, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: Name, Info: map[string]any{}}
	app, refusal, err := call(ctx, r, http.MethodPatch, map[string]string{"interactions_endpoint_url": r.WebhookURL})
	if err != nil {
		return res, err
	}
	if app == nil {
		res.Add("PATCH /applications/@me", false, refusal)
		res.Fix = "Discord refused the interactions endpoint: " + refusal + " (the edge must have the public key and answer the PING: GET /v1/installations/" + r.InstallationID + "/health)"
		return res, nil
	}
	res.Add("PATCH /applications/@me", true, "interactions endpoint set to "+app.InteractionsEndpointURL)
	return into(res, r, app), nil
}

// Check reads the application (GET /applications/@me) and compares its
// interactions endpoint and id with the installation's.
func Check(ctx context.Context, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: Name, Info: map[string]any{}}
	app, refusal, err := call(ctx, r, http.MethodGet, nil)
	if err != nil {
		return res, err
	}
	if app == nil {
		res.Add("GET /applications/@me", false, refusal)
		res.Fix = "Discord refused the bot token: " + refusal
		return res, nil
	}
	res.Add("GET /applications/@me", app.InteractionsEndpointURL == r.WebhookURL, "interactions endpoint "+orNone(app.InteractionsEndpointURL))
	if !res.OK {
		res.Fix = "register again: POST /v1/installations/" + r.InstallationID + "/register"
	}
	return into(res, r, app), nil
}

func into(res registration.Result, r registration.Request, app *application) registration.Result {
	res.Info = map[string]any{"application_id": app.ID, "name": app.Name, "interactions_endpoint_url": app.InteractionsEndpointURL}
	if r.ExternalAppID != "" && app.ID != r.ExternalAppID {
		res.Add("application", false, fmt.Sprintf("the bot token is of application %s, the profile is %s", app.ID, r.ExternalAppID))
		res.Fix = "store the bot token of application " + r.ExternalAppID
	}
	return res
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
