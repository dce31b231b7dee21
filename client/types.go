package client

import (
	"encoding/json"
	"strings"
	"time"
)

// Answers of the API (docs/api.md). Secrets are write-only: objects list
// their secrets' fingerprints (Secret), never values.

// Token is a bearer token: whoami, and the creation answer (Token holds the
// value only then).
type Token struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"` // "platform", "agency" or "org"
	SubjectID string     `json:"subject_id,omitempty"`
	Token     string     `json:"token,omitempty"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Rotation answer only: the token replaced and until when it works
	// (nil: revoked at once).
	Replaces           string     `json:"replaces,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// TokenInfo is a token's metadata (GET /v1/tokens, /v1/tokens/{id}): never
// the token or its hash.
type TokenInfo struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	SubjectID string     `json:"subject_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// The last rotation: the one that replaced this token (RotatedAt,
	// ReplacedBy), or the token a rotation created this one to replace.
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	ReplacedBy string     `json:"replaced_by,omitempty"`
	Replaces   string     `json:"replaces,omitempty"`
}

// Token kinds.
const (
	TokenPlatform = "platform"
	TokenAgency   = "agency"
	TokenOrg      = "org"
)

// RevokedToken answers a token's revocation.
type RevokedToken struct {
	ID      string `json:"id"`
	Revoked bool   `json:"revoked"`
}

// Agency is an agency serving client organisations.
type Agency struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Org is an organisation (a tenant).
type Org struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	AgencyID  string     `json:"agency_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// OrgLimits are an organisation's traffic limits (0: not set): the edge's
// per-org token bucket (RatePerSec, Burst) and the worker's per-org
// in-flight deliveries (MaxInFlight).
type OrgLimits struct {
	OrgID       string     `json:"org_id"`
	RatePerSec  int        `json:"rate_per_sec"`
	Burst       int        `json:"burst"`
	MaxInFlight int        `json:"max_in_flight"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

// Secret is a stored secret's public face: its fingerprint and validity.
type Secret struct {
	ID          string     `json:"id"`
	Purpose     string     `json:"purpose"`
	Fingerprint string     `json:"fingerprint"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Profile is a provider app: the platform's own ("platform") or an
// organisation's ("org").
type Profile struct {
	ID            string     `json:"id"`
	Owner         string     `json:"owner"`
	OrgID         string     `json:"org_id,omitempty"`
	Provider      string     `json:"provider"`
	Name          string     `json:"name"`
	ExternalAppID string     `json:"external_app_id,omitempty"`
	IngressID     string     `json:"ingress_id,omitempty"`
	WebhookPath   string     `json:"webhook_path,omitempty"`
	WebhookURL    string     `json:"webhook_url,omitempty"`
	Secrets       []Secret   `json:"secrets"`
	CreatedAt     time.Time  `json:"created_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

// Installation is one workspace / bot / number / guild of a profile.
type Installation struct {
	ID                  string     `json:"id"`
	OrgID               string     `json:"org_id"`
	ProfileID           string     `json:"profile_id"`
	Provider            string     `json:"provider"`
	ExternalID          string     `json:"external_id"`
	IngressID           string     `json:"ingress_id"`
	WebhookPath         string     `json:"webhook_path"`
	WebhookURL          string     `json:"webhook_url,omitempty"`
	PlatformCredentials bool       `json:"platform_credentials"`
	Secrets             []Secret   `json:"secrets"`
	CreatedAt           time.Time  `json:"created_at"`
	RevokedAt           *time.Time `json:"revoked_at,omitempty"`
	// When ingest first and last accepted a verified event of the
	// installation (nil: none yet).
	FirstAcceptedAt *time.Time `json:"first_accepted_at,omitempty"`
	LastAcceptedAt  *time.Time `json:"last_accepted_at,omitempty"`
}

// Agent is an HTTP endpoint events are delivered to. SigningSecret is set in
// the creation answer only.
type Agent struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"org_id"`
	Name          string     `json:"name"`
	URL           string     `json:"url"`
	Secrets       []Secret   `json:"secrets"`
	CreatedAt     time.Time  `json:"created_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	SigningSecret string     `json:"signing_secret,omitempty"`
}

// Selector chooses the traffic of a binding; empty fields match anything.
type Selector struct {
	Account string `json:"account,omitempty"`
	Channel string `json:"channel,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Mention string `json:"mention,omitempty"`
}

// String names the selector's set fields ("account=T1, channel=C1"), or
// "everything" when none is set.
func (s Selector) String() string {
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

// Binding routes an installation's traffic to an agent with a persona.
type Binding struct {
	ID             string     `json:"id"`
	OrgID          string     `json:"org_id"`
	InstallationID string     `json:"installation_id"`
	Selector       Selector   `json:"selector"`
	AgentID        string     `json:"agent_id"`
	Persona        string     `json:"persona"`
	Priority       int        `json:"priority"`
	CreatedAt      time.Time  `json:"created_at"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty"`
}

// Stage is a provider's rollout stage.
type Stage struct {
	Provider   string     `json:"provider"`
	Stage      string     `json:"stage"` // "off", "canary" or "on"
	CanaryOrgs []string   `json:"canary_orgs"`
	Unset      bool       `json:"unset"` // no stage recorded: not served (Stage "off")
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
}

// Rollout stages.
const (
	StageOff    = "off"
	StageCanary = "canary"
	StageOn     = "on"
)

// Rotation answers a secret rotation. Value is set only when the server
// generated the new secret (agent signing secrets): the one time it is shown.
type Rotation struct {
	OwnerKind          string    `json:"owner_kind"`
	OwnerID            string    `json:"owner_id"`
	Purpose            string    `json:"purpose"`
	Secret             Secret    `json:"secret"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
	Secrets            []Secret  `json:"secrets"`
	Value              string    `json:"value,omitempty"`
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	OrgID  string          `json:"org_id,omitempty"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

// AuditPage is one page of the audit log; pass NextAfter as After for the next.
type AuditPage struct {
	Items     []AuditEvent `json:"items"`
	NextAfter int64        `json:"next_after"`
}

// XDSStatus is the control plane's view of the edge configuration
// (platform admin): versions, connected nodes, recent rejections.
type XDSStatus struct {
	LatestVersion string            `json:"latest_version"`
	Generation    int64             `json:"generation"`
	LastError     string            `json:"last_error,omitempty"`
	Groups        map[string]string `json:"groups"`
	Pinned        map[string]string `json:"pinned"`
	Nodes         []XDSNode         `json:"nodes"`
	Rejections    []XDSRejection    `json:"rejections"`
}

// XDSNode is one connected edge node.
type XDSNode struct {
	ID       string `json:"id"`
	Group    string `json:"group"`
	Served   string `json:"served_version"`
	Acked    string `json:"acked_version"`
	Rejected string `json:"rejected_version,omitempty"`
}

// XDSRejection is a configuration a node refused (NACK).
type XDSRejection struct {
	At           time.Time `json:"at"`
	Node         string    `json:"node"`
	Group        string    `json:"group"`
	TypeURL      string    `json:"type_url"`
	Version      string    `json:"version"`
	AckedVersion string    `json:"acked_version"`
	Error        string    `json:"error"`
}

type list[T any] struct {
	Items []T `json:"items"`
}
