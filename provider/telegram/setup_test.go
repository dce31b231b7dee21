package telegram_test

import (
	"slices"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider/setup"
	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
	"github.com/switchboard-dev/switchboard/provider/telegram"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("telegram", "bot_token", "secret_token"))
	setuptest.Golden(t, "profile", setuptest.Profile("telegram"))
	// The agency handoff record, filled, closes the packet.
	in := setuptest.Installation("telegram", "bot_token", "secret_token")
	at := time.Date(2030, 1, 2, 2, 0, 0, 0, time.UTC)
	in.Handoff = &setup.Handoff{OwnerAccount: "@acme_ops", URLsConfigured: []string{in.WebhookURL()}, ScopesApproved: []string{"privacy mode on"},
		CanaryValidatedAt: &at, CanaryChannel: "-1001234567890", RotationOwner: "Acme IT", NextRotation: "2030-03-01", UpdatedAt: &at, UpdatedBy: "tok_agency"}
	hp := setuptest.Golden(t, "installation_handoff", in)
	if hp.Handoff == nil || hp.Handoff.RotationOwner != "Acme IT" {
		t.Errorf("handoff not in the packet: %+v", hp.Handoff)
	}
	sw := p.Data["set_webhook"].(map[string]any)
	if sw["url"] != "https://hooks.example.com/v1/hooks/telegram/0123456789abcdef0123456789abcdef" || sw["secret_token"] != "<TELEGRAM_SECRET_TOKEN>" ||
		!slices.Equal(sw["allowed_updates"].([]string), telegram.AllowedUpdates) {
		t.Errorf("setWebhook parameters %v", sw)
	}
}
