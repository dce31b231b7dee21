package discord_test

import (
	"net/url"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("discord", "bot_token", "public_key"))
	setuptest.Golden(t, "profile", setuptest.Profile("discord"))
	u, err := url.Parse(p.Data["invite_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "discord.com" || q.Get("client_id") != "A0APP" || q.Get("scope") != "bot applications.commands" || q.Get("permissions") != "274878008320" {
		t.Errorf("invite URL %s", u)
	}
	if p.Data["interactions_endpoint_url"] != "https://hooks.example.com/v1/hooks/discord/0123456789abcdef0123456789abcdef" {
		t.Errorf("interactions endpoint %v", p.Data["interactions_endpoint_url"])
	}
}
