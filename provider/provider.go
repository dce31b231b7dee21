// Package provider is the registry of provider adapters and the types they share
// on the inbound side: a provider parses a verified webhook body into normalised
// events (or a handshake answer) without any I/O. Each provider lives in its own
// folder (provider/slack, provider/telegram, ...) and registers itself in init;
// provider/all imports every built-in one. Adding a provider = adding a folder,
// registering it, and adding its test vectors.
package provider

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/switchboard-dev/switchboard/envelope"
)

// Kinds of events.
const (
	KindMessage     = "message"     // a chat message
	KindCommand     = "command"     // Slack slash command, Discord application command
	KindInteraction = "interaction" // button / menu / modal / callback query
	// KindMembership: someone started or stopped following the bot, or the bot
	// joined or left a conversation (LINE follow/unfollow/join/leave); Type
	// says which and Text is empty.
	KindMembership = "membership"
)

// Event is one normalised inbound event, before installation resolution and routing.
type Event struct {
	Kind string `json:"kind"`
	// Type is the provider's own event type where it has several that map to
	// one Kind (GitHub "issue_comment", LINE "follow", a Standard Webhooks
	// payload's "type"); "" otherwise.
	Type    string `json:"type,omitempty"`
	EventID string `json:"event_id"` // provider event id: the dedup key (with installation and target)
	// Redelivery is the provider's own flag that this event was delivered
	// before (LINE deliveryContext.isRedelivery); dedup is by EventID either way.
	Redelivery bool `json:"redelivery,omitempty"`
	// Account is the provider-side tenant id read from the body, used to resolve the
	// installation of a shared platform app: Slack team id, WhatsApp
	// phone_number_id, Discord guild id. "" when the body carries none (Telegram).
	Account string `json:"account"`
	// TenantIDs are every tenant id the body attributes this event to (including
	// Account, unless Account is in Authorized); ingest checks that each
	// belongs to the resolved installation.
	TenantIDs []string `json:"tenant_ids"`
	// Authorized are the provider-side ids of the installations the body says
	// this event is delivered to, where the provider names them apart from
	// the place the event happened: Slack's authorizations (the team id, or
	// the enterprise id of an org-wide install, which a Slack Connect event
	// in another team's channel also carries), Discord's
	// authorizing_integration_owners in a DM. A shared app's installation is
	// resolved among them (exactly one must exist), and an installation's own
	// ingress only takes the event when its id is one of them. Empty: Account
	// alone decides.
	Authorized []string `json:"authorized,omitempty"`
	// AppID is the provider app id in the body (Slack api_app_id, Discord
	// application_id); ingest checks it against the profile's ExternalAppID.
	AppID        string                `json:"app_id"`
	Conversation string                `json:"conversation"`
	Thread       string                `json:"thread"`
	Sender       string                `json:"sender"`
	Text         string                `json:"text"`
	Attachments  []envelope.Attachment `json:"attachments"`
	// Mentions are normalised (see NormalizeMention): user ids, @keywords,
	// and slash-command names ("/weather") that address someone explicitly.
	Mentions []string `json:"mentions"`
}

// Response is an HTTP answer a provider expects from the webhook endpoint.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Result is what Parse found in one request body.
type Result struct {
	// Handshake, when set, is answered as is; nothing is enqueued.
	Handshake *Response
	// Events to enqueue (zero when the body is valid but carries nothing to deliver,
	// e.g. a WhatsApp status update or a bot's own message).
	Events []Event
	// Ack is the 2xx answer once every event is enqueued; nil means 200 with no body.
	// (Discord needs a deferred interaction response here.)
	Ack *Response
	// Ignored says why a valid body produced no events (for logs), e.g. "bot_message".
	Ignored string
	// Revocations are what the provider says may no longer be served: the
	// app was uninstalled or its tokens revoked (the installation), or the
	// bot was blocked or removed in one chat (a conversation). Ingest acts on
	// them (store, audit) before any event of the same body.
	Revocations []Revocation
}

// Revocation scopes.
const (
	// ScopeInstallation: the whole installation (app uninstalled, tokens or
	// access revoked, installation deleted or suspended).
	ScopeInstallation = "installation"
	// ScopeConversation: one conversation of the installation (the bot was
	// blocked by the user or removed from the group).
	ScopeConversation = "conversation"
)

// Revocation is one uninstall or revocation the provider reported.
type Revocation struct {
	Scope string `json:"scope"`
	// Account is the provider-side id of the installation the body names
	// (Slack team or enterprise id, GitHub installation id, Discord user id
	// of a user install); "" when the body names none, which means the
	// installation the request was attested for.
	Account string `json:"account,omitempty"`
	// Conversation is the chat of a ScopeConversation revocation.
	Conversation string `json:"conversation,omitempty"`
	// Reason is the provider's own word for it, e.g. "app_uninstalled",
	// "tokens_revoked", "installation.deleted", "kicked"; it goes to the
	// audit log and to the dead letters of tasks that were still queued.
	Reason string `json:"reason"`
	// Restore (ScopeConversation only) lifts an earlier revocation: the user
	// unblocked the bot, or the bot was added to the group again.
	Restore bool `json:"restore,omitempty"`
	// EventID is the provider's id of the notification ("" when it has none).
	EventID string `json:"event_id,omitempty"`
	// AppID is the provider app id in the body, checked like Event.AppID.
	AppID string `json:"app_id,omitempty"`
}

// Inbound is the inbound side of a provider.
type Inbound interface {
	// Name is the provider name used in paths, store rows and envelopes.
	Name() string
	// Parse normalises a verified body. contentType is the request's Content-Type.
	// A body that is not what the provider sends yields a *MalformedError.
	Parse(body []byte, contentType string) (Result, error)
}

// Request is what a parser sees of one verified webhook request.
type Request struct {
	Body        []byte
	ContentType string
	// Header holds the request's headers as the edge forwarded them (the
	// provider's metadata headers: X-GitHub-Event, X-GitHub-Delivery,
	// webhook-id, ...). nil when the caller has only a body.
	Header http.Header
	// Settings are the provider settings of the installation the attested
	// identity names (see SettingsValidator); nil for a shared platform
	// app, whose installation is only known from the body.
	Settings map[string]string
}

// RequestParser is implemented by a provider that needs more of the request
// than its body and Content-Type (headers, the installation's settings).
// Its ParseRequest replaces Parse for requests; Parse stays the body-only form
// (Parse(body, ct) must equal ParseRequest with no headers and no settings).
type RequestParser interface {
	ParseRequest(r Request) (Result, error)
}

// SettingsValidator is implemented by a provider whose installations take
// settings (name -> value, e.g. Standard Webhooks' conversation pointer). The
// API validates an installation's settings with it before storing them and
// refuses settings for a provider that does not implement it. The error
// names the setting and never needs to quote a secret (settings are not
// secrets).
type SettingsValidator interface {
	ValidateSettings(settings map[string]string) error
}

// Parse parses r with p: through ParseRequest when p implements
// RequestParser, else Parse(body, content type).
func Parse(p Inbound, r Request) (Result, error) {
	if rp, ok := p.(RequestParser); ok {
		return rp.ParseRequest(r)
	}
	return p.Parse(r.Body, r.ContentType)
}

// ValidateSettings checks an installation's settings for the provider name:
// none is always valid; some need the provider to implement SettingsValidator.
func ValidateSettings(name string, settings map[string]string) error {
	p, ok := Get(name)
	if !ok {
		return fmt.Errorf("no inbound adapter for %s", Quote(name))
	}
	v, ok := p.(SettingsValidator)
	if !ok {
		if len(settings) > 0 {
			return fmt.Errorf("%s installations take no settings", name)
		}
		return nil
	}
	return v.ValidateSettings(settings)
}

// ErrMalformed is matched (errors.Is) by every *MalformedError.
var ErrMalformed = errors.New("malformed payload")

// MalformedError names what is wrong with a payload. It never quotes the payload.
type MalformedError struct {
	Provider string
	Field    string // e.g. "event.channel", "entry[0].changes[1].value.metadata.phone_number_id"
	Problem  string // e.g. "missing", "not JSON"
}

func (e *MalformedError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: malformed payload: %s", e.Provider, e.Problem)
	}
	return fmt.Sprintf("%s: malformed payload: %s: %s", e.Provider, e.Field, e.Problem)
}

func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Malformed returns a *MalformedError.
func Malformed(provider, field, problem string) error {
	return &MalformedError{Provider: provider, Field: field, Problem: problem}
}

var (
	mu       sync.RWMutex
	registry = map[string]Inbound{}
)

// Register adds a provider; registering a name twice panics (a wiring bug).
func Register(p Inbound) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[p.Name()]; dup {
		panic("provider: duplicate registration of " + p.Name())
	}
	registry[p.Name()] = p
}

// Get returns the registered provider of that name.
func Get(name string) (Inbound, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// Names lists the registered providers, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Check verifies the invariants every parser promises for a successful Result;
// fuzz tests and ingest rely on it.
func Check(r Result) error {
	if r.Handshake != nil && len(r.Events) > 0 {
		return errors.New("result has both a handshake and events")
	}
	for i, e := range r.Events {
		switch {
		case e.EventID == "":
			return fmt.Errorf("event %d: empty event id", i)
		case e.Conversation == "":
			return fmt.Errorf("event %d: empty conversation", i)
		case e.Kind == "":
			return fmt.Errorf("event %d: empty kind", i)
		}
		if e.Account != "" && !contains(e.TenantIDs, e.Account) && !contains(e.Authorized, e.Account) {
			return fmt.Errorf("event %d: account missing from tenant ids", i)
		}
		for _, a := range e.Authorized {
			if a == "" {
				return fmt.Errorf("event %d: empty authorized id", i)
			}
		}
	}
	if r.Handshake != nil && len(r.Revocations) > 0 {
		return errors.New("result has both a handshake and revocations")
	}
	for i, v := range r.Revocations {
		switch {
		case v.Reason == "":
			return fmt.Errorf("revocation %d: empty reason", i)
		case v.Scope == ScopeInstallation && (v.Conversation != "" || v.Restore):
			return fmt.Errorf("revocation %d: installation scope with a conversation or restore", i)
		case v.Scope == ScopeConversation && v.Conversation == "":
			return fmt.Errorf("revocation %d: conversation scope without a conversation", i)
		case v.Scope != ScopeInstallation && v.Scope != ScopeConversation:
			return fmt.Errorf("revocation %d: unknown scope %s", i, Quote(v.Scope))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// NormalizeMention makes mentions comparable: trimmed, without a leading "@",
// lower case. Binding selectors are normalised the same way.
func NormalizeMention(s string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "@"))
}

// ScanMentions finds "@keyword" tokens in free text (keyword: letters, digits,
// "_", "-", "."; the "@" at the start or after a non-word character, so e-mail
// addresses are not mentions), normalised.
func ScanMentions(text string) []string {
	var out []string
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '@' || (i > 0 && isWord(rs[i-1])) {
			continue
		}
		j := i + 1
		for j < len(rs) && (isWord(rs[j]) || rs[j] == '.' || rs[j] == '-') {
			j++
		}
		for j > i+1 && (rs[j-1] == '.' || rs[j-1] == '-') { // trailing punctuation
			j--
		}
		if j > i+1 {
			out = AddMention(out, string(rs[i+1:j]))
		}
		i = j - 1
	}
	return out
}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// AddMention appends the normalised mention m unless empty or already present.
func AddMention(list []string, m string) []string {
	m = NormalizeMention(m)
	if m == "" || contains(list, m) {
		return list
	}
	return append(list, m)
}

// AttachmentType maps a MIME type to an attachment type: image, audio, video or file.
func AttachmentType(mime string) string {
	for _, p := range []string{"image", "audio", "video"} {
		if strings.HasPrefix(mime, p+"/") {
			return p
		}
	}
	return "file"
}

// IsForm reports whether a Content-Type is a form post.
func IsForm(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	return ct == "application/x-www-form-urlencoded"
}

// AddTenant appends a tenant id unless empty or already present.
func AddTenant(list []string, id string) []string {
	if id == "" || contains(list, id) {
		return list
	}
	return append(list, id)
}

// Quote renders a short, bounded, printable excerpt of an untrusted value for
// an error message.
func Quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return strconv.Quote(strings.ToValidUTF8(s, "?"))
}
