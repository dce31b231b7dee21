package slack_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider/setup"
	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
	"github.com/switchboard-dev/switchboard/provider/slack"
)

func TestSetupPackets(t *testing.T) {
	in := setuptest.Installation("slack", "bot_token")
	in.Secrets = append(in.Secrets, setup.Secret{Owner: setup.KindProfile, Purpose: "signing", Fingerprint: "hmac:aabbccddeeff0011", NotBefore: time.Date(2029, 10, 1, 0, 0, 0, 0, time.UTC)})
	p := setuptest.Golden(t, "installation", in)
	setuptest.Golden(t, "profile", setuptest.Profile("slack"))
	plat := setuptest.Installation("slack")
	plat.Platform = true
	setuptest.Golden(t, "platform_installation", plat)
	bare := setuptest.Installation("slack")
	bare.PublicURL, bare.APIURL = "", ""
	bp := setuptest.Golden(t, "no_public_url", bare)
	if len(bp.Warnings) == 0 || !strings.Contains(bp.WebhookURL, setup.PublicURLPlaceholder) {
		t.Errorf("no public URL: warnings %v, url %s", bp.Warnings, bp.WebhookURL)
	}

	// The prefilled link carries the manifest: request URLs, redirect, scopes, events.
	link, err := url.Parse(p.Data["create_app_url"].(string))
	if err != nil || link.Host != "api.slack.com" || link.Query().Get("new_app") != "1" {
		t.Fatalf("create app link %v: %v", link, err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct{ URL string } `json:"slash_commands"`
		}
		OAuth struct {
			RedirectURLs []string `json:"redirect_urls"`
			Scopes       struct{ Bot []string }
		} `json:"oauth_config"`
		Settings struct {
			Events struct {
				RequestURL string   `json:"request_url"`
				BotEvents  []string `json:"bot_events"`
			} `json:"event_subscriptions"`
			Interactivity struct {
				IsEnabled  bool   `json:"is_enabled"`
				RequestURL string `json:"request_url"`
			}
		}
	}
	if err := json.Unmarshal([]byte(link.Query().Get("manifest_json")), &m); err != nil {
		t.Fatal(err)
	}
	hook := "https://hooks.example.com/v1/hooks/slack/0123456789abcdef0123456789abcdef"
	if m.Settings.Events.RequestURL != hook || m.Settings.Interactivity.RequestURL != hook || !m.Settings.Interactivity.IsEnabled ||
		len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].URL != hook {
		t.Errorf("manifest URLs: %+v", m)
	}
	if len(m.OAuth.RedirectURLs) != 1 || m.OAuth.RedirectURLs[0] != "https://api.example.com/v1/oauth/slack/callback" {
		t.Errorf("redirect URLs %v", m.OAuth.RedirectURLs)
	}
	for _, ev := range []string{"app_uninstalled", "tokens_revoked", "app_mention"} {
		if !slices.Contains(m.Settings.Events.BotEvents, ev) {
			t.Errorf("bot events lack %s: %v", ev, m.Settings.Events.BotEvents)
		}
	}
	if !slices.Equal(m.OAuth.Scopes.Bot, slack.BotScopes) {
		t.Errorf("bot scopes %v", m.OAuth.Scopes.Bot)
	}
	// Rotation: the profile's signing secret since 2029-10-01 is due 90 days later.
	var due string
	for _, r := range p.Rotation {
		if r.Purpose == "signing" {
			due = r.RotateBy
		}
	}
	if due != "2029-12-30" {
		t.Errorf("signing secret rotate_by %q, want 2029-12-30", due)
	}
}
