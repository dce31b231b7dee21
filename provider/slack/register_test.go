package slack_test

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/provider/slack/slacktest"
)

func TestAuthTest(t *testing.T) {
	api := slacktest.New()
	defer api.Close()
	req := registration.Request{InstallationID: "inst_1", ExternalID: api.TeamID, Base: api.URL, Secrets: map[string]string{"bot_token": api.BotToken}}
	res, err := slack.AuthTest(context.Background(), req)
	if err != nil || !res.OK || res.Info["team_id"] != "T0TEAM" || res.Info["bot_user"] != "switchboard" || len(res.Info["missing_scopes"].([]string)) != 0 {
		t.Fatalf("auth.test: %+v, %v", res, err)
	}
	api.Scopes = []string{"chat:write"}
	res, _ = slack.AuthTest(context.Background(), req)
	if res.OK || !strings.Contains(res.Fix, "missing scopes") && !strings.Contains(res.Steps[len(res.Steps)-1].Detail, "commands") {
		t.Errorf("missing scopes not flagged: %+v", res)
	}
	other := req
	other.ExternalID = "T0OTHER"
	if res, _ = slack.AuthTest(context.Background(), other); res.OK {
		t.Errorf("token of another team passed: %+v", res)
	}
	bad := req
	bad.Secrets = map[string]string{"bot_token": "xoxb-wrong"}
	res, err = slack.AuthTest(context.Background(), bad)
	if err != nil || res.OK || res.Steps[0].Detail != "invalid_auth" {
		t.Errorf("wrong token: %+v, %v", res, err)
	}
}
