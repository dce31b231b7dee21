package standardwebhooks

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

func init() { setup.Register(Name, Setup) }

// Setup is the packet for any sender that signs with Standard Webhooks
// (webhook-id, webhook-timestamp, webhook-signature with a whsec_ secret).
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	secret := setup.Placeholder("WHSEC_SECRET")
	sp := setup.Spec{
		Title:  "Connect a Standard Webhooks sender",
		Scopes: []string{"(none: the sender signs every delivery with the endpoint's whsec_ secret)"},
		URLs:   []string{"Endpoint URL " + hook},
		Data: map[string]any{"endpoint_url": hook, "secret": secret,
			"settings": map[string]string{SettingConversation: "<JSON pointer, e.g. /data/conversation_id> (required)", SettingThread: "(optional)", SettingSender: "(optional)", SettingText: "(optional)", SettingReplyURL: "(optional)"}},
		Rotate: map[string]string{
			"signing": "create a new whsec_ secret at the sender (most senders keep the old one valid for a while), store it with previous_valid_until, then retire the old one",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Add the endpoint at the sender", Text: "In the sending service's webhook settings, add an endpoint with this URL. The sender shows (or lets you set) the endpoint's signing secret, \"whsec_\" followed by base64.",
			Fields: []setup.Field{{Name: "Endpoint URL", Value: hook}, {Name: "Signing secret", Value: secret}}},
		{Title: "Say where the conversation is in the payload", Text: "The installation's settings are JSON pointers into the payload: " + SettingConversation + " (required), " + SettingThread + ", " + SettingSender + ", " + SettingText + ", and " + SettingReplyURL + " for replies."},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "signing", Label: "Signing secret " + secret + " (whsec_…)", Where: "the sender's endpoint settings", Route: in.SecretRoute("signing")},
	}
	return sp
}
