package telegram_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/provider/telegram"
	"github.com/switchboard-dev/switchboard/provider/telegram/telegramtest"
)

const (
	botToken    = "123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	secretToken = "tg_Secret-Token_0123456789"
	hook        = "https://hooks.example.com/v1/hooks/telegram/0123456789abcdef0123456789abcdef"
)

func TestRegister(t *testing.T) {
	api := telegramtest.New(botToken)
	defer api.Close()
	api.PendingUpdateCount = 3
	req := registration.Request{InstallationID: "inst_1", WebhookURL: hook, Base: api.URL,
		Secrets: map[string]string{"bot_token": botToken, "secret_token": secretToken}}
	res, err := telegram.Register(context.Background(), req)
	if err != nil || !res.OK {
		t.Fatalf("register: %+v, %v", res, err)
	}
	url, secret, allowed := api.Webhook()
	if url != hook || secret != secretToken || !slices.Equal(allowed, telegram.AllowedUpdates) {
		t.Errorf("Telegram has url %s secret %s allowed %v", url, secret, allowed)
	}
	if res.Info["pending_update_count"] != 3 || res.Info["url"] != hook {
		t.Errorf("info %v", res.Info)
	}
	if !slices.Equal(api.Calls, []string{"setWebhook", "getWebhookInfo"}) {
		t.Errorf("calls %v", api.Calls)
	}

	// Check: matches; then someone else points the bot elsewhere.
	api.LastErrorMessage, api.LastErrorDate = "Wrong response from the webhook: 503 Service Unavailable", 1700000000
	res, err = telegram.Check(context.Background(), req)
	if err != nil || !res.OK || res.Info["last_error_message"] != api.LastErrorMessage {
		t.Fatalf("check: %+v, %v", res, err)
	}
	api.SetWebhook("https://elsewhere.example/hook", nil)
	if res, _ = telegram.Check(context.Background(), req); res.OK || !strings.Contains(res.Steps[0].Detail, "elsewhere.example") || res.Fix == "" {
		t.Errorf("check of a moved webhook: %+v", res)
	}

	// Telegram's refusal is reported in full, without the token.
	bad := req
	bad.WebhookURL = "http://hooks.example.com/x"
	res, err = telegram.Register(context.Background(), bad)
	if err != nil || res.OK || res.Steps[0].Detail != "400 Bad Request: bad webhook: An HTTPS URL must be provided for webhook" {
		t.Errorf("refused setWebhook: %+v, %v", res, err)
	}
	wrong := req
	wrong.Secrets = map[string]string{"bot_token": "999:wrongtoken", "secret_token": secretToken}
	res, err = telegram.Register(context.Background(), wrong)
	if err != nil || res.OK || res.Steps[0].Detail != "401 Unauthorized" {
		t.Errorf("wrong token: %+v, %v", res, err)
	}
	// Missing secrets are named.
	var miss *registration.MissingSecretError
	if _, err := telegram.Register(context.Background(), registration.Request{WebhookURL: hook, Base: api.URL, Secrets: map[string]string{"bot_token": botToken}}); !errors.As(err, &miss) || miss.Purpose != "secret_token" {
		t.Errorf("missing secret token: %v", err)
	}
	// A dead API: the error names no token.
	api.Close()
	_, err = telegram.Register(context.Background(), req)
	if err == nil || strings.Contains(err.Error(), botToken) || strings.Contains(err.Error(), "AAHdq") {
		t.Errorf("transport error %v", err)
	}
}
