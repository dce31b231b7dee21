package slack

import (
	"encoding/json"
	"net/url"

	"github.com/switchboard-dev/switchboard/provider/setup"
)

// BotScopes are the bot token scopes the manifest asks for: reading the
// messages the Events API sends, mentions, slash commands, files, and writing
// replies. POST /v1/installations/{id}/register flags any the token lacks.
var BotScopes = []string{"app_mentions:read", "channels:history", "chat:write", "commands", "files:read", "groups:history", "im:history", "mpim:history"}

// BotEvents are the bot events the manifest subscribes to. app_uninstalled
// and tokens_revoked tell the platform that an installation ended.
var BotEvents = []string{"app_mention", "message.channels", "message.groups", "message.im", "message.mpim", "app_uninstalled", "tokens_revoked"}

// SlashCommand is the manifest's slash command.
const SlashCommand = "/switchboard"

func init() { setup.Register(Name, Setup) }

// Manifest is a Slack app manifest (JSON form) for a Switchboard app whose
// events, interactivity and slash command all go to webhookURL.
func Manifest(name, webhookURL, redirectURL string) map[string]any {
	if name == "" {
		name = "Switchboard"
	}
	if len(name) > 35 { // Slack's display name limit
		name = name[:35]
	}
	return map[string]any{
		"_metadata":           map[string]any{"major_version": 1, "minor_version": 1},
		"display_information": map[string]any{"name": name, "description": "Routes this workspace's messages to AI agents through Switchboard"},
		"features": map[string]any{
			"bot_user":       map[string]any{"display_name": name, "always_online": true},
			"slash_commands": []any{map[string]any{"command": SlashCommand, "url": webhookURL, "description": "Ask the agent", "usage_hint": "[question]", "should_escape": false}},
		},
		"oauth_config": map[string]any{
			"redirect_urls": []string{redirectURL},
			"scopes":        map[string]any{"bot": BotScopes},
		},
		"settings": map[string]any{
			"event_subscriptions":    map[string]any{"request_url": webhookURL, "bot_events": BotEvents},
			"interactivity":          map[string]any{"is_enabled": true, "request_url": webhookURL},
			"org_deploy_enabled":     false,
			"socket_mode_enabled":    false,
			"token_rotation_enabled": false,
		},
	}
}

// CreateAppURL is Slack's "create an app from a manifest" link, prefilled.
func CreateAppURL(manifest map[string]any) string {
	js, _ := json.Marshal(manifest)
	return "https://api.slack.com/apps?new_app=1&manifest_json=" + url.QueryEscape(string(js))
}

// Setup is Slack's setup packet.
func Setup(in setup.Input) setup.Spec {
	hook := in.WebhookURL()
	redirect := in.OAuthRedirectURL()
	m := Manifest(in.Name, hook, redirect)
	sp := setup.Spec{
		Title:  "Connect Slack",
		Scopes: append([]string{}, BotScopes...),
		URLs:   []string{"Event Subscriptions request URL " + hook, "Interactivity request URL " + hook, "Slash command " + SlashCommand + " " + hook, "OAuth redirect URL " + redirect},
		Data:   map[string]any{"manifest": m, "create_app_url": CreateAppURL(m), "bot_scopes": BotScopes, "bot_events": BotEvents},
		Rotate: map[string]string{
			"signing":   "Basic Information → App Credentials → Signing Secret → Regenerate; store the new one with previous_valid_until a few minutes ahead (Slack signs with the new one at once)",
			"bot_token": "reinstall the app (OAuth & Permissions → Reinstall to Workspace) or revoke the token with auth.revoke after storing the new one; Slack bot tokens do not expire unless token rotation is on",
		},
	}
	install := setup.Step{Title: "Install the app to the workspace", Text: "OAuth & Permissions → Install to Workspace, approve the scopes " + join(BotScopes) + "."}
	if in.Platform && in.Kind == setup.KindInstallation {
		sp.Title = "Connect Slack (the platform's Slack app)"
		sp.Steps = []setup.Step{{
			Title: "Add the platform's app to your workspace",
			Text: "Ask for the Add to Slack link with your token: GET " + in.APIBase() + "/v1/oauth/slack/start?profile_id=" + in.ProfileID + "&org_id=" + in.OrgID +
				" answers authorize_url (the CLI: switchboard profiles install-link). Open it while signed in as a workspace admin; Switchboard exchanges the code, stores the bot token sealed and records the workspace on the installation. The link is valid for 10 minutes, once.",
		}}
		sp.URLs = []string{"(platform app: configured by the platform)"}
		sp.Rotate = map[string]string{"bot_token": "reinstall through the Add to Slack link; the new token replaces the old one"}
		return sp
	}
	sp.Steps = []setup.Step{
		{Title: "Create the Slack app from this manifest", Link: CreateAppURL(m),
			Text: "The link opens Slack's \"Create an app\" dialog prefilled with the manifest below (pick the workspace, review, Create). Or: api.slack.com/apps → Create New App → From an app manifest → paste the manifest."},
		{Title: "Check the URLs Slack will call", Text: "Slack sends a url_verification challenge to the request URL when you save it; the edge answers it.",
			Fields: []setup.Field{{Name: "Event Subscriptions → Request URL", Value: hook}, {Name: "Interactivity & Shortcuts → Request URL", Value: hook},
				{Name: "Slash Commands → " + SlashCommand + " → Request URL", Value: hook}, {Name: "OAuth & Permissions → Redirect URL", Value: redirect}}},
		install,
	}
	if in.Kind == setup.KindProfile {
		sp.Steps = append(sp.Steps, setup.Step{Title: "Give Switchboard the app's OAuth client (for Add to Slack)",
			Text: "Basic Information → App Credentials: the Client ID and Client Secret go to PUT /v1/profiles/" + in.ID + "/oauth {\"client_id\":…,\"client_secret\":\"" + setup.Placeholder("SLACK_CLIENT_SECRET") + "\"}; org owners then install the app with Add to Slack (GET /v1/oauth/slack/start?profile_id=" + in.ID + "&org_id=…)."})
	}
	sp.Steps = append(sp.Steps, setup.Step{Title: "Paste the values back", Text: "Store the signing secret and the bot token with the routes in \"Values to paste back\"; then POST /v1/installations/{id}/register checks the token with auth.test."})
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "external_app_id", Label: "App ID", Where: "Basic Information → App Credentials → App ID", Route: "POST /v1/profiles {\"external_app_id\":…} (at creation)"},
		{Purpose: "signing", Label: "Signing Secret " + setup.Placeholder("SLACK_SIGNING_SECRET"), Where: "Basic Information → App Credentials → Signing Secret", Route: in.SecretRoute("signing")},
	}
	if in.Kind == setup.KindInstallation {
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "bot_token", Label: "Bot User OAuth Token " + setup.Placeholder("SLACK_BOT_TOKEN") + " (xoxb-…)", Where: "OAuth & Permissions → OAuth Tokens → Bot User OAuth Token", Route: in.SecretRoute("bot_token")})
		sp.Registration = "POST /v1/installations/" + in.ID + "/register calls auth.test with the installation's bot token and records the team, the bot user and the granted scopes (Slack's x-oauth-scopes header); scopes the manifest asks for but the token lacks are listed as missing."
	}
	return sp
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
