// Package store holds the binding store: organisations, agencies, app profiles,
// installations, sealed secrets, channel bindings, agents, rollout stages, audit
// events and API tokens. One interface, two backends (SQLite and PostgreSQL) that
// run the same test suite.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns (wrapped with context) so callers can map them to
// API answers without knowing the backend.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict") // unique constraint, e.g. duplicate ingress id
)

// OwnerPlatform is AppProfile.OwnerOrgID for profiles owned by the platform.
const OwnerPlatform = ""

type Agency struct {
	ID        string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

type Org struct {
	ID        string
	Name      string
	AgencyID  string // "" when the org is not managed by an agency
	CreatedAt time.Time
	RevokedAt *time.Time
}

// AppProfile is a provider app identity (Slack app, Meta app, Telegram bot,
// Discord application) with its signing material (kept as Secrets).
type AppProfile struct {
	ID            string
	OwnerOrgID    string // OwnerPlatform ("") for platform profiles
	Provider      string // slack, telegram, whatsapp, discord, twilio, line, github, standardwebhooks
	Name          string
	ExternalAppID string // Slack api_app_id, Meta app id, Discord application id, Telegram bot id
	IngressID     string // platform profiles receive shared traffic on their own ingress id; "" for org profiles
	CreatedAt     time.Time
	RevokedAt     *time.Time
}

// Installation is one tenant install of a profile with its own credentials.
type Installation struct {
	ID         string
	OrgID      string
	ProfileID  string
	Provider   string
	ExternalID string // Slack team id, WhatsApp phone_number_id, Discord guild id, Telegram bot id
	IngressID  string // unguessable, unique; path segment of /v1/hooks/<provider>/<ingress-id>
	// PlatformCredentials is the explicit, audited opt-in to send through the
	// platform profile's credentials. False means never.
	PlatformCredentials bool
	CreatedAt           time.Time
	RevokedAt           *time.Time
}

// Secret owner kinds.
const (
	OwnerProfile      = "profile"
	OwnerInstallation = "installation"
	OwnerAgent        = "agent"
)

// Secret purposes.
const (
	PurposeSigning     = "signing"      // HMAC signing secret / app secret / channel secret / auth token / whsec_
	PurposePublicKey   = "public_key"   // Discord application public key (hex)
	PurposeVerifyToken = "verify_token" // Meta GET handshake verify token
	PurposeSecretToken = "secret_token" // Telegram X-Telegram-Bot-Api-Secret-Token
	PurposeBotToken    = "bot_token"    // outbound credentials (Slack bot token, Telegram bot token, WhatsApp access token, Discord bot token)
)

// Secret is sealed material. Plaintext never enters the store: Ciphertext is the
// envelope produced by package secrets under master key KeyID.
type Secret struct {
	ID          string
	OwnerKind   string // OwnerProfile, OwnerInstallation, OwnerAgent
	OwnerID     string
	Purpose     string
	KeyID       string // master key id the envelope is wrapped with
	Ciphertext  []byte
	Fingerprint string // non-secret, for display and equality checks
	NotBefore   time.Time
	NotAfter    *time.Time // nil: valid until rotated; set on rotation to keep the previous secret valid until then
	CreatedAt   time.Time
}

// Selector picks the traffic a binding applies to. Empty fields match anything;
// more non-empty fields is more specific.
type Selector struct {
	Account string `json:"account,omitempty"` // team / workspace / business account / guild
	Channel string `json:"channel,omitempty"` // channel / conversation / chat id
	Peer    string `json:"peer,omitempty"`    // sender / user id
	Mention string `json:"mention,omitempty"` // agent mention keyword (e.g. "@support")
}

// Binding routes an installation's traffic to an agent with a persona.
type Binding struct {
	ID             string
	OrgID          string
	InstallationID string
	Selector       Selector
	AgentID        string
	Persona        string
	Priority       int
	CreatedAt      time.Time
	RevokedAt      *time.Time
}

// Agent is an org's HTTP endpoint that receives envelopes signed with the
// Standard Webhooks scheme (its signing secret is a Secret with OwnerAgent).
type Agent struct {
	ID        string
	OrgID     string
	Name      string
	URL       string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Rollout stages.
const (
	StageOff    = "off"
	StageCanary = "canary"
	StageOn     = "on"
)

// RolloutStage is a provider's stage. There is no implicit stage: a
// provider without a row is not served (see Served).
type RolloutStage struct {
	Provider   string
	Stage      string
	CanaryOrgs []string
	UpdatedAt  time.Time // last change of Stage or CanaryOrgs
	// PreviousStage is the stage before the last change ("" when none).
	PreviousStage string
	// ProbeOrgs are the probe organisations of the live matrix and load
	// runs: admitted like canary orgs while the stage is canary. Changing
	// them leaves UpdatedAt alone.
	ProbeOrgs []string
}

// Admits reports whether traffic of org is served at this stage.
func (s RolloutStage) Admits(org string) bool {
	switch s.Stage {
	case StageOn:
		return true
	case StageCanary:
		for _, o := range s.CanaryOrgs {
			if o == org {
				return true
			}
		}
		for _, o := range s.ProbeOrgs {
			if o == org {
				return true
			}
		}
	}
	return false
}

// Evidence kinds.
const (
	EvidenceMatrix = "matrix" // live failure-path matrix report
	EvidenceLoad   = "load"   // load-stage result
)

// Evidence is a recorded rollout report, signed by the control plane.
type Evidence struct {
	ID         string
	Provider   string
	Kind       string // EvidenceMatrix, EvidenceLoad
	Passed     bool
	Stage      string   // the provider's stage when it was recorded
	CanaryOrgs []string // the canary at that time
	RecordedAt time.Time
	Actor      string // token id that submitted it
	Report     string // JSON as submitted (plus what the control plane added)
	Signature  string // base64 Ed25519 signature of Report
	KeyID      string
}

type AuditEvent struct {
	ID     int64 // assigned by the store, strictly increasing
	At     time.Time
	Actor  string // token id or "system"
	OrgID  string // "" for platform-level events
	Action string // e.g. installation.create, secret.rotate, stage.set, webhook.reject, xds.nack
	Target string // id of the object acted on
	Detail string // JSON object, never a secret
}

// Token kinds.
const (
	TokenPlatform = "platform"
	TokenAgency   = "agency"
	TokenOrg      = "org"
)

type APIToken struct {
	ID        string
	Kind      string // TokenPlatform, TokenAgency, TokenOrg
	SubjectID string // agency id or org id; "" for platform
	Hash      []byte // SHA-256 of the bearer token; the token itself is never stored
	CreatedAt time.Time
	RevokedAt *time.Time
	ExpiresAt *time.Time // nil: never expires; the token is refused from then on
}

// Revocation is an uninstall or revocation a provider reported: the whole
// installation (Conversation "") or one conversation of it (the bot blocked
// or removed there).
type Revocation struct {
	InstallationID string
	Conversation   string // "" = the installation
	Reason         string // the provider's reason, e.g. "app_uninstalled", "my_chat_member.kicked"
	EventID        string // the provider's notification id ("" when none)
	RevokedAt      time.Time
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	OrgIDs  []string // nil: all orgs (platform admin)
	AfterID int64
	Limit   int
	Action  string // "": every action
}

// Queries is everything a transaction can do. Create* assign nothing: callers
// pass complete rows (IDs, timestamps) so the API controls identifiers.
type Queries interface {
	CreateAgency(ctx context.Context, a Agency) error
	GetAgency(ctx context.Context, id string) (Agency, error)
	ListAgencies(ctx context.Context) ([]Agency, error)
	RevokeAgency(ctx context.Context, id string, at time.Time) error

	CreateOrg(ctx context.Context, o Org) error
	GetOrg(ctx context.Context, id string) (Org, error)
	ListOrgs(ctx context.Context, agencyID string) ([]Org, error) // agencyID "" = all
	RevokeOrg(ctx context.Context, id string, at time.Time) error

	CreateProfile(ctx context.Context, p AppProfile) error
	GetProfile(ctx context.Context, id string) (AppProfile, error)
	ListProfiles(ctx context.Context, ownerOrgID *string) ([]AppProfile, error) // nil = all
	RevokeProfile(ctx context.Context, id string, at time.Time) error

	CreateInstallation(ctx context.Context, i Installation) error
	GetInstallation(ctx context.Context, id string) (Installation, error)
	GetInstallationByIngress(ctx context.Context, ingressID string) (Installation, error)
	// FindInstallation resolves an installation of a profile by provider-side id
	// (shared platform apps: Slack team id, WhatsApp phone_number_id, Discord guild id).
	FindInstallation(ctx context.Context, profileID, externalID string) (Installation, error)
	ListInstallations(ctx context.Context, orgID string) ([]Installation, error) // "" = all
	// ListLiveInstallations lists a profile's installations that are not
	// revoked, at most limit of them (a shared app's event that names no
	// tenant resolves only when there is exactly one).
	ListLiveInstallations(ctx context.Context, profileID string, limit int) ([]Installation, error)
	RevokeInstallation(ctx context.Context, id string, at time.Time) error
	// SetPlatformCredentials records the installation's explicit opt-in (or
	// opt-out) to send with the platform profile's credentials.
	SetPlatformCredentials(ctx context.Context, installationID string, enabled bool) error

	// PutRevocation records a provider-reported revocation; a second one for
	// the same installation and conversation keeps the first. It does not
	// revoke the installation itself (RevokeInstallation does) and, for a
	// conversation, leaves the generation alone (the edge does not see
	// conversations).
	PutRevocation(ctx context.Context, r Revocation) error
	// GetRevocation returns the revocation of the installation (conversation
	// "") or of one of its conversations; ErrNotFound when there is none.
	GetRevocation(ctx context.Context, installationID, conversation string) (Revocation, error)
	// DeleteRevocation lifts a conversation's revocation (the bot may talk
	// there again); ErrNotFound when there was none. An installation's own
	// revocation (conversation "") cannot be lifted.
	DeleteRevocation(ctx context.Context, installationID, conversation string) error

	CreateSecret(ctx context.Context, s Secret) error
	ListSecrets(ctx context.Context, ownerKind, ownerID string) ([]Secret, error)
	ListAllSecrets(ctx context.Context) ([]Secret, error)
	// ExpireSecrets sets NotAfter on the owner's secrets of purpose that have none
	// (the rotation step before the new secret is added).
	ExpireSecrets(ctx context.Context, ownerKind, ownerID, purpose string, notAfter time.Time) error
	UpdateSecretCiphertext(ctx context.Context, id, keyID string, ciphertext []byte) error

	CreateAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	ListAgents(ctx context.Context, orgID string) ([]Agent, error)
	RevokeAgent(ctx context.Context, id string, at time.Time) error

	CreateBinding(ctx context.Context, b Binding) error
	GetBinding(ctx context.Context, id string) (Binding, error)
	ListBindings(ctx context.Context, installationID string) ([]Binding, error) // "" = all
	ListOrgBindings(ctx context.Context, orgID string) ([]Binding, error)
	RevokeBinding(ctx context.Context, id string, at time.Time) error

	SetStage(ctx context.Context, s RolloutStage) error
	GetStage(ctx context.Context, provider string) (RolloutStage, error) // ErrNotFound when never set
	ListStages(ctx context.Context) ([]RolloutStage, error)

	CreateEvidence(ctx context.Context, e Evidence) error
	GetEvidence(ctx context.Context, id string) (Evidence, error)
	// ListEvidence: newest first; provider "" = all; limit <= 0 = no limit.
	ListEvidence(ctx context.Context, provider string, limit int) ([]Evidence, error)

	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	CreateToken(ctx context.Context, t APIToken) error
	GetToken(ctx context.Context, id string) (APIToken, error)
	GetTokenByHash(ctx context.Context, hash []byte) (APIToken, error)
	// ListTokens returns every token (revoked and expired too), oldest first.
	ListTokens(ctx context.Context) ([]APIToken, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// ExpireToken sets the token's expiry to at, unless it expires sooner already.
	ExpireToken(ctx context.Context, id string, at time.Time) error
}

// Store is a backend. Every method of Queries on Store runs in its own
// transaction; InTx runs fn in one transaction, committed only when fn returns nil.
type Store interface {
	Queries
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Generation is a number that grows with every committed mutation of the
	// configuration state; audit appends leave it alone (rejected webhooks are
	// audited at traffic rate). Replicas poll it to notice changes made through others.
	Generation(ctx context.Context) (int64, error)
	Close() error
}

// Import key kinds.
const (
	ImportProfile      = "profile"
	ImportInstallation = "installation"
	ImportAgent        = "agent"
	ImportBinding      = "binding"
)

// ImportKey records an object created by `switchboard import`: the key of
// the source row it came from (unique per org), so a rerun recognises it.
type ImportKey struct {
	OrgID     string
	Key       string
	Kind      string // ImportProfile, ImportInstallation, ImportAgent, ImportBinding
	ObjectID  string
	Digest    string // of the source row's non-secret content
	RunID     string
	CreatedAt time.Time
}

// ImportKeys is what an import needs of the store besides Queries; every
// Queries of the SQL backends implements it (assert with a type check).
type ImportKeys interface {
	// CreateImportKey fails with ErrConflict when the org already has the key.
	CreateImportKey(ctx context.Context, k ImportKey) error
	ListImportKeys(ctx context.Context, orgID string) ([]ImportKey, error)
}

// Handoff is the agency handoff record of an installation (a JSON object
// the API defines; never a secret).
type Handoff struct {
	InstallationID string
	Record         string // JSON object
	UpdatedAt      time.Time
	UpdatedBy      string // token id
}

// OAuthClient is the OAuth client id of an app profile (its client secret
// is a Secret of the profile with purpose PurposeClientSecret).
type OAuthClient struct {
	ProfileID string
	ClientID  string
	UpdatedAt time.Time
}

// PurposeClientSecret is an app profile's OAuth client secret (Slack, Discord).
const PurposeClientSecret = "client_secret"

// SetupRecords is what the setup routes need of the store besides Queries;
// every Queries of the SQL backends implements it (assert with a type check).
type SetupRecords interface {
	// PutHandoff creates or replaces an installation's handoff record.
	PutHandoff(ctx context.Context, h Handoff) error
	GetHandoff(ctx context.Context, installationID string) (Handoff, error) // ErrNotFound when none
	PutOAuthClient(ctx context.Context, c OAuthClient) error
	GetOAuthClient(ctx context.Context, profileID string) (OAuthClient, error) // ErrNotFound when none
	// UseOAuthState records a state's nonce as used; ErrConflict when it was
	// used before (a replay).
	UseOAuthState(ctx context.Context, nonce string, at, expiresAt time.Time) error
}

// Activity is when ingest accepted an installation's verified events: the
// first time ever and the latest recorded (ingest records at most one per
// installation every ActivityInterval, so LastAcceptedAt may lag by that much).
type Activity struct {
	InstallationID  string
	FirstAcceptedAt time.Time
	LastAcceptedAt  time.Time
}

// ActivityInterval is how often ingest records an installation's activity
// at most (per process).
const ActivityInterval = 30 * time.Second

// ActivityRecords is what ingest and the API need to note and show an
// installation's accepted events; every Queries of the SQL backends
// implements it (assert with a type check). It leaves the generation alone
// (no configuration changes; written at traffic rate).
type ActivityRecords interface {
	// RecordAccepted notes an accepted event of the installation at at.
	RecordAccepted(ctx context.Context, installationID string, at time.Time) error
	GetActivity(ctx context.Context, installationID string) (Activity, error) // ErrNotFound when none
}
