package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/providertest"
	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/provider/slack"
)

const (
	fuzzBotToken     = "xoxb-1111-2222-fakebottoken"
	fuzzClientSecret = "0123456789abcdef0123456789abcdef"
	fuzzCode         = "code-abc-0123456789"
)

// FuzzAuthTestAnswer: auth.test's answer (outside input: body and the
// x-oauth-scopes header) is parsed without panicking; a success names a
// team and lists granted and missing scopes; the bot token never appears
// in the error or the report, even when the answer echoes it.
func FuzzAuthTestAnswer(f *testing.F) {
	all := strings.Join(slack.BotScopes, ",")
	f.Add(200, all, []byte(`{"ok":true,"url":"https://acme.slack.com/","team":"Acme","user":"switchboard","team_id":"T0TEAM","user_id":"U0BOT","bot_id":"B0BOT","is_enterprise_install":false}`))
	f.Add(200, "chat:write", []byte(`{"ok":true,"url":"https://acme.slack.com/","team":"Acme","user":"switchboard","team_id":"T0TEAM","user_id":"U0BOT","bot_id":"B0BOT"}`))
	f.Add(200, "", []byte(`{"ok":false,"error":"invalid_auth"}`))
	f.Add(200, "", []byte(`{"ok":false,"error":"not_authed"}`))
	f.Add(200, fuzzBotToken, []byte(`{"ok":true,"team":"`+fuzzBotToken+`","team_id":"T0`+fuzzBotToken+`","user":"u"}`))
	f.Add(200, "", []byte(`{"ok":false,"error":"bad `+fuzzBotToken+`"}`))
	f.Add(200, "", []byte(`{"ok":true}`))
	f.Add(500, "", []byte(`upstream`))
	api := providertest.NewAnswers(f)
	f.Fuzz(func(t *testing.T, status int, scopes string, body []byte) {
		api.Set(status, http.Header{"X-Oauth-Scopes": {strings.Map(headerSafe, scopes)}}, body)
		req := registration.Request{InstallationID: "inst_1", ExternalID: "T0TEAM", Base: api.URL, Secrets: map[string]string{"bot_token": fuzzBotToken}}
		res, err := slack.AuthTest(context.Background(), req)
		providertest.NoSecret(t, []string{fuzzBotToken}, err, res.Steps, res.Fix, res.Info)
		if err != nil {
			return
		}
		if len(res.Steps) == 0 || (!res.OK && res.Fix == "") {
			t.Fatalf("a result has steps, a failure a fix: %+v", res)
		}
		if res.OK && (res.Info["team_id"] != "T0TEAM" || len(res.Info["missing_scopes"].([]string)) != 0) {
			t.Fatalf("a success is the installation's team with every scope: %+v", res)
		}
	})
}

// FuzzOAuthAccessAnswer: oauth.v2.access's answer is parsed without
// panicking; a success is a bot token of a team with clean scopes; neither
// the client secret nor the code appears in an error.
func FuzzOAuthAccessAnswer(f *testing.F) {
	f.Add(200, []byte(`{"ok":true,"access_token":"xoxb-1111-2222-fakebottoken","token_type":"bot","scope":"commands,chat:write","bot_user_id":"U0BOT","app_id":"A0APP","team":{"name":"Acme","id":"T0TEAM"},"enterprise":null,"authed_user":{"id":"U0INSTALLER"},"is_enterprise_install":false}`))
	f.Add(200, []byte(`{"ok":false,"error":"invalid_code"}`))
	f.Add(200, []byte(`{"ok":false,"error":"bad_client_secret"}`))
	f.Add(200, []byte(`{"ok":false,"error":"bad_redirect_uri"}`))
	f.Add(200, []byte(`{"ok":false,"error":"invalid_client_id"}`))
	f.Add(200, []byte(`{"ok":false,"error":"secret `+fuzzClientSecret+` code `+fuzzCode+`"}`))
	f.Add(200, []byte(`{"ok":true,"access_token":"xoxp-user","token_type":"`+fuzzClientSecret+`","team":{"id":"T"}}`))
	f.Add(200, []byte(`{"ok":true,"access_token":"xoxb-x","token_type":"bot","scope":" , ,","team":{"id":"T"}}`))
	f.Add(400, []byte(`not json`))
	api := providertest.NewAnswers(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		api.Set(status, nil, body)
		got, err := slack.Exchange(context.Background(), api.URL, nil, "1111.2222", fuzzClientSecret, fuzzCode, "https://sb.example/oauth/slack/callback")
		if err != nil {
			providertest.NoSecret(t, []string{fuzzClientSecret, fuzzCode}, err)
			return
		}
		if !strings.HasPrefix(got.BotToken, "xoxb-") || got.TeamID == "" {
			t.Fatalf("a success is a bot token of a team: %+v", got)
		}
		for _, s := range got.Scopes {
			if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, ",") {
				t.Fatalf("scope %q is not clean", s)
			}
		}
	})
}

// headerSafe keeps a fuzzed header value sendable.
func headerSafe(r rune) rune {
	if r < 0x20 || r == 0x7f || r > 0x7e {
		return -1
	}
	return r
}
