package instagram_test

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("instagram", "bot_token", "signing", "verify_token"))
	setuptest.Golden(t, "profile", setuptest.Profile("instagram"))
	if p.Data["callback_url"] != "https://hooks.example.com/v1/hooks/instagram/0123456789abcdef0123456789abcdef" || p.Data["verify_token"] != "<META_VERIFY_TOKEN>" ||
		!slices.Contains(p.Data["fields"].([]string), "messages") {
		t.Errorf("webhook data %v", p.Data)
	}
}
