// Package metagraph registers Meta products' webhooks through the Graph API:
// the app's subscription to the webhook object (callback URL, verify token,
// fields; app access token "<app id>|<app secret>") and the account's
// subscription to the app (subscribed_apps). WhatsApp, Messenger and
// Instagram register with it.
package metagraph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/store"
)

// Defaults of the Graph API.
const (
	DefaultBase    = "https://graph.facebook.com"
	DefaultVersion = "v21.0"
)

// Product is what differs between Meta products.
type Product struct {
	Name   string
	Object string   // webhook object
	Fields []string // webhook fields
	// Account says which account subscribes to the app: "waba" (WhatsApp:
	// the business account id in Params["waba_id"], Bearer token) or "page"
	// (Messenger, Instagram: Params["page_id"], else the installation's
	// external id; the page access token; subscribed_fields).
	Account string
}

// Provider is the registration side of a Meta product.
func Provider(p Product) registration.Provider {
	return registration.Provider{Needs: []string{store.PurposeSigning, store.PurposeVerifyToken, store.PurposeBotToken},
		Register: func(ctx context.Context, r registration.Request) (registration.Result, error) {
			return register(ctx, p, r)
		},
		Check: func(ctx context.Context, r registration.Request) (registration.Result, error) {
			return check(ctx, p, r)
		}}
}

func graphError(status int, body []byte) string {
	var e struct {
		Error struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			Subcode   int    `json:"error_subcode"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return fmt.Sprintf("HTTP %d", status)
	}
	out := fmt.Sprintf("%s (%s, code %d", e.Error.Message, e.Error.Type, e.Error.Code)
	if e.Error.Subcode != 0 {
		out += fmt.Sprintf(", subcode %d", e.Error.Subcode)
	}
	if e.Error.FBTraceID != "" {
		out += ", fbtrace_id " + e.Error.FBTraceID
	}
	return out + ")"
}

// post posts a form to path with a bearer token; it returns "" or Meta's refusal.
func post(ctx context.Context, r registration.Request, path, bearer string, form url.Values) (string, error) {
	api := httpsend.NewAPI(r.Base, DefaultBase, r.HTTP)
	ans, err := api.Post(ctx, "/"+DefaultVersion+path, http.Header{"Authorization": {"Bearer " + bearer},
		"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("graph POST %s: %s", path, r.Redact(err.Error()))
	}
	var ok struct {
		Success bool `json:"success"`
	}
	if ans.Status/100 != 2 || json.Unmarshal(ans.Body, &ok) != nil || !ok.Success {
		return r.Redact(graphError(ans.Status, ans.Body)), nil
	}
	return "", nil
}

func register(ctx context.Context, p Product, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: p.Name, Info: map[string]any{"object": p.Object, "fields": p.Fields, "callback_url": r.WebhookURL}}
	if r.ExternalAppID == "" {
		return res, &registration.MissingParamError{Param: "external_app_id", Why: "the profile's Meta app id names the app to subscribe (set it on the profile)"}
	}
	appSecret, err := r.Need(store.PurposeSigning, "the app access token is <app id>|<app secret>")
	if err != nil {
		return res, err
	}
	verify, err := r.Need(store.PurposeVerifyToken, "Meta's GET handshake checks the verify token")
	if err != nil {
		return res, err
	}
	token, err := r.Need(store.PurposeBotToken, "the account is subscribed to the app with its access token")
	if err != nil {
		return res, err
	}
	var account, accountPath string
	form := url.Values{}
	switch p.Account {
	case "waba":
		account = r.Params["waba_id"]
		if account == "" {
			return res, &registration.MissingParamError{Param: "waba_id", Why: "the WhatsApp business account to subscribe to the app (WhatsApp Manager → Business account id)"}
		}
	default:
		account = r.Params["page_id"]
		if account == "" {
			account = r.ExternalID
		}
		if account == "" {
			return res, &registration.MissingParamError{Param: "page_id", Why: "the Facebook Page to subscribe to the app"}
		}
		form.Set("subscribed_fields", strings.Join(p.Fields, ","))
	}
	if strings.ContainsAny(account, "/?#") || strings.ContainsAny(r.ExternalAppID, "/?#") {
		return res, &registration.MissingParamError{Param: "account id", Why: "must be a Graph API id (digits)"}
	}
	accountPath = "/" + account + "/subscribed_apps"
	res.Info["account"] = account

	sub := url.Values{"object": {p.Object}, "callback_url": {r.WebhookURL}, "verify_token": {verify}, "fields": {strings.Join(p.Fields, ",")}, "include_values": {"true"}}
	refusal, err := post(ctx, r, "/"+r.ExternalAppID+"/subscriptions", r.ExternalAppID+"|"+appSecret, sub)
	if err != nil {
		return res, err
	}
	if refusal != "" {
		res.Add("POST /"+r.ExternalAppID+"/subscriptions", false, refusal)
		res.Fix = "Meta refused the webhook subscription: " + refusal + " (Meta calls the GET handshake with the verify token: the edge must have it)"
		return res, nil
	}
	res.Add("POST /"+r.ExternalAppID+"/subscriptions", true, "app subscribed to "+p.Object+" ("+strings.Join(p.Fields, ", ")+") at "+r.WebhookURL)
	refusal, err = post(ctx, r, accountPath, token, form)
	if err != nil {
		return res, err
	}
	if refusal != "" {
		res.Add("POST "+accountPath, false, refusal)
		res.Fix = "Meta refused subscribed_apps: " + refusal
		return res, nil
	}
	res.Add("POST "+accountPath, true, "account "+account+" subscribed to the app")
	return res, nil
}

// check reads the app's webhook subscriptions (GET /{app-id}/subscriptions
// with the app access token) and compares the product's object with the
// installation's callback URL and fields.
func check(ctx context.Context, p Product, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: p.Name, Info: map[string]any{"object": p.Object}}
	if r.ExternalAppID == "" || strings.ContainsAny(r.ExternalAppID, "/?#") {
		return res, &registration.MissingParamError{Param: "external_app_id", Why: "the profile's Meta app id names the app whose subscriptions are read"}
	}
	appSecret, err := r.Need(store.PurposeSigning, "the app access token is <app id>|<app secret>")
	if err != nil {
		return res, err
	}
	api := httpsend.NewAPI(r.Base, DefaultBase, r.HTTP)
	path := "/" + DefaultVersion + "/" + r.ExternalAppID + "/subscriptions"
	ans, err := api.Do(ctx, http.MethodGet, path, http.Header{"Authorization": {"Bearer " + r.ExternalAppID + "|" + appSecret}}, nil)
	if err != nil {
		return res, fmt.Errorf("graph GET %s: %s", path, r.Redact(err.Error()))
	}
	name := "GET /" + r.ExternalAppID + "/subscriptions"
	if ans.Status/100 != 2 {
		refusal := r.Redact(graphError(ans.Status, ans.Body))
		res.Add(name, false, refusal)
		res.Fix = "Meta refused reading the app's subscriptions: " + refusal
		return res, nil
	}
	var subs struct {
		Data []struct {
			Object      string `json:"object"`
			CallbackURL string `json:"callback_url"`
			Active      bool   `json:"active"`
			Fields      []struct {
				Name string `json:"name"`
			} `json:"fields"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.Body, &subs); err != nil {
		return res, fmt.Errorf("graph GET %s: answer is not a subscriptions list", path)
	}
	for _, s := range subs.Data {
		if s.Object != p.Object {
			continue
		}
		have := map[string]bool{}
		var names []string
		for _, f := range s.Fields {
			name := r.Redact(f.Name)
			have[name] = true
			names = append(names, name)
		}
		res.Info["callback_url"], res.Info["active"], res.Info["fields"] = r.Redact(s.CallbackURL), s.Active, names
		var missing []string
		for _, f := range p.Fields {
			if !have[f] {
				missing = append(missing, f)
			}
		}
		switch {
		case s.CallbackURL != r.WebhookURL:
			res.Add(name, false, "Meta calls "+r.Redact(s.CallbackURL)+", not "+r.WebhookURL)
		case !s.Active:
			res.Add(name, false, "the "+p.Object+" subscription is not active")
		case len(missing) > 0:
			res.Add(name, false, "fields not subscribed: "+strings.Join(missing, ", "))
		default:
			res.Add(name, true, "subscribed to "+p.Object+" ("+strings.Join(names, ", ")+") at the installation's URL")
			return res, nil
		}
		res.Fix = "register again: POST /v1/installations/" + r.InstallationID + "/register"
		return res, nil
	}
	res.Add(name, false, "the app has no "+p.Object+" webhook subscription")
	res.Fix = "register: POST /v1/installations/" + r.InstallationID + "/register"
	return res, nil
}
