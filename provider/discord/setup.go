package discord

import (
	"net/url"
	"strconv"

	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Bot permissions the invite asks for (Discord permission bits).
const (
	PermViewChannel          = 1 << 10
	PermSendMessages         = 1 << 11
	PermAttachFiles          = 1 << 15
	PermReadMessageHistory   = 1 << 16
	PermSendMessagesInThread = 1 << 38
)

// BotPermissions is the permissions integer of the invite URL.
const BotPermissions = PermViewChannel | PermSendMessages | PermAttachFiles | PermReadMessageHistory | PermSendMessagesInThread

// InviteScopes are the OAuth2 scopes of the bot invite.
var InviteScopes = []string{"bot", "applications.commands"}

func init() { setup.Register(Name, Setup) }

// InviteURL is the bot authorisation URL for an application. redirect ""
// leaves the user on Discord after authorising.
func InviteURL(appID, redirect, state string) string {
	q := url.Values{}
	q.Set("client_id", appID)
	q.Set("scope", "bot applications.commands")
	q.Set("permissions", strconv.FormatInt(BotPermissions, 10))
	if redirect != "" {
		q.Set("redirect_uri", redirect)
		q.Set("response_type", "code")
	}
	if state != "" {
		q.Set("state", state)
	}
	return "https://discord.com/oauth2/authorize?" + q.Encode()
}

// Setup is Discord's setup packet.
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	app := in.ExternalAppID
	if app == "" {
		app = setup.Placeholder("DISCORD_APPLICATION_ID")
	}
	invite := InviteURL(app, "", "")
	sp := setup.Spec{
		Title:  "Connect a Discord application",
		Scopes: []string{"bot", "applications.commands", "permissions " + strconv.FormatInt(BotPermissions, 10) + " (View Channels, Send Messages, Send Messages in Threads, Read Message History, Attach Files)"},
		URLs:   []string{"Interactions Endpoint URL " + hook, "OAuth2 redirect " + in.OAuthRedirectURL()},
		Data:   map[string]any{"interactions_endpoint_url": hook, "invite_url": invite, "scopes": InviteScopes, "permissions": strconv.FormatInt(BotPermissions, 10)},
		Rotate: map[string]string{
			"public_key": "the public key changes only with a new application: connect the new application as a new profile and installation",
			"bot_token":  "Bot → Reset Token, then store the new token at once (the old one stops working immediately)",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Create the application", Link: "https://discord.com/developers/applications",
			Text: "New Application. General Information shows the Application ID (the profile's external_app_id) and the Public Key (the edge verifies every interaction with it)."},
		{Title: "Set the interactions endpoint", Text: "General Information → Interactions Endpoint URL. Discord sends a signed PING when you save it; the edge must already have the public key, so store the public key first. POST /v1/installations/{id}/register sets it for you with the bot token (PATCH /applications/@me).",
			Fields: []setup.Field{{Name: "Interactions Endpoint URL", Value: hook}}},
		{Title: "Create the bot and invite it", Link: invite,
			Text: "Bot → Reset Token shows the bot token (paste it back). The invite link asks for the scopes bot and applications.commands and the permissions below; the server's admin picks the guild (its id is the installation's external_id)."},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "external_app_id", Label: "Application ID", Where: "General Information → Application ID", Route: "POST /v1/profiles {\"external_app_id\":…} (at creation)"},
		{Purpose: "public_key", Label: "Public Key " + setup.Placeholder("DISCORD_PUBLIC_KEY"), Where: "General Information → Public Key", Route: in.SecretRoute("public_key")},
	}
	if in.Kind == setup.KindInstallation {
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "bot_token", Label: "Bot token " + setup.Placeholder("DISCORD_BOT_TOKEN"), Where: "Bot → Reset Token", Route: in.SecretRoute("bot_token")})
		sp.Registration = "POST /v1/installations/" + in.ID + "/register sets the application's interactions_endpoint_url to the webhook URL with the installation's bot token (PATCH /applications/@me); Discord validates it at once with a signed PING that the edge answers."
	}
	if in.Kind == setup.KindProfile {
		sp.Steps = append(sp.Steps, setup.Step{Title: "Give Switchboard the OAuth2 client (bot authorisation through Switchboard)",
			Text: "OAuth2 → Client ID and Client Secret go to PUT /v1/profiles/" + in.ID + "/oauth {\"client_id\":…,\"client_secret\":\"" + setup.Placeholder("DISCORD_CLIENT_SECRET") + "\"}; add the redirect " + in.OAuthRedirectURL() + " under OAuth2 → Redirects. Then GET /v1/oauth/discord/start?profile_id=" + in.ID + "&org_id=… sends the server admin to Discord and records the guild on a new installation."})
	}
	return sp
}
