package console

import (
	"encoding/json"
	"html/template"
	"sort"
	"time"
)

// providerInfo is what the connect wizard asks for per provider: the
// secrets of the organisation's own app (purposes as the API names them) and
// what the provider calls the installation's external id.
type providerInfo struct {
	Name       string
	Title      string
	ExternalID string // label of the installation's external id
	AppID      string // label of the app's id at the provider
	Secrets    []secretField
	OAuth      bool // the platform's app installs through OAuth ("Add to …")
}

type secretField struct {
	Purpose  string
	Label    string
	Hint     string
	Required bool
}

var providers = map[string]providerInfo{
	"slack": {Title: "Slack", ExternalID: "Workspace (team) id, e.g. T0123ABCD", AppID: "App id, e.g. A0123ABCD", OAuth: true, Secrets: []secretField{
		{"signing", "Signing secret", "Basic Information → App Credentials: 32 letters and digits", true},
		{"bot_token", "Bot token", "OAuth & Permissions: xoxb-…", false}}},
	"telegram": {Title: "Telegram", ExternalID: "Bot id (the digits before ':' in the bot token; filled from it when empty)", AppID: "Bot username (optional)", Secrets: []secretField{
		{"bot_token", "Bot token", "From @BotFather: <bot id>:<token>", true},
		{"secret_token", "Webhook secret token", "1–256 of A-Z a-z 0-9 _ -; generated when empty", false}}},
	"discord": {Title: "Discord", ExternalID: "Guild (server) id", AppID: "Application id", OAuth: true, Secrets: []secretField{
		{"public_key", "Public key", "General Information: 64 hex digits", true},
		{"bot_token", "Bot token", "Bot → Token", false}}},
	"whatsapp":  {Title: "WhatsApp", ExternalID: "Phone number id", AppID: "Meta app id", Secrets: metaSecrets},
	"messenger": {Title: "Messenger", ExternalID: "Page id", AppID: "Meta app id", Secrets: metaSecrets},
	"instagram": {Title: "Instagram", ExternalID: "Instagram account id", AppID: "Meta app id", Secrets: metaSecrets},
	"twilio": {Title: "Twilio", ExternalID: "Phone number or account SID", AppID: "Account SID", Secrets: []secretField{
		{"signing", "Auth token", "32 hex digits", true}, {"bot_token", "API credentials", "", false}}},
	"line": {Title: "LINE", ExternalID: "Bot user id", AppID: "Channel id", Secrets: []secretField{
		{"signing", "Channel secret", "32 hex digits", true}, {"bot_token", "Channel access token", "", false}}},
	"github": {Title: "GitHub", ExternalID: "Installation or repository id", AppID: "App id", Secrets: []secretField{
		{"signing", "Webhook secret", "1–256 printable characters", true}, {"bot_token", "Token", "", false}}},
	"standardwebhooks": {Title: "Standard Webhooks", ExternalID: "Source id", AppID: "Sender name", Secrets: []secretField{
		{"signing", "Signing secret", "whsec_ + base64", true}}},
}

var metaSecrets = []secretField{
	{"signing", "App secret", "App settings → Basic: 32 hex digits", true},
	{"verify_token", "Verify token", "Any 1–256 printable characters without spaces: you type it into the webhook settings", true},
	{"bot_token", "Access token", "System user access token", false},
}

func providerOf(name string) providerInfo {
	p, ok := providers[name]
	if !ok {
		p = providerInfo{Title: name, ExternalID: "External id", AppID: "App id"}
	}
	p.Name = name
	return p
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return ""
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"strs":     func(s ...string) []string { return s },
	"provider": providerOf,
	"sortedKeys": func(m map[string]int) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	},
	"json": func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
}
