package messenger_test

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("messenger", "bot_token", "signing", "verify_token"))
	setuptest.Golden(t, "profile", setuptest.Profile("messenger"))
	if p.Data["callback_url"] != "https://hooks.example.com/v1/hooks/messenger/0123456789abcdef0123456789abcdef" || p.Data["verify_token"] != "<META_VERIFY_TOKEN>" ||
		!slices.Contains(p.Data["fields"].([]string), "messages") {
		t.Errorf("webhook data %v", p.Data)
	}
}
