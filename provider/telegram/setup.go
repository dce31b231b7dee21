package telegram

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// AllowedUpdates are the update types setWebhook subscribes to: the ones
// the parser turns into events (messages, channel posts, button presses).
var AllowedUpdates = []string{"message", "channel_post", "callback_query"}

func init() { setup.Register(Name, Setup) }

// Setup is Telegram's setup packet: BotFather, then setWebhook with the
// installation's URL, secret token and allowed updates.
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	secret := setup.Placeholder("TELEGRAM_SECRET_TOKEN")
	params := map[string]any{"url": hook, "secret_token": secret, "allowed_updates": AllowedUpdates}
	sp := setup.Spec{
		Title:  "Connect a Telegram bot",
		Scopes: []string{"(none: a Telegram bot token carries every bot permission; set privacy mode with BotFather /setprivacy)"},
		URLs:   []string{"setWebhook url " + hook},
		Data:   map[string]any{"set_webhook": params},
		Rotate: map[string]string{
			"secret_token": "choose a new secret token (1-256 of A-Z a-z 0-9 _ -), store it with the rotate route, then call setWebhook again with it (POST …/register does); Telegram sends the new one at once",
			"bot_token":    "BotFather → /revoke gives a new token and ends the old one at once: store the new one immediately after",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Create the bot with BotFather", Link: "https://t.me/BotFather",
			Text: "Send /newbot, pick a name and a username; BotFather answers with the bot token. The bot id is the digits before the colon: use it as the installation's external_id. For groups, /setprivacy decides whether the bot sees every message or only commands and mentions."},
		{Title: "Choose a secret token", Text: "Any 1-256 characters of A-Z, a-z, 0-9, _ and -. Telegram sends it in the X-Telegram-Bot-Api-Secret-Token header of every update; the edge refuses updates without it."},
		{Title: "Register the webhook", Text: "POST /v1/installations/{id}/register calls setWebhook with the parameters below and the installation's stored secret token, then getWebhookInfo. By hand (the secret token goes in secret_token, the bot token in the path):",
			Fields: []setup.Field{{Name: "url", Value: hook}, {Name: "secret_token", Value: secret}, {Name: "allowed_updates", Value: `["message","channel_post","callback_query"]`}},
			Code:   `curl -sS "https://api.telegram.org/bot` + setup.Placeholder("TELEGRAM_BOT_TOKEN") + `/setWebhook" -H 'Content-Type: application/json' -d '{"url":"` + hook + `","secret_token":"` + secret + `","allowed_updates":["message","channel_post","callback_query"]}'`},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "secret_token", Label: "Secret token " + secret, Where: "chosen by you (step 2)", Route: in.SecretRoute("secret_token")},
		{Purpose: "bot_token", Label: "Bot token " + setup.Placeholder("TELEGRAM_BOT_TOKEN") + " (<bot id>:<token>)", Where: "BotFather's answer to /newbot (or /token)", Route: in.SecretRoute("bot_token")},
	}
	if in.Kind == setup.KindInstallation {
		sp.Registration = "POST /v1/installations/" + in.ID + "/register calls setWebhook (url, secret_token, allowed_updates) with the installation's bot token, then getWebhookInfo, and reports the URL Telegram has, pending_update_count and last_error_message."
	}
	return sp
}
