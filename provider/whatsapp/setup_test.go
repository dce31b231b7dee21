package whatsapp_test

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "whatsapp_installation", setuptest.Installation("whatsapp", "bot_token", "signing", "verify_token"))
	setuptest.Golden(t, "whatsapp_profile", setuptest.Profile("whatsapp"))
	if p.Data["callback_url"] != "https://hooks.example.com/v1/hooks/whatsapp/0123456789abcdef0123456789abcdef" || p.Data["verify_token"] != "<META_VERIFY_TOKEN>" ||
		p.Data["object"] != "whatsapp_business_account" || !slices.Contains(p.Data["fields"].([]string), "messages") {
		t.Errorf("webhook data %v", p.Data)
	}
	for _, s := range []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management"} {
		if !slices.Contains(p.Data["scopes"].([]string), s) {
			t.Errorf("whatsapp scopes lack %s", s)
		}
	}
}
