package telegram_test

import (
	"context"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/providertest"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/provider/telegram"
)

// FuzzBotAnswer: the Bot API's answer envelope and getWebhookInfo's result
// (outside input) are parsed by Check without panicking; a success names
// the installation's URL; no secret of the request (bot token, secret
// token) appears in the error, the steps, the fix or the info, even when
// the answer echoes it.
func FuzzBotAnswer(f *testing.F) {
	// The documented answers the fake (telegramtest) gives.
	f.Add(200, []byte(`{"ok":true,"result":{"url":"`+hook+`","has_custom_certificate":false,"pending_update_count":3,"max_connections":40,"allowed_updates":["message","edited_message","callback_query"]}}`))
	f.Add(200, []byte(`{"ok":true,"result":{"url":"`+hook+`","has_custom_certificate":false,"pending_update_count":0,"last_error_date":1700000000,"last_error_message":"Wrong response from the webhook: 502 Bad Gateway","max_connections":40}}`))
	f.Add(200, []byte(`{"ok":true,"result":{"url":"","has_custom_certificate":false,"pending_update_count":0}}`))
	f.Add(200, []byte(`{"ok":true,"result":true,"description":"Webhook was set"}`))
	f.Add(401, []byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`))
	f.Add(404, []byte(`{"ok":false,"error_code":404,"description":"Not Found: method not found"}`))
	f.Add(400, []byte(`{"ok":false,"error_code":400,"description":"Bad Request: bad webhook: An HTTPS URL must be provided for webhook"}`))
	// Answers that echo the request's secrets.
	f.Add(400, []byte(`{"ok":false,"error_code":400,"description":"bad token `+botToken+` / `+secretToken+`"}`))
	f.Add(200, []byte(`{"ok":true,"result":{"url":"https://x.example/`+botToken+`","last_error_message":"`+secretToken+`"}}`))
	f.Add(200, []byte(`{"ok":true,"result":[1,2]}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	api := providertest.NewAnswers(f)
	secrets := []string{botToken, secretToken}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		api.Set(status, nil, body)
		req := registration.Request{InstallationID: "inst_1", WebhookURL: hook, Base: api.URL,
			Secrets: map[string]string{"bot_token": botToken, "secret_token": secretToken}}
		res, err := telegram.Check(context.Background(), req)
		providertest.NoSecret(t, secrets, err, res.Steps, res.Fix, res.Info)
		if err != nil {
			return
		}
		if res.Provider != telegram.Name || len(res.Steps) == 0 {
			t.Fatalf("result without provider or steps: %+v", res)
		}
		if res.OK && (res.Info["url"] != hook || res.Fix != "") {
			t.Fatalf("a success must name the installation's URL and no fix: %+v", res)
		}
		if !res.OK && res.Fix == "" {
			t.Fatalf("a failure must say what to do: %+v", res)
		}
	})
}
