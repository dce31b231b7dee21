package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider/httpsend"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/store"
)

func init() {
	registration.Add(Name, registration.Provider{Needs: []string{store.PurposeBotToken, store.PurposeSecretToken}, Register: Register, Check: Check})
}

// botAnswer is the Bot API's answer envelope.
type botAnswer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
}

// WebhookInfo is getWebhookInfo's result (the fields the report uses).
type WebhookInfo struct {
	URL                  string   `json:"url"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date"`
	LastErrorMessage     string   `json:"last_error_message"`
	MaxConnections       int      `json:"max_connections"`
	AllowedUpdates       []string `json:"allowed_updates"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
}

// call posts a Bot API method with a JSON body and returns its result, or
// ok false and Telegram's "<error_code> <description>". No error carries
// the URL (it holds the token) or a secret.
func call(ctx context.Context, r registration.Request, token, method string, body any) (result json.RawMessage, ok bool, desc string, err error) {
	if token == "" || strings.ContainsAny(token, "/?#% ") {
		return nil, false, "", fmt.Errorf("telegram %s: bot token is malformed", method)
	}
	api := httpsend.NewAPI(r.Base, DefaultAPIBase, r.HTTP)
	js, err := json.Marshal(body)
	if err != nil {
		return nil, false, "", err
	}
	ans, err := api.Post(ctx, "/bot"+token+"/"+method, http.Header{"Content-Type": {"application/json"}}, js)
	if err != nil {
		return nil, false, "", fmt.Errorf("telegram %s: %s", method, r.Redact(err.Error()))
	}
	var a botAnswer
	if err := json.Unmarshal(ans.Body, &a); err != nil {
		return nil, false, "", fmt.Errorf("telegram %s: answer %d is not the Bot API's JSON", method, ans.Status)
	}
	if !a.OK {
		return nil, false, r.Redact(fmt.Sprintf("%d %s", a.ErrorCode, a.Description)), nil
	}
	return a.Result, true, r.Redact(a.Description), nil
}

// Register calls setWebhook (url, secret_token, allowed_updates) with the
// bot token, then getWebhookInfo to confirm the URL and report
// pending_update_count and last_error_message.
func Register(ctx context.Context, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: Name, Info: map[string]any{}}
	token, err := r.Need(store.PurposeBotToken, "setWebhook is called with the bot token")
	if err != nil {
		return res, err
	}
	secret, err := r.Need(store.PurposeSecretToken, "setWebhook gets the secret token the edge checks")
	if err != nil {
		return res, err
	}
	_, ok, desc, err := call(ctx, r, token, "setWebhook", map[string]any{"url": r.WebhookURL, "secret_token": secret, "allowed_updates": AllowedUpdates})
	if err != nil {
		return res, err
	}
	if !ok {
		res.Add("setWebhook", false, desc)
		res.Fix = "Telegram refused setWebhook: " + desc
		return res, nil
	}
	res.Add("setWebhook", true, desc)
	return checkInto(ctx, r, token, res)
}

// Check reads getWebhookInfo and says whether Telegram calls this
// installation's URL with the allowed updates, and its last delivery error.
func Check(ctx context.Context, r registration.Request) (registration.Result, error) {
	res := registration.Result{Provider: Name, Info: map[string]any{}}
	token, err := r.Need(store.PurposeBotToken, "getWebhookInfo is called with the bot token")
	if err != nil {
		return res, err
	}
	return checkInto(ctx, r, token, res)
}

func checkInto(ctx context.Context, r registration.Request, token string, res registration.Result) (registration.Result, error) {
	raw, ok, desc, err := call(ctx, r, token, "getWebhookInfo", map[string]any{})
	if err != nil {
		return res, err
	}
	if !ok {
		res.Add("getWebhookInfo", false, desc)
		res.Fix = "Telegram refused getWebhookInfo: " + desc
		return res, nil
	}
	var info WebhookInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return res, fmt.Errorf("telegram getWebhookInfo: result is not a WebhookInfo")
	}
	res.Info["url"] = r.Redact(info.URL)
	res.Info["pending_update_count"] = info.PendingUpdateCount
	res.Info["last_error_message"] = r.Redact(info.LastErrorMessage)
	if info.LastErrorDate != 0 {
		res.Info["last_error_date"] = time.Unix(info.LastErrorDate, 0).UTC().Format(time.RFC3339)
	}
	res.Info["allowed_updates"] = info.AllowedUpdates
	switch {
	case info.URL != r.WebhookURL:
		got := info.URL
		if got == "" {
			got = "(none)"
		}
		res.Add("getWebhookInfo", false, fmt.Sprintf("Telegram calls %s, not %s", r.Redact(got), r.WebhookURL))
		res.Fix = "register again: POST /v1/installations/" + r.InstallationID + "/register"
	case len(info.AllowedUpdates) > 0 && !sameSet(info.AllowedUpdates, AllowedUpdates):
		res.Add("getWebhookInfo", false, fmt.Sprintf("allowed_updates %v, want %v", info.AllowedUpdates, AllowedUpdates))
		res.Fix = "register again: POST /v1/installations/" + r.InstallationID + "/register"
	default:
		detail := fmt.Sprintf("url matches; %d pending updates", info.PendingUpdateCount)
		if info.LastErrorMessage != "" {
			detail += "; last error: " + r.Redact(info.LastErrorMessage)
		}
		res.Add("getWebhookInfo", true, detail)
	}
	return res, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
