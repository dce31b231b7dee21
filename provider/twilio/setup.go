package twilio

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

func init() { setup.Register(Name, Setup) }

// Setup is Twilio's setup packet: the number's "A message comes in" webhook
// and the account's auth token (the edge checks X-Twilio-Signature with it).
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	sp := setup.Spec{
		Title:  "Connect Twilio Messaging",
		Scopes: []string{"(none: Twilio signs with the account's auth token; replies use an API key or the auth token)"},
		URLs:   []string{"Messaging Configuration → A message comes in → Webhook " + hook + " (HTTP POST)"},
		Data:   map[string]any{"incoming_message_webhook": hook, "http_method": "POST"},
		Rotate: map[string]string{
			"signing":   "Console → Account → API keys & tokens → Auth tokens → request a secondary token, store it with previous_valid_until, promote it to primary (Twilio signs with the primary at once), then delete the old one",
			"bot_token": "create a new API key, store it, then delete the old key",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Point the number's incoming messages at the edge", Link: "https://console.twilio.com/us1/develop/phone-numbers/manage/incoming",
			Text:   "Phone Numbers → Manage → Active numbers → the number → Messaging Configuration. (For a Messaging Service: Integration → Send a webhook.) The edge verifies X-Twilio-Signature over exactly this URL, so enter it character for character.",
			Fields: []setup.Field{{Name: "A message comes in", Value: "Webhook"}, {Name: "URL", Value: hook}, {Name: "HTTP", Value: "HTTP POST"}}},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "signing", Label: "Auth Token " + setup.Placeholder("TWILIO_AUTH_TOKEN"), Where: "Console → Account Info → Auth Token", Route: in.SecretRoute("signing")},
		{Purpose: "external_id", Label: "Phone number (E.164) or Messaging Service SID", Where: "Phone Numbers → Active numbers", Route: "POST /v1/installations {\"external_id\":…} (at creation)"},
	}
	if in.Kind == setup.KindInstallation {
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "bot_token", Label: "Credentials for replies " + setup.Placeholder("TWILIO_API_CREDENTIALS"), Where: "Console → API keys & tokens", Route: in.SecretRoute("bot_token")})
	}
	return sp
}
