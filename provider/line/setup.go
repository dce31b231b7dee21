package line

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

func init() { setup.Register(Name, Setup) }

// Setup is LINE's setup packet: the Messaging API channel's webhook URL and
// channel secret (the edge checks X-Line-Signature with it).
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	sp := setup.Spec{
		Title:  "Connect a LINE Messaging API channel",
		Scopes: []string{"(none: the channel access token carries the Messaging API permissions)"},
		URLs:   []string{"Messaging API → Webhook URL " + hook},
		Data:   map[string]any{"webhook_url": hook, "use_webhook": true},
		Rotate: map[string]string{
			"signing":   "Basic settings → Channel secret → Issue: LINE signs with the new secret at once, so store it with previous_valid_until right before issuing",
			"bot_token": "Messaging API → Channel access token (long-lived) → Reissue, store the new one at once",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Create the Messaging API channel", Link: "https://developers.line.biz/console/",
			Text: "LINE Developers Console → Provider → Create a Messaging API channel. Basic settings shows the Channel secret."},
		{Title: "Set the webhook", Text: "Messaging API → Webhook settings: enter the URL, turn on Use webhook, then Verify (LINE sends an empty events list, which the edge accepts once the channel secret is stored). Turn off the auto-reply messages in the LINE Official Account Manager so only the agent answers.",
			Fields: []setup.Field{{Name: "Webhook URL", Value: hook}, {Name: "Use webhook", Value: "on"}}},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "signing", Label: "Channel secret " + setup.Placeholder("LINE_CHANNEL_SECRET"), Where: "Basic settings → Channel secret", Route: in.SecretRoute("signing")},
	}
	if in.Kind == setup.KindInstallation {
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "bot_token", Label: "Channel access token " + setup.Placeholder("LINE_CHANNEL_ACCESS_TOKEN"), Where: "Messaging API → Channel access token (long-lived) → Issue", Route: in.SecretRoute("bot_token")})
	}
	return sp
}
