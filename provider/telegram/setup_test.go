package telegram_test

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
	"github.com/switchboard-dev/switchboard/provider/telegram"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("telegram", "bot_token", "secret_token"))
	setuptest.Golden(t, "profile", setuptest.Profile("telegram"))
	sw := p.Data["set_webhook"].(map[string]any)
	if sw["url"] != "https://hooks.example.com/v1/hooks/telegram/0123456789abcdef0123456789abcdef" || sw["secret_token"] != "<TELEGRAM_SECRET_TOKEN>" ||
		!slices.Equal(sw["allowed_updates"].([]string), telegram.AllowedUpdates) {
		t.Errorf("setWebhook parameters %v", sw)
	}
}
