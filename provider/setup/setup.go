// Package setup builds setup packets: everything an org owner (or an agency)
// pastes into a provider's console to connect an installation or an app
// profile, the values to paste back, and the checklists that end every
// packet (canary validation, dev → prod cutover, rotation, agency handoff).
//
// Each provider folder registers a pure function Input -> Spec (its own
// steps, URLs, scopes and machine-readable objects such as Slack's app
// manifest); Build adds what every packet shares. A packet never holds a
// secret: where one goes it names a placeholder (Placeholder) and the API
// route that takes the value.
package setup

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kinds of packets.
const (
	KindInstallation = "installation"
	KindProfile      = "profile"
)

// RotationInterval is how long a secret is used before the packet says it
// should be rotated (from the day it became valid).
const RotationInterval = 90 * 24 * time.Hour

// Input is what a packet is built from: identifiers, URLs and the secrets
// that exist (their purpose and fingerprint, never their value).
type Input struct {
	Provider string
	Kind     string // KindInstallation or KindProfile
	ID       string // installation or profile id
	OrgID    string // "" for a platform profile
	// ProfileID is the installation's profile (Kind installation).
	ProfileID     string
	Name          string // profile name (the app's display name)
	Platform      bool   // the profile (or the installation's profile) is the platform's shared app
	ExternalAppID string // Slack api_app_id, Meta app id, Discord application id
	ExternalID    string // Slack team id, WhatsApp phone_number_id, Discord guild id, Telegram bot id
	// PublicURL is the edge's public base URL ("" when serve has no
	// --public-url: the packet then shows PublicURLPlaceholder).
	PublicURL string
	// WebhookPath is /v1/hooks/<provider>/<ingress id> ("" for an org profile:
	// each installation has its own).
	WebhookPath string
	// APIURL is the binding API's public base URL, for OAuth redirects
	// ("" shows APIURLPlaceholder).
	APIURL  string
	Secrets []Secret
	Handoff *Handoff
	Now     time.Time
}

// Secret is one stored secret of the installation or profile, as shown.
type Secret struct {
	Owner       string     `json:"owner"` // "installation" or "profile"
	Purpose     string     `json:"purpose"`
	Fingerprint string     `json:"fingerprint"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
}

// Placeholders stand where a value the packet must not (or cannot) hold goes.
const (
	PublicURLPlaceholder = "https://<PUBLIC_URL>"
	APIURLPlaceholder    = "https://<API_URL>"
)

// Placeholder names a secret the user pastes: "<SLACK_SIGNING_SECRET>".
func Placeholder(name string) string { return "<" + name + ">" }

// Handoff is the agency handoff record of an installation (PUT
// /v1/installations/{id}/handoff), shown at the end of its packet.
type Handoff struct {
	OwnerAccount      string     `json:"owner_account"`       // the provider account that owns the app (e-mail or account id)
	URLsConfigured    []string   `json:"urls_configured"`     // the URLs entered at the provider
	ScopesApproved    []string   `json:"scopes_approved"`     // scopes / permissions the owner approved
	CanaryValidatedAt *time.Time `json:"canary_validated_at"` // when one event in and one reply out were seen
	CanaryChannel     string     `json:"canary_channel"`
	RotationOwner     string     `json:"rotation_owner"` // who rotates the secrets
	NextRotation      string     `json:"next_rotation"`  // YYYY-MM-DD
	UpdatedAt         *time.Time `json:"updated_at,omitempty"`
	UpdatedBy         string     `json:"updated_by,omitempty"` // token id
}

// Spec is a provider's own part of a packet.
type Spec struct {
	Title string
	// Steps are done in order at the provider (and in Switchboard).
	Steps []Step
	// PasteBack lists the values read at the provider that Switchboard needs.
	PasteBack []PasteBack
	// Data holds machine-readable objects (a Slack manifest, setWebhook
	// parameters, an invite URL) under stable keys.
	Data map[string]any
	// Scopes are the permissions the app needs (for the handoff record).
	Scopes []string
	// URLs are the URLs configured at the provider (for the handoff record).
	URLs []string
	// Rotate says, per secret purpose, how the secret is rotated at the provider.
	Rotate map[string]string
	// Registration says what POST /v1/installations/{id}/register does ("": nothing for this provider).
	Registration string
}

// Step is one thing to do.
type Step struct {
	Title  string  `json:"title"`
	Text   string  `json:"text,omitempty"`
	Link   string  `json:"link,omitempty"`
	Fields []Field `json:"fields,omitempty"` // name -> value to enter
	Code   string  `json:"code,omitempty"`   // a block to copy (JSON, a command)
}

// Field is a value to enter in a provider's form.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PasteBack is a value the user copies from the provider into Switchboard.
type PasteBack struct {
	Purpose string `json:"purpose"` // secret purpose (signing, bot_token, …) or a field (external_app_id)
	Label   string `json:"label"`   // the provider's name for it
	Where   string `json:"where"`   // where the provider shows it
	Route   string `json:"route"`   // the API call that stores it
}

// Checklist is a named list of checks.
type Checklist struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
}

// Rotation is when and how one current secret should be rotated.
type Rotation struct {
	Owner       string `json:"owner"`
	Purpose     string `json:"purpose"`
	Fingerprint string `json:"fingerprint"`
	Since       string `json:"since"`     // YYYY-MM-DD
	RotateBy    string `json:"rotate_by"` // YYYY-MM-DD: Since + RotationInterval
	How         string `json:"how"`
	Route       string `json:"route"`
}

// Packet is a complete setup packet.
type Packet struct {
	Provider     string         `json:"provider"`
	Kind         string         `json:"kind"`
	ID           string         `json:"id"`
	Title        string         `json:"title"`
	WebhookURL   string         `json:"webhook_url,omitempty"`
	Warnings     []string       `json:"warnings"`
	Steps        []Step         `json:"steps"`
	PasteBack    []PasteBack    `json:"paste_back"`
	Data         map[string]any `json:"data"`
	Registration string         `json:"registration,omitempty"`
	Rotation     []Rotation     `json:"rotation"`
	Checklists   []Checklist    `json:"checklists"`
	Handoff      *Handoff       `json:"handoff"`
}

// Func is a provider's packet function. It must be pure.
type Func func(in Input) Spec

var (
	mu    sync.RWMutex
	funcs = map[string]Func{}
)

// Register adds a provider's packet function; a second registration of a
// name panics (a wiring bug).
func Register(provider string, f Func) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := funcs[provider]; dup {
		panic("setup: duplicate registration of " + provider)
	}
	funcs[provider] = f
}

// Providers lists the providers with a packet, sorted.
func Providers() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(funcs))
	for p := range funcs {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Has reports whether provider has a packet function.
func Has(provider string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := funcs[provider]
	return ok
}

// WebhookURL is the URL the provider calls: the public URL + webhook path,
// with placeholders for what is not known.
func (in Input) WebhookURL() string {
	base := in.PublicURL
	if base == "" {
		base = PublicURLPlaceholder
	}
	path := in.WebhookPath
	if path == "" {
		path = "/v1/hooks/" + in.Provider + "/<INGRESS_ID>"
	}
	return base + path
}

// APIBase is the binding API's public URL or its placeholder.
func (in Input) APIBase() string {
	if in.APIURL == "" {
		return APIURLPlaceholder
	}
	return in.APIURL
}

// OAuthRedirectURL is where a provider sends the user back after an OAuth install.
func (in Input) OAuthRedirectURL() string {
	return in.APIBase() + "/v1/oauth/" + in.Provider + "/callback"
}

// SecretRoute is the API call that stores (or rotates) a secret of purpose
// for this packet's object.
func (in Input) SecretRoute(purpose string) string {
	if in.has(purpose) {
		return fmt.Sprintf("POST /v1/%ss/%s/secrets/%s/rotate", in.ownerOf(purpose), in.ownerIDOf(purpose), purpose)
	}
	if in.Kind == KindProfile {
		return fmt.Sprintf("POST /v1/profiles {\"secrets\":{\"%s\":…}} (at creation) or POST /v1/profiles/%s/secrets/%s/rotate", purpose, in.ID, purpose)
	}
	return fmt.Sprintf("POST /v1/installations {\"secrets\":{\"%s\":…}} (at creation) or POST /v1/installations/%s/secrets/%s/rotate", purpose, in.ID, purpose)
}

func (in Input) has(purpose string) bool {
	for _, s := range in.Secrets {
		if s.Purpose == purpose {
			return true
		}
	}
	return false
}

func (in Input) ownerOf(purpose string) string {
	for _, s := range in.Secrets {
		if s.Purpose == purpose && s.Owner == KindInstallation {
			return KindInstallation
		}
	}
	for _, s := range in.Secrets {
		if s.Purpose == purpose {
			return s.Owner
		}
	}
	return in.Kind
}

func (in Input) ownerIDOf(purpose string) string {
	if in.ownerOf(purpose) == KindProfile && in.Kind == KindInstallation {
		return in.ProfileID
	}
	return in.ID
}

// Build assembles the packet of in: the provider's Spec plus warnings,
// rotation dates and the shared checklists. It is pure (in.Now is the clock).
func Build(in Input) (Packet, error) {
	mu.RLock()
	f, ok := funcs[in.Provider]
	mu.RUnlock()
	if !ok {
		return Packet{}, fmt.Errorf("setup: no packet for provider %q", in.Provider)
	}
	if in.Kind != KindInstallation && in.Kind != KindProfile {
		return Packet{}, fmt.Errorf("setup: kind %q is neither installation nor profile", in.Kind)
	}
	sp := f(in)
	p := Packet{Provider: in.Provider, Kind: in.Kind, ID: in.ID, Title: sp.Title, Warnings: []string{}, Steps: sp.Steps,
		PasteBack: sp.PasteBack, Data: sp.Data, Registration: sp.Registration, Rotation: []Rotation{}, Handoff: in.Handoff}
	if p.Steps == nil {
		p.Steps = []Step{}
	}
	if p.PasteBack == nil {
		p.PasteBack = []PasteBack{}
	}
	if p.Data == nil {
		p.Data = map[string]any{}
	}
	if in.WebhookPath != "" {
		p.WebhookURL = in.WebhookURL()
	}
	switch {
	case in.PublicURL == "":
		p.Warnings = append(p.Warnings, "serve runs without --public-url: replace "+PublicURLPlaceholder+" with the edge's public https base URL (or restart serve with --public-url)")
	case isLoopbackURL(in.PublicURL):
		p.Warnings = append(p.Warnings, "the public URL "+in.PublicURL+" is a loopback address: only this machine reaches it; providers need a public https URL (a tunnel or the production edge)")
	}
	if in.Kind == KindProfile && in.WebhookPath == "" {
		p.Warnings = append(p.Warnings, "an organisation's own app profile has no webhook URL of its own: each installation of it has one (GET /v1/installations/{id}/setup)")
	}
	p.Rotation = rotations(in, sp.Rotate)
	p.Checklists = checklists(in, sp, p.Rotation)
	return p, nil
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasPrefix(h, "127.") || h == "::1"
}

const day = "2006-01-02"

func rotations(in Input, how map[string]string) []Rotation {
	out := []Rotation{}
	for _, s := range in.Secrets {
		if s.NotAfter != nil {
			continue // a previous secret, already ending
		}
		h := how[s.Purpose]
		if h == "" {
			h = "generate a new value at the provider, store it with the rotate route, then retire the old one at the provider"
		}
		id := in.ID
		if s.Owner == KindProfile && in.Kind == KindInstallation {
			id = in.ProfileID
		}
		out = append(out, Rotation{Owner: s.Owner, Purpose: s.Purpose, Fingerprint: s.Fingerprint, Since: s.NotBefore.UTC().Format(day),
			RotateBy: s.NotBefore.Add(RotationInterval).UTC().Format(day), How: h,
			Route: fmt.Sprintf("POST /v1/%ss/%s/secrets/%s/rotate {\"value\":…,\"previous_valid_until\":…}", s.Owner, id, s.Purpose)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Owner != out[j].Owner {
			return out[i].Owner > out[j].Owner // installation before profile
		}
		return out[i].Purpose < out[j].Purpose
	})
	return out
}

func checklists(in Input, sp Spec, rot []Rotation) []Checklist {
	canary := Checklist{Name: "Canary validation", Items: []string{
		"Create a canary channel (e.g. #switchboard-canary) with only the people testing, and bind it: POST /v1/bindings {\"installation_id\":\"" + in.ID + "\",\"selector\":{\"channel\":\"<CANARY_CHANNEL_ID>\"},\"agent_id\":…}",
		"Dry-run the routing: POST /v1/simulate {\"installation_id\":\"" + in.ID + "\",\"event\":{\"channel\":\"<CANARY_CHANNEL_ID>\",\"text\":\"hello\"}} names the agent that will answer",
		"Send one message in the canary channel; the agent receives exactly one delivery",
		"The agent's reply appears in the canary channel (one outbound message)",
		"GET /v1/installations/" + in.ID + "/health shows every check ✓",
		"Record the time and channel in the handoff record (PUT /v1/installations/" + in.ID + "/handoff)",
	}}
	cutover := Checklist{Name: "Dev → prod cutover", Items: []string{
		"Use a separate app / bot per environment: never point the production provider app at a dev edge, or a dev app at production",
		"Never reuse dev secrets in production: create the production app, which has its own signing secret and tokens",
		"Connect the production app as its own profile and installation (this packet, from the production API)",
		"Validate in a canary channel (checklist above) before binding real channels",
		"Confirm the audit log (GET /v1/audit) shows installation.create and the secrets' fingerprints for the production installation, and no installation.platform_credentials (no platform fallback)",
		"Revoke the dev installation (POST /v1/installations/{dev id}/revoke) once production answers",
	}}
	rotItems := []string{}
	for _, r := range rot {
		rotItems = append(rotItems, fmt.Sprintf("%s %s (%s, since %s): rotate by %s: %s; %s", r.Owner, r.Purpose, r.Fingerprint, r.Since, r.RotateBy, r.How, r.Route))
	}
	if len(rotItems) == 0 {
		rotItems = append(rotItems, "No secret stored yet: store them first (paste back), then rotate every "+fmt.Sprint(int(RotationInterval.Hours()/24))+" days")
	}
	rotItems = append(rotItems, "previous_valid_until keeps the old secret valid at the edge while the provider switches (at most 30 days); end it once the provider uses the new one")
	handoff := Checklist{Name: "Agency handoff record", Items: []string{
		"Owner account of the provider app: " + orTodo(in.Handoff, func(h *Handoff) string { return h.OwnerAccount }),
		"URLs configured: " + strings.Join(sp.URLs, ", "),
		"Scopes approved: " + strings.Join(sp.Scopes, ", "),
		"Canary validation time and channel: " + orTodo(in.Handoff, func(h *Handoff) string {
			if h.CanaryValidatedAt == nil {
				return ""
			}
			return h.CanaryValidatedAt.UTC().Format(time.RFC3339) + " in " + h.CanaryChannel
		}),
		"Rotation owner and next date: " + orTodo(in.Handoff, func(h *Handoff) string {
			if h.RotationOwner == "" {
				return ""
			}
			return h.RotationOwner + ", " + h.NextRotation
		}),
		"Fill it with PUT /v1/installations/" + in.ID + "/handoff (audited as installation.handoff)",
	}}
	if in.Kind == KindProfile {
		handoff.Items[len(handoff.Items)-1] = "Fill it per installation: PUT /v1/installations/{id}/handoff (audited as installation.handoff)"
	}
	return []Checklist{canary, cutover, {Name: "Rotation", Items: rotItems}, handoff}
}

func orTodo(h *Handoff, f func(*Handoff) string) string {
	if h == nil {
		return "(not recorded)"
	}
	if v := f(h); v != "" {
		return v
	}
	return "(not recorded)"
}
