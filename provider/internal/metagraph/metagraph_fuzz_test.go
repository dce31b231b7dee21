package metagraph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/internal/metagraph"
	"github.com/switchboard-dev/switchboard/provider/providertest"
	"github.com/switchboard-dev/switchboard/provider/registration"
)

const (
	appID       = "1234567890"
	appSecret   = "meta-app-secret-0123456789abcdef"
	verifyToken = "meta-verify-token-0123456789"
	accessToken = "EAAGmeta-access-token-0123456789"
	hook        = "https://hooks.example.com/v1/hooks/whatsapp/0123456789abcdef"
)

var product = metagraph.Product{Name: "whatsapp", Object: "whatsapp_business_account", Fields: []string{"messages"}, Account: "waba"}

// FuzzGraphAnswer: the Graph API's answers (outside input: a graph error,
// {"success":true}, the app's subscriptions list) are parsed by register
// and check without panicking; a successful check names the installation's
// URL; no secret of the request (app secret, verify token, access token)
// appears in an error or the report, even when the answer echoes it.
func FuzzGraphAnswer(f *testing.F) {
	// The documented answers the fake (metagraphtest) gives.
	f.Add(200, []byte(`{"success":true}`))
	f.Add(200, []byte(`{"data":[{"object":"whatsapp_business_account","callback_url":"`+hook+`","active":true,"fields":[{"name":"messages","version":"v21.0"}]}]}`))
	f.Add(200, []byte(`{"data":[{"object":"page","callback_url":"`+hook+`","active":true,"fields":[{"name":"messages"}]}]}`))
	f.Add(200, []byte(`{"data":[]}`))
	f.Add(400, []byte(`{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"AbCdEf"}}`))
	f.Add(400, []byte(`{"error":{"message":"(#2200) callback verification failed with the following errors: HTTP Status Code = 403","type":"OAuthException","code":2200,"error_subcode":1,"fbtrace_id":"AbCdEf"}}`))
	// Answers that echo the request's secrets.
	f.Add(400, []byte(`{"error":{"message":"token `+appID+`|`+appSecret+` verify `+verifyToken+` `+accessToken+`","type":"OAuthException","code":190,"fbtrace_id":"`+accessToken+`"}}`))
	f.Add(200, []byte(`{"data":[{"object":"whatsapp_business_account","callback_url":"`+hook+`","active":true,"fields":[{"name":"messages"},{"name":"`+appSecret+`"}]}]}`))
	f.Add(200, []byte(`{"data":[{"object":"whatsapp_business_account","callback_url":"https://x/`+verifyToken+`","active":false}]}`))
	f.Add(500, []byte(`<html>`))
	api := providertest.NewAnswers(f)
	p := metagraph.Provider(product)
	secrets := []string{appSecret, verifyToken, accessToken}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		api.Set(status, nil, body)
		req := registration.Request{InstallationID: "inst_1", WebhookURL: hook, ExternalAppID: appID, Base: api.URL,
			Params:  map[string]string{"waba_id": "102290129340398"},
			Secrets: map[string]string{"signing": appSecret, "verify_token": verifyToken, "bot_token": accessToken}}
		for _, call := range []func(context.Context, registration.Request) (registration.Result, error){p.Register, p.Check} {
			res, err := call(context.Background(), req)
			providertest.NoSecret(t, secrets, err, res.Steps, res.Fix, res.Info)
			if err != nil {
				continue
			}
			if len(res.Steps) == 0 || (!res.OK && res.Fix == "") {
				t.Fatalf("a result has steps, a failure a fix: %+v", res)
			}
			for _, s := range res.Steps {
				if !s.OK && strings.TrimSpace(s.Detail) == "" {
					t.Fatalf("a refused step says why: %+v", res)
				}
			}
		}
		if res, err := p.Check(context.Background(), req); err == nil && res.OK && res.Info["callback_url"] != hook {
			t.Fatalf("a successful check names the installation's URL: %+v", res)
		}
	})
}
