package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Setup, simulation, registration and health (docs/api.md, "Setup,
// simulation, registration, health").

// SimulateRequest asks how ingest would route a payload for an
// installation: either Payload (the provider's body as it sends it: a JSON
// value, or a JSON string for form bodies with ContentType) or Event.
type SimulateRequest struct {
	InstallationID string          `json:"installation_id"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	ContentType    string          `json:"content_type,omitempty"`
	Event          *SimulateEvent  `json:"event,omitempty"`
}

// SimulateEvent describes an event instead of a provider payload.
type SimulateEvent struct {
	Account  string   `json:"account,omitempty"`
	Channel  string   `json:"channel,omitempty"`
	User     string   `json:"user,omitempty"`
	Thread   string   `json:"thread,omitempty"`
	Text     string   `json:"text,omitempty"`
	Mentions []string `json:"mentions,omitempty"`
}

// Simulation answers POST /v1/simulate. Nothing is written or enqueued.
type Simulation struct {
	InstallationID string           `json:"installation_id"`
	OrgID          string           `json:"org_id"`
	Provider       string           `json:"provider"`
	Stage          SimulatedStage   `json:"stage"`
	Handshake      bool             `json:"handshake"`
	Ignored        string           `json:"ignored,omitempty"`
	Events         []SimulatedEvent `json:"events"`
	Enqueued       bool             `json:"enqueued"`
}

// SimulatedStage says whether the provider's rollout stage lets the
// installation's organisation through.
type SimulatedStage struct {
	Stage       string `json:"stage"`
	LetsThrough bool   `json:"lets_through"`
	Reason      string `json:"reason"`
}

// SimulatedEvent is one event of the payload and how it would be routed.
type SimulatedEvent struct {
	Kind         string             `json:"kind,omitempty"`
	EventID      string             `json:"event_id,omitempty"`
	Account      string             `json:"account"`
	Conversation string             `json:"conversation"`
	Thread       string             `json:"thread,omitempty"`
	Sender       string             `json:"sender"`
	Text         string             `json:"text,omitempty"`
	Mentions     []string           `json:"mentions"`
	Refusal      string             `json:"refusal,omitempty"`
	Bindings     []SimulatedBinding `json:"bindings"` // every live binding, ranked
	Targets      []SimulatedTarget  `json:"targets"`
	Outcome      string             `json:"outcome"` // "delivered", "no_binding: …", the refusal
}

// SimulatedBinding is one live binding: whether it matched, why, and whether it won.
type SimulatedBinding struct {
	ID          string   `json:"id"`
	Selector    Selector `json:"selector"`
	AgentID     string   `json:"agent_id"`
	Persona     string   `json:"persona"`
	Priority    int      `json:"priority"`
	Specificity int      `json:"specificity"`
	Matched     bool     `json:"matched"`
	Why         string   `json:"why"`
	Won         bool     `json:"won"`
}

// SimulatedTarget is a delivery the event would get.
type SimulatedTarget struct {
	BindingID  string `json:"binding_id"`
	AgentID    string `json:"agent_id"`
	Persona    string `json:"persona"`
	SessionKey string `json:"session_key"`
	Why        string `json:"why"`
}

// Simulate: POST /v1/simulate.
func (c *Client) Simulate(ctx context.Context, r SimulateRequest) (Simulation, error) {
	var s Simulation
	return s, c.post(ctx, "/v1/simulate", r, &s)
}

// SetupPacket is what to enter at the provider, the values to paste back and
// the checklists (GET /v1/installations/{id}/setup, /v1/profiles/{id}/setup).
// It never holds a secret: placeholders name where one goes.
type SetupPacket struct {
	Provider     string          `json:"provider"`
	Kind         string          `json:"kind"` // "installation" or "profile"
	ID           string          `json:"id"`
	Title        string          `json:"title"`
	WebhookURL   string          `json:"webhook_url,omitempty"`
	Warnings     []string        `json:"warnings"`
	Steps        []SetupStep     `json:"steps"`
	PasteBack    []SetupPaste    `json:"paste_back"`
	Data         map[string]any  `json:"data"`
	Registration string          `json:"registration,omitempty"`
	Rotation     []SetupRotation `json:"rotation"`
	Checklists   []Checklist     `json:"checklists"`
	Handoff      *Handoff        `json:"handoff"`
}

// SetupStep is one thing to do at the provider.
type SetupStep struct {
	Title  string       `json:"title"`
	Text   string       `json:"text,omitempty"`
	Link   string       `json:"link,omitempty"`
	Fields []SetupField `json:"fields,omitempty"`
	Code   string       `json:"code,omitempty"`
}

// SetupField is a value to enter in a provider's form.
type SetupField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SetupPaste is a value to copy from the provider into Switchboard.
type SetupPaste struct {
	Purpose string `json:"purpose"`
	Label   string `json:"label"`
	Where   string `json:"where"`
	Route   string `json:"route"`
}

// SetupRotation is when and how a current secret should be rotated.
type SetupRotation struct {
	Owner       string `json:"owner"`
	Purpose     string `json:"purpose"`
	Fingerprint string `json:"fingerprint"`
	Since       string `json:"since"`
	RotateBy    string `json:"rotate_by"`
	How         string `json:"how"`
	Route       string `json:"route"`
}

// Checklist is a named list of checks.
type Checklist struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
}

// Handoff is an agency's handoff record of an installation (every field
// optional in PUT; UpdatedAt and UpdatedBy are set by the API).
type Handoff struct {
	OwnerAccount      string     `json:"owner_account,omitempty"`
	URLsConfigured    []string   `json:"urls_configured,omitempty"`
	ScopesApproved    []string   `json:"scopes_approved,omitempty"`
	CanaryValidatedAt *time.Time `json:"canary_validated_at,omitempty"`
	CanaryChannel     string     `json:"canary_channel,omitempty"`
	RotationOwner     string     `json:"rotation_owner,omitempty"`
	NextRotation      string     `json:"next_rotation,omitempty"` // YYYY-MM-DD
	UpdatedAt         *time.Time `json:"updated_at,omitempty"`
	UpdatedBy         string     `json:"updated_by,omitempty"`
}

type handoffBody struct {
	OwnerAccount      string     `json:"owner_account,omitempty"`
	URLsConfigured    []string   `json:"urls_configured,omitempty"`
	ScopesApproved    []string   `json:"scopes_approved,omitempty"`
	CanaryValidatedAt *time.Time `json:"canary_validated_at,omitempty"`
	CanaryChannel     string     `json:"canary_channel,omitempty"`
	RotationOwner     string     `json:"rotation_owner,omitempty"`
	NextRotation      string     `json:"next_rotation,omitempty"`
}

// InstallationSetup: GET /v1/installations/{id}/setup.
func (c *Client) InstallationSetup(ctx context.Context, id string) (SetupPacket, error) {
	var p SetupPacket
	return p, c.get(ctx, "/v1/installations/"+seg(id)+"/setup", &p)
}

// InstallationSetupMarkdown: GET /v1/installations/{id}/setup?format=markdown.
func (c *Client) InstallationSetupMarkdown(ctx context.Context, id string) (string, error) {
	var b []byte
	err := c.get(ctx, "/v1/installations/"+seg(id)+"/setup?format=markdown", &b)
	return string(b), err
}

// ProfileSetup: GET /v1/profiles/{id}/setup.
func (c *Client) ProfileSetup(ctx context.Context, id string) (SetupPacket, error) {
	var p SetupPacket
	return p, c.get(ctx, "/v1/profiles/"+seg(id)+"/setup", &p)
}

// ProfileSetupMarkdown: GET /v1/profiles/{id}/setup?format=markdown.
func (c *Client) ProfileSetupMarkdown(ctx context.Context, id string) (string, error) {
	var b []byte
	err := c.get(ctx, "/v1/profiles/"+seg(id)+"/setup?format=markdown", &b)
	return string(b), err
}

// SetHandoff records the agency handoff of an installation (audited):
// PUT /v1/installations/{id}/handoff.
func (c *Client) SetHandoff(ctx context.Context, id string, h Handoff) (Handoff, error) {
	var out Handoff
	body := handoffBody{OwnerAccount: h.OwnerAccount, URLsConfigured: h.URLsConfigured, ScopesApproved: h.ScopesApproved,
		CanaryValidatedAt: h.CanaryValidatedAt, CanaryChannel: h.CanaryChannel, RotationOwner: h.RotationOwner, NextRotation: h.NextRotation}
	return out, c.Do(ctx, http.MethodPut, "/v1/installations/"+seg(id)+"/handoff", body, &out)
}

// CodeProviderUnreachable: a provider's API gave no answer (502).
const CodeProviderUnreachable = "provider_unreachable"

// RegisterRequest holds the optional parameters of a registration:
// WABAID (WhatsApp business account to subscribe), PageID (Messenger /
// Instagram; default the installation's external id).
type RegisterRequest struct {
	WABAID string `json:"waba_id,omitempty"`
	PageID string `json:"page_id,omitempty"`
}

// Registration answers POST /v1/installations/{id}/register, also when the
// provider refused (OK false; the failed step's Detail is the provider's own
// description, secrets redacted).
type Registration struct {
	Provider string             `json:"provider"`
	OK       bool               `json:"ok"`
	Steps    []RegistrationStep `json:"steps"`
	Info     map[string]any     `json:"info"`
	Fix      string             `json:"fix,omitempty"`
}

// RegistrationStep is one call to the provider.
type RegistrationStep struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Register registers the installation's webhook at its provider with the
// installation's own credentials: POST /v1/installations/{id}/register.
func (c *Client) Register(ctx context.Context, id string, r RegisterRequest) (Registration, error) {
	var out Registration
	return out, c.post(ctx, "/v1/installations/"+seg(id)+"/register", r, &out)
}

// Health answers GET /v1/installations/{id}/health: every check, OK false
// when any failed.
type Health struct {
	InstallationID string        `json:"installation_id"`
	Provider       string        `json:"provider"`
	OK             bool          `json:"ok"`
	Checks         []HealthCheck `json:"checks"`
}

// Check statuses.
const (
	CheckPass = "pass"
	CheckFail = "fail"
	CheckSkip = "skip" // the check cannot apply (e.g. no such provider API)
)

// HealthCheck is one check: its status, what it found, and on fail the fix.
type HealthCheck struct {
	Name   string          `json:"name"`
	Status string          `json:"status"`
	OK     bool            `json:"ok"` // pass or skip
	Detail string          `json:"detail"`
	Fix    string          `json:"fix,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Health runs the installation's checks: GET /v1/installations/{id}/health.
func (c *Client) Health(ctx context.Context, id string) (Health, error) {
	var h Health
	return h, c.get(ctx, "/v1/installations/"+seg(id)+"/health", &h)
}

// Quarantine answers GET /v1/installations/{id}/quarantine: whether an
// edge answers the installation's ingress id 429 quarantined (a forged
// flood), from the ingress.quarantined audit events of the last 24 hours.
// It is also the data of the health check "quarantine".
type Quarantine struct {
	InstallationID string `json:"installation_id"`
	IngressID      string `json:"ingress_id"`
	Quarantined    bool   `json:"quarantined"`
	// Since and Until bound the quarantine in force (nil when none).
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	// RefusedPerMinute: refusals the edges reported in the minute before it
	// started (the one in force, else the latest), by reason in Reasons.
	RefusedPerMinute int64            `json:"refused_per_minute"`
	Reasons          map[string]int64 `json:"reasons,omitempty"`
	Edges            []string         `json:"edges,omitempty"`
	Quarantines      int64            `json:"quarantines_24h"`
	LastSince        *time.Time       `json:"last_since,omitempty"`
	LastUntil        *time.Time       `json:"last_until,omitempty"`
	Detail           string           `json:"detail"`
	Fix              string           `json:"fix,omitempty"`
}

// Quarantine reads the installation's quarantine state.
func (c *Client) Quarantine(ctx context.Context, id string) (Quarantine, error) {
	var q Quarantine
	return q, c.get(ctx, "/v1/installations/"+seg(id)+"/quarantine", &q)
}

// Quarantine is the data of the health check "quarantine" (false when the
// answer has no such check).
func (h Health) Quarantine() (Quarantine, bool) {
	for _, c := range h.Checks {
		if c.Name == "quarantine" {
			var q Quarantine
			if json.Unmarshal(c.Data, &q) == nil {
				return q, true
			}
		}
	}
	return Quarantine{}, false
}
