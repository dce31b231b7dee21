// Package slack is the Slack provider: Events API callbacks, slash commands and
// interactivity payloads normalised into provider events, and the
// url_verification handshake. (Verification happens at the edge, scheme slack_v0.)
package slack

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "slack"

// Inbound parses Slack webhook bodies.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

// Parse handles three body shapes: JSON Events API envelopes, form-encoded
// slash commands, and form-encoded interactivity (a `payload` field holding JSON).
func (Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	if provider.IsForm(contentType) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return provider.Result{}, malformed("", "form body does not parse")
		}
		switch {
		case form.Has("payload"):
			return parseInteraction([]byte(form.Get("payload")))
		case form.Has("command"):
			return parseCommand(form)
		}
		return provider.Result{}, malformed("", "form body is neither a slash command nor an interactivity payload")
	}
	return parseEvents(body)
}

// authorization is one entry of an Events API body's authorizations: the
// installation the event is delivered to. An org-wide (Enterprise Grid)
// install has is_enterprise_install and no team id; its installation is the
// enterprise's.
type authorization struct {
	TeamID              string `json:"team_id"`
	EnterpriseID        string `json:"enterprise_id"`
	IsEnterpriseInstall bool   `json:"is_enterprise_install"`
}

// installID is the provider-side id of the installation an authorization
// names: the enterprise id for an org-wide install, else the team id.
func (a authorization) installID() string {
	if a.IsEnterpriseInstall {
		return a.EnterpriseID
	}
	return a.TeamID
}

type file struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	MIMEType   string `json:"mimetype"`
	URLPrivate string `json:"url_private"`
}

type innerEvent struct {
	Type     string `json:"type"`
	Subtype  string `json:"subtype"`
	Channel  string `json:"channel"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
	Files    []file `json:"files"`
	// tokens_revoked: the user ids whose tokens were revoked, by kind.
	Tokens *struct {
		OAuth []string `json:"oauth"`
		Bot   []string `json:"bot"`
	} `json:"tokens"`
}

type eventsBody struct {
	Type           string          `json:"type"`
	Challenge      string          `json:"challenge"`
	TeamID         string          `json:"team_id"`
	EnterpriseID   string          `json:"enterprise_id"`
	APIAppID       string          `json:"api_app_id"`
	EventID        string          `json:"event_id"`
	Event          *innerEvent     `json:"event"`
	Authorizations []authorization `json:"authorizations"`
}

// deliveredSubtypes are message subtypes that carry a person's message. Others
// (bot_message, message_changed, message_deleted, channel_join, ...) are not
// delivered: the bot's own replies come back as events and must not loop.
var deliveredSubtypes = map[string]bool{"": true, "file_share": true, "thread_broadcast": true}

func parseEvents(body []byte) (provider.Result, error) {
	var b eventsBody
	if err := json.Unmarshal(body, &b); err != nil {
		return provider.Result{}, malformed("", "not a JSON Events API body: "+err.Error())
	}
	switch b.Type {
	case "url_verification":
		if b.Challenge == "" {
			return provider.Result{}, malformed("challenge", "missing")
		}
		return provider.Result{Handshake: &provider.Response{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(b.Challenge)}}, nil
	case "app_rate_limited":
		return provider.Result{Ignored: "app_rate_limited"}, nil
	case "event_callback":
	case "":
		return provider.Result{}, malformed("type", "missing")
	default:
		return provider.Result{}, malformed("type", "unsupported value "+provider.Quote(b.Type))
	}
	if b.EventID == "" {
		return provider.Result{}, malformed("event_id", "missing")
	}
	// The installation the event is for: Slack's authorizations name it
	// (an org-wide install by its enterprise id; a Slack Connect event in a
	// channel of another team by the installing team), else the team_id
	// (or enterprise_id) of the envelope.
	var authorized []string
	for i, a := range b.Authorizations {
		id := a.installID()
		if id == "" {
			return provider.Result{}, malformed(fmt.Sprintf("authorizations[%d].team_id", i), "missing")
		}
		authorized = provider.AddTenant(authorized, id)
	}
	account := b.TeamID
	if account == "" {
		account = b.EnterpriseID
	}
	if len(authorized) > 0 {
		account = authorized[0]
	}
	if account == "" {
		return provider.Result{}, malformed("team_id", "missing")
	}
	if b.Event == nil {
		return provider.Result{}, malformed("event", "missing")
	}
	if r, ok := revocation(b, account); ok {
		return r, nil
	}
	ev := b.Event
	switch ev.Type {
	case "message", "app_mention":
	default:
		return provider.Result{Ignored: "event type " + provider.Quote(ev.Type)}, nil
	}
	if ev.BotID != "" || !deliveredSubtypes[ev.Subtype] {
		reason := "message subtype " + provider.Quote(ev.Subtype)
		if ev.BotID != "" {
			reason = "bot_message"
		}
		return provider.Result{Ignored: reason}, nil
	}
	if ev.Channel == "" {
		return provider.Result{}, malformed("event.channel", "missing")
	}
	// Without authorizations every id in the envelope must be the
	// installation's; with them, the authorised installation decides and the
	// envelope's team may be another one (Slack Connect, a workspace of an
	// enterprise).
	var tenants []string
	if len(authorized) == 0 {
		tenants = provider.AddTenant(nil, account)
		tenants = provider.AddTenant(tenants, b.TeamID)
	}
	out := provider.Event{
		Kind:         provider.KindMessage,
		EventID:      b.EventID,
		Account:      account,
		TenantIDs:    tenants,
		Authorized:   authorized,
		AppID:        b.APIAppID,
		Conversation: ev.Channel,
		Thread:       ev.ThreadTS,
		Sender:       ev.User,
		Text:         ev.Text,
		Mentions:     Mentions(ev.Text),
	}
	for _, f := range ev.Files {
		out.Attachments = append(out.Attachments, envelope.Attachment{
			Type: provider.AttachmentType(f.MIMEType), URL: f.URLPrivate, Name: f.Name, MIME: f.MIMEType,
		})
	}
	return provider.Result{Events: []provider.Event{out}}, nil
}

// revocation reads app_uninstalled and tokens_revoked: the installation
// (account) may no longer be served. tokens_revoked revokes it when a bot
// token was revoked (replies are sent with the bot token); user tokens alone
// are not used here. app_uninstalled_team (an org-wide app removed from one
// workspace of the enterprise) leaves the org-wide installation in place.
func revocation(b eventsBody, account string) (provider.Result, bool) {
	ev := b.Event
	rev := provider.Revocation{Scope: provider.ScopeInstallation, Account: account, Reason: ev.Type, EventID: b.EventID, AppID: b.APIAppID}
	switch ev.Type {
	case "app_uninstalled":
	case "tokens_revoked":
		if ev.Tokens == nil || len(ev.Tokens.Bot) == 0 {
			return provider.Result{Ignored: "tokens_revoked without bot tokens"}, true
		}
		rev.Reason = "tokens_revoked.bot"
	case "app_uninstalled_team":
		return provider.Result{Ignored: "app_uninstalled_team (the org-wide install stays)"}, true
	default:
		return provider.Result{}, false
	}
	return provider.Result{Revocations: []provider.Revocation{rev}}, true
}

func parseCommand(form url.Values) (provider.Result, error) {
	for _, f := range []string{"command", "team_id", "channel_id", "user_id", "trigger_id"} {
		if form.Get(f) == "" {
			return provider.Result{}, malformed(f, "missing")
		}
	}
	cmd := form.Get("command")
	text := cmd
	if t := form.Get("text"); t != "" {
		text += " " + t
	}
	account := form.Get("team_id")
	var authorized []string
	if form.Get("is_enterprise_install") == "true" {
		// An org-wide install: the installation is the enterprise's; the
		// team is the workspace the command was typed in.
		if account = form.Get("enterprise_id"); account == "" {
			return provider.Result{}, malformed("enterprise_id", "missing")
		}
		authorized = []string{account}
	}
	mentions := provider.AddMention(nil, cmd)
	for _, m := range Mentions(form.Get("text")) {
		mentions = provider.AddMention(mentions, m)
	}
	// Slash commands have no event id; trigger_id is unique per invocation and
	// Slack does not retry commands.
	return provider.Result{Events: []provider.Event{{
		Kind:         provider.KindCommand,
		EventID:      form.Get("trigger_id"),
		Account:      account,
		TenantIDs:    tenantsUnlessAuthorized(account, authorized),
		Authorized:   authorized,
		AppID:        form.Get("api_app_id"),
		Conversation: form.Get("channel_id"),
		Sender:       form.Get("user_id"),
		Text:         text,
		Mentions:     mentions,
	}}}, nil
}

type idField struct {
	ID string `json:"id"`
}

type interaction struct {
	Type                string   `json:"type"`
	Team                *idField `json:"team"`
	Enterprise          *idField `json:"enterprise"`
	IsEnterpriseInstall bool     `json:"is_enterprise_install"`
	User                *struct {
		ID     string `json:"id"`
		TeamID string `json:"team_id"`
	} `json:"user"`
	APIAppID   string   `json:"api_app_id"`
	TriggerID  string   `json:"trigger_id"`
	CallbackID string   `json:"callback_id"`
	Channel    *idField `json:"channel"`
	Container  *struct {
		ThreadTS string `json:"thread_ts"`
	} `json:"container"`
	Message *struct {
		TS       string `json:"ts"`
		ThreadTS string `json:"thread_ts"`
		Text     string `json:"text"`
	} `json:"message"`
	View *struct {
		ID         string `json:"id"`
		CallbackID string `json:"callback_id"`
	} `json:"view"`
	Actions []struct {
		ActionID       string `json:"action_id"`
		Value          string `json:"value"`
		ActionTS       string `json:"action_ts"`
		SelectedOption *struct {
			Value string `json:"value"`
		} `json:"selected_option"`
	} `json:"actions"`
}

func parseInteraction(payload []byte) (provider.Result, error) {
	var p interaction
	if err := json.Unmarshal(payload, &p); err != nil {
		return provider.Result{}, malformed("payload", "not JSON: "+err.Error())
	}
	switch p.Type {
	case "block_actions", "shortcut", "message_action", "view_submission", "interactive_message":
	case "":
		return provider.Result{}, malformed("payload.type", "missing")
	default:
		// view_closed, block_suggestion (needs a synchronous answer), ...
		return provider.Result{Ignored: "interaction type " + provider.Quote(p.Type)}, nil
	}
	account := ""
	var authorized []string
	if p.IsEnterpriseInstall {
		if p.Enterprise == nil || p.Enterprise.ID == "" {
			return provider.Result{}, malformed("payload.enterprise.id", "missing")
		}
		account = p.Enterprise.ID
		authorized = []string{account}
	} else {
		if p.Team == nil || p.Team.ID == "" {
			return provider.Result{}, malformed("payload.team.id", "missing")
		}
		account = p.Team.ID
	}
	if p.User == nil || p.User.ID == "" {
		return provider.Result{}, malformed("payload.user.id", "missing")
	}
	ev := provider.Event{
		Kind:       provider.KindInteraction,
		Account:    account,
		TenantIDs:  tenantsUnlessAuthorized(account, authorized),
		Authorized: authorized,
		AppID:      p.APIAppID,
		Sender:     p.User.ID,
	}
	// Interactions without a channel (shortcuts, modal submissions) are a
	// conversation with the user who triggered them.
	ev.Conversation = p.User.ID
	if p.Channel != nil && p.Channel.ID != "" {
		ev.Conversation = p.Channel.ID
	}
	if p.Message != nil {
		ev.Thread = p.Message.ThreadTS
	}
	if ev.Thread == "" && p.Container != nil {
		ev.Thread = p.Container.ThreadTS
	}
	ev.EventID = p.TriggerID
	switch {
	case len(p.Actions) > 0:
		a := p.Actions[0]
		ev.Text = a.Value
		if a.SelectedOption != nil {
			ev.Text = a.SelectedOption.Value
		}
		if ev.Text == "" {
			ev.Text = a.ActionID
		}
		if ev.EventID == "" && a.ActionTS != "" {
			ev.EventID = "action:" + p.User.ID + ":" + a.ActionTS
		}
	case p.View != nil:
		ev.Text = p.View.CallbackID
	default:
		ev.Text = p.CallbackID
	}
	if ev.EventID == "" {
		return provider.Result{}, malformed("payload.trigger_id", "missing")
	}
	return provider.Result{Events: []provider.Event{ev}}, nil
}

// tenantsUnlessAuthorized: an event that names its authorised installation
// carries no other tenant ids to check; otherwise the account is one.
func tenantsUnlessAuthorized(account string, authorized []string) []string {
	if len(authorized) > 0 {
		return nil
	}
	return provider.AddTenant(nil, account)
}

// Mentions extracts explicit mentions from Slack message text: user mentions
// <@U123> / <@U123|name> (the user id), user-group mentions
// <!subteam^S123|@handle> (id and handle), and plain @keywords.
func Mentions(text string) []string {
	var out []string
	rest := text
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			break
		}
		tok := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		id, label, _ := strings.Cut(tok, "|")
		switch {
		case strings.HasPrefix(id, "@"):
			out = provider.AddMention(out, id[1:])
		case strings.HasPrefix(id, "!subteam^"):
			out = provider.AddMention(out, strings.TrimPrefix(id, "!subteam^"))
			out = provider.AddMention(out, label)
		}
	}
	// Plain @keywords outside <...> tokens.
	var plain strings.Builder
	depth := 0
	for _, r := range text {
		switch {
		case r == '<':
			depth++
		case r == '>' && depth > 0:
			depth--
			plain.WriteRune(' ')
		case depth == 0:
			plain.WriteRune(r)
		}
	}
	for _, m := range provider.ScanMentions(plain.String()) {
		out = provider.AddMention(out, m)
	}
	return out
}
