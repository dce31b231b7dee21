package console

import (
	"encoding/json"
	"html/template"
	"sort"
	"strings"
	"time"
)

// JSON shapes the console reads from the API (the fields it shows).

type whoami struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	SubjectID string `json:"subject_id"`
}

type org struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	AgencyID  string     `json:"agency_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

type agency struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	RevokedAt *time.Time `json:"revoked_at"`
}

type secret struct {
	ID          string     `json:"id"`
	Purpose     string     `json:"purpose"`
	Fingerprint string     `json:"fingerprint"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    *time.Time `json:"not_after"`
}

type profile struct {
	ID            string     `json:"id"`
	Owner         string     `json:"owner"`
	OrgID         string     `json:"org_id"`
	Provider      string     `json:"provider"`
	Name          string     `json:"name"`
	ExternalAppID string     `json:"external_app_id"`
	Secrets       []secret   `json:"secrets"`
	RevokedAt     *time.Time `json:"revoked_at"`
}

type installation struct {
	ID                  string     `json:"id"`
	OrgID               string     `json:"org_id"`
	ProfileID           string     `json:"profile_id"`
	Provider            string     `json:"provider"`
	ExternalID          string     `json:"external_id"`
	WebhookPath         string     `json:"webhook_path"`
	WebhookURL          string     `json:"webhook_url"`
	PlatformCredentials bool       `json:"platform_credentials"`
	Secrets             []secret   `json:"secrets"`
	CreatedAt           time.Time  `json:"created_at"`
	RevokedAt           *time.Time `json:"revoked_at"`
	FirstAcceptedAt     *time.Time `json:"first_accepted_at"`
	LastAcceptedAt      *time.Time `json:"last_accepted_at"`
}

type agent struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"org_id"`
	Name          string     `json:"name"`
	URL           string     `json:"url"`
	Secrets       []secret   `json:"secrets"`
	RevokedAt     *time.Time `json:"revoked_at"`
	SigningSecret string     `json:"signing_secret"`
}

type selector struct {
	Account string `json:"account,omitempty"`
	Channel string `json:"channel,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Mention string `json:"mention,omitempty"`
}

func (s selector) String() string {
	var parts []string
	for _, kv := range [][2]string{{"account", s.Account}, {"channel", s.Channel}, {"peer", s.Peer}, {"mention", s.Mention}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if len(parts) == 0 {
		return "everything"
	}
	return strings.Join(parts, ", ")
}

type binding struct {
	ID             string     `json:"id"`
	OrgID          string     `json:"org_id"`
	InstallationID string     `json:"installation_id"`
	Selector       selector   `json:"selector"`
	AgentID        string     `json:"agent_id"`
	Persona        string     `json:"persona"`
	Priority       int        `json:"priority"`
	RevokedAt      *time.Time `json:"revoked_at"`
}

type stage struct {
	Provider   string     `json:"provider"`
	Stage      string     `json:"stage"`
	CanaryOrgs []string   `json:"canary_orgs"`
	Default    bool       `json:"default"`
	UpdatedAt  *time.Time `json:"updated_at"`
}

type auditEvent struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	OrgID  string          `json:"org_id"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

type list[T any] struct {
	Items []T `json:"items"`
}

type auditPage struct {
	Items     []auditEvent `json:"items"`
	NextAfter int64        `json:"next_after"`
}

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
