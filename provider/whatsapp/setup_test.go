package whatsapp_test

import (
	"slices"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	for _, prov := range []string{"whatsapp", "messenger", "instagram"} {
		p := setuptest.Golden(t, prov+"_installation", setuptest.Installation(prov, "bot_token", "signing", "verify_token"))
		setuptest.Golden(t, prov+"_profile", setuptest.Profile(prov))
		if p.Data["callback_url"] != "https://hooks.example.com/v1/hooks/"+prov+"/0123456789abcdef0123456789abcdef" || p.Data["verify_token"] != "<META_VERIFY_TOKEN>" {
			t.Errorf("%s: callback %v", prov, p.Data)
		}
		if !slices.Contains(p.Data["fields"].([]string), "messages") {
			t.Errorf("%s: fields %v", prov, p.Data["fields"])
		}
	}
	p := setuptest.Golden(t, "whatsapp_installation", setuptest.Installation("whatsapp", "bot_token", "signing", "verify_token"))
	for _, s := range []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management"} {
		if !slices.Contains(p.Data["scopes"].([]string), s) {
			t.Errorf("whatsapp scopes lack %s", s)
		}
	}
}
