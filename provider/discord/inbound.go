// Package discord is the Discord interactions provider: interaction webhooks
// normalised into provider events, the PING handshake, and the deferred
// interaction responses Discord requires within 3 seconds. (Verification happens
// at the edge, scheme discord_ed25519.)
package discord

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "discord"

// Interaction types.
const (
	TypePing               = 1
	TypeApplicationCommand = 2
	TypeMessageComponent   = 3
	TypeAutocomplete       = 4
	TypeModalSubmit        = 5
)

// Inbound parses Discord interactions.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

type user struct {
	ID string `json:"id"`
}

type option struct {
	Name    string          `json:"name"`
	Type    int             `json:"type"`
	Value   json.RawMessage `json:"value"`
	Options []option        `json:"options"`
}

type component struct {
	CustomID   string      `json:"custom_id"`
	Value      string      `json:"value"`
	Components []component `json:"components"`
}

type interaction struct {
	ID            string `json:"id"`
	ApplicationID string `json:"application_id"`
	Type          *int   `json:"type"`
	GuildID       string `json:"guild_id"`
	ChannelID     string `json:"channel_id"`
	Channel       *struct {
		ID string `json:"id"`
	} `json:"channel"`
	Member *struct {
		User *user `json:"user"`
	} `json:"member"`
	User *user `json:"user"`
	// AuthorizingIntegrationOwners maps an installation context ("0" guild
	// install, "1" user install) to the guild or user that authorised the
	// interaction; a guild install used in the bot's DM says "0" (a string,
	// or a bare number in some payloads).
	AuthorizingIntegrationOwners map[string]json.RawMessage `json:"authorizing_integration_owners"`
	// Webhook events (not interactions) carry version and event.
	Version *int             `json:"version"`
	Event   *json.RawMessage `json:"event"`
	Data    *struct {
		Name       string      `json:"name"`
		Options    []option    `json:"options"`
		CustomID   string      `json:"custom_id"`
		Values     []string    `json:"values"`
		Components []component `json:"components"`
		Resolved   *struct {
			Users       map[string]json.RawMessage `json:"users"`
			Attachments map[string]struct {
				Filename    string `json:"filename"`
				ContentType string `json:"content_type"`
				URL         string `json:"url"`
			} `json:"attachments"`
		} `json:"resolved"`
	} `json:"data"`
}

func jsonResponse(body string) *provider.Response {
	return &provider.Response{Status: http.StatusOK, ContentType: "application/json", Body: []byte(body)}
}

// Parse normalises one interaction. Event id: the interaction id. Account:
// guild_id ("" in DMs). Conversation: channel_id. The Ack is a deferred
// response (type 5 for commands and modals, 6 for components) so the agent's
// answer can follow through the interaction webhook.
func (Inbound) Parse(body []byte, _ string) (provider.Result, error) {
	var in interaction
	if err := json.Unmarshal(body, &in); err != nil {
		return provider.Result{}, malformed("", "not a JSON interaction: "+err.Error())
	}
	if in.Type == nil {
		return provider.Result{}, malformed("type", "missing")
	}
	if in.Version != nil && in.ID == "" {
		return parseWebhookEvent(body)
	}
	switch *in.Type {
	case TypePing:
		return provider.Result{Handshake: jsonResponse(`{"type":1}`)}, nil
	case TypeAutocomplete:
		// Autocomplete needs choices synchronously; agents are asynchronous.
		return provider.Result{Ack: jsonResponse(`{"type":8,"data":{"choices":[]}}`), Ignored: "autocomplete"}, nil
	case TypeApplicationCommand, TypeMessageComponent, TypeModalSubmit:
	default:
		return provider.Result{}, malformed("type", "unsupported interaction type")
	}
	if in.ID == "" {
		return provider.Result{}, malformed("id", "missing")
	}
	if in.Data == nil {
		return provider.Result{}, malformed("data", "missing")
	}
	channel := in.ChannelID
	if channel == "" && in.Channel != nil {
		channel = in.Channel.ID
	}
	if channel == "" {
		return provider.Result{}, malformed("channel_id", "missing")
	}
	ev := provider.Event{
		EventID:      in.ID,
		Account:      in.GuildID,
		TenantIDs:    provider.AddTenant(nil, in.GuildID),
		AppID:        in.ApplicationID,
		Conversation: channel,
	}
	if in.GuildID == "" {
		// A DM: no guild names the tenant. The installations that authorised
		// it do (a user install by the user's id; a guild install used in
		// the bot's DM says only "0").
		ev.Authorized = dmAuthorized(in.AuthorizingIntegrationOwners)
	}
	switch {
	case in.Member != nil && in.Member.User != nil:
		ev.Sender = in.Member.User.ID
	case in.User != nil:
		ev.Sender = in.User.ID
	}
	d := in.Data
	ack := `{"type":5}`
	switch *in.Type {
	case TypeApplicationCommand:
		if d.Name == "" {
			return provider.Result{}, malformed("data.name", "missing")
		}
		ev.Kind = provider.KindCommand
		parts := []string{"/" + d.Name}
		ev.Mentions = provider.AddMention(nil, "/"+d.Name)
		walkOptions(d.Options, &parts, &ev.Mentions)
		ev.Text = strings.Join(parts, " ")
	case TypeMessageComponent:
		if d.CustomID == "" {
			return provider.Result{}, malformed("data.custom_id", "missing")
		}
		ev.Kind = provider.KindInteraction
		ev.Text = d.CustomID
		if len(d.Values) > 0 {
			ev.Text += "=" + strings.Join(d.Values, ",")
		}
		ack = `{"type":6}`
	case TypeModalSubmit:
		if d.CustomID == "" {
			return provider.Result{}, malformed("data.custom_id", "missing")
		}
		ev.Kind = provider.KindInteraction
		lines := []string{d.CustomID}
		walkComponents(d.Components, &lines)
		ev.Text = strings.Join(lines, "\n")
		for _, m := range provider.ScanMentions(ev.Text) {
			ev.Mentions = provider.AddMention(ev.Mentions, m)
		}
	}
	if d.Resolved != nil {
		ids := make([]string, 0, len(d.Resolved.Users))
		for id := range d.Resolved.Users {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			ev.Mentions = provider.AddMention(ev.Mentions, id)
		}
		aids := make([]string, 0, len(d.Resolved.Attachments))
		for id := range d.Resolved.Attachments {
			aids = append(aids, id)
		}
		sort.Strings(aids)
		for _, id := range aids {
			a := d.Resolved.Attachments[id]
			ev.Attachments = append(ev.Attachments, envelope.Attachment{
				Type: provider.AttachmentType(a.ContentType), URL: a.URL, Name: a.Filename, MIME: a.ContentType,
			})
		}
	}
	return provider.Result{Events: []provider.Event{ev}, Ack: jsonResponse(ack)}, nil
}

// dmAuthorized reads the owner ids of authorizing_integration_owners that
// name an installation: the user of a user install ("1"), the guild of a
// guild install ("0") unless it is "0" (the bot's DM).
func dmAuthorized(owners map[string]json.RawMessage) []string {
	var out []string
	for _, k := range []string{"0", "1"} {
		raw, ok := owners[k]
		if !ok {
			continue
		}
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			id = strings.TrimSpace(string(raw)) // a bare number
		}
		if id == "" || id == "0" || strings.Trim(id, "0123456789") != "" {
			continue
		}
		out = provider.AddTenant(out, id)
	}
	return out
}

// Webhook event types (the body's type; the event's own type is a string).
const (
	webhookPing  = 0
	webhookEvent = 1
)

type webhookBody struct {
	ApplicationID string `json:"application_id"`
	Type          int    `json:"type"`
	Event         *struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      *struct {
			User *user `json:"user"`
		} `json:"data"`
	} `json:"event"`
}

// noContent is the answer Discord expects to a webhook event (and its PING).
var noContent = &provider.Response{Status: http.StatusNoContent, ContentType: "application/json"}

// parseWebhookEvent reads Discord's webhook events (sent to the app's Webhook
// Events URL, signed like interactions): the PING (type 0) is answered 204;
// APPLICATION_DEAUTHORIZED (a user removed the app) revokes the installation
// of that user (a user install's external id is the user's id; ingest finds
// none for a guild install and acknowledges). Other events are acknowledged.
func parseWebhookEvent(body []byte) (provider.Result, error) {
	var w webhookBody
	if err := json.Unmarshal(body, &w); err != nil {
		return provider.Result{}, malformed("", "not a JSON webhook event: "+err.Error())
	}
	switch w.Type {
	case webhookPing:
		return provider.Result{Handshake: noContent}, nil
	case webhookEvent:
	default:
		return provider.Result{}, malformed("type", "unsupported webhook event type")
	}
	if w.Event == nil || w.Event.Type == "" {
		return provider.Result{}, malformed("event.type", "missing")
	}
	if w.Event.Type != "APPLICATION_DEAUTHORIZED" {
		return provider.Result{Ack: noContent, Ignored: "webhook event " + provider.Quote(w.Event.Type)}, nil
	}
	if w.Event.Data == nil || w.Event.Data.User == nil || w.Event.Data.User.ID == "" {
		return provider.Result{}, malformed("event.data.user.id", "missing")
	}
	uid := w.Event.Data.User.ID
	return provider.Result{Ack: noContent, Revocations: []provider.Revocation{{
		Scope:   provider.ScopeInstallation,
		Account: uid,
		Reason:  "APPLICATION_DEAUTHORIZED",
		EventID: "deauthorized:" + uid + ":" + w.Event.Timestamp,
		AppID:   w.ApplicationID,
	}}}, nil
}

// walkOptions renders options as "name:value" (subcommands as their name) and
// collects @keywords from string values and user ids from user options (type 6).
func walkOptions(opts []option, parts *[]string, mentions *[]string) {
	for _, o := range opts {
		if len(o.Value) == 0 {
			*parts = append(*parts, o.Name) // subcommand or group
			walkOptions(o.Options, parts, mentions)
			continue
		}
		var s string
		if err := json.Unmarshal(o.Value, &s); err != nil {
			s = string(o.Value) // number or boolean, as sent
		}
		*parts = append(*parts, o.Name+":"+s)
		if o.Type == 6 {
			*mentions = provider.AddMention(*mentions, s)
		}
		for _, m := range provider.ScanMentions(s) {
			*mentions = provider.AddMention(*mentions, m)
		}
	}
}

func walkComponents(cs []component, lines *[]string) {
	for _, c := range cs {
		if c.CustomID != "" && len(c.Components) == 0 {
			*lines = append(*lines, c.CustomID+"="+c.Value)
		}
		walkComponents(c.Components, lines)
	}
}
