package client

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Requests of the API. Empty optional fields are left out of the body.

// CreateTokenRequest creates a bearer token of Kind for SubjectID (agency or
// org id; none for a platform token).
type CreateTokenRequest struct {
	Kind      string     `json:"kind"`
	SubjectID string     `json:"subject_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // nil: never expires
}

// RotateTokenRequest replaces a token with a new value. PreviousValidUntil
// nil revokes the previous token at once; otherwise it expires then.
// ExpiresAt nil keeps the previous token's expiry for the new one.
type RotateTokenRequest struct {
	ExpiresAt          *time.Time `json:"expires_at,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// CreateAgencyRequest creates an agency.
type CreateAgencyRequest struct {
	Name string `json:"name"`
}

// CreateOrgRequest creates an organisation (under AgencyID when set).
type CreateOrgRequest struct {
	Name     string `json:"name"`
	AgencyID string `json:"agency_id,omitempty"`
}

// CreateProfileRequest creates a provider app profile: an organisation's own
// (OrgID set) or a platform profile (OrgID empty, platform admin only).
// Secrets maps purpose to value (write-only).
type CreateProfileRequest struct {
	OrgID         string            `json:"org_id,omitempty"`
	Provider      string            `json:"provider"`
	Name          string            `json:"name"`
	ExternalAppID string            `json:"external_app_id,omitempty"`
	Secrets       map[string]string `json:"secrets,omitempty"`
}

// CreateInstallationRequest creates an installation of a profile.
type CreateInstallationRequest struct {
	OrgID               string            `json:"org_id"`
	ProfileID           string            `json:"profile_id"`
	Provider            string            `json:"provider,omitempty"`
	ExternalID          string            `json:"external_id"`
	Secrets             map[string]string `json:"secrets,omitempty"`
	PlatformCredentials bool              `json:"platform_credentials,omitempty"`
}

// SetOrgLimitsRequest replaces an organisation's limits; every field is
// sent (0: not set, the deployment's default applies).
type SetOrgLimitsRequest struct {
	RatePerSec  int `json:"rate_per_sec"`
	Burst       int `json:"burst"`
	MaxInFlight int `json:"max_in_flight"`
}

// PlatformCredentialsRequest opts an installation in or out of the
// platform's credentials (platform admin).
type PlatformCredentialsRequest struct {
	Enabled bool   `json:"enabled"`
	Reason  string `json:"reason"`
}

// CreateAgentRequest creates an agent; SigningSecret (whsec_…) is generated
// by the server when empty.
type CreateAgentRequest struct {
	OrgID         string `json:"org_id"`
	Name          string `json:"name"`
	URL           string `json:"url"`
	SigningSecret string `json:"signing_secret,omitempty"`
}

// CreateBindingRequest binds an installation's traffic to an agent.
type CreateBindingRequest struct {
	InstallationID string   `json:"installation_id"`
	Selector       Selector `json:"selector"`
	AgentID        string   `json:"agent_id"`
	Persona        string   `json:"persona,omitempty"`
	Priority       int      `json:"priority,omitempty"`
}

// RotateRequest adds a new secret of a purpose; the current ones stay valid
// until PreviousValidUntil (not in the past, at most 30 days ahead). Value
// may be empty for agent signing secrets (generated, returned once).
type RotateRequest struct {
	Value              string
	PreviousValidUntil time.Time
}

type rotateBody struct {
	Value              string `json:"value,omitempty"`
	PreviousValidUntil string `json:"previous_valid_until"`
}

func (r RotateRequest) body() rotateBody {
	b := rotateBody{Value: r.Value}
	if !r.PreviousValidUntil.IsZero() {
		b.PreviousValidUntil = r.PreviousValidUntil.UTC().Format(time.RFC3339)
	}
	return b
}

// SetStageRequest sets a provider's rollout stage (platform admin);
// CanaryOrgs only with StageCanary.
type SetStageRequest struct {
	Stage      string   `json:"stage"`
	CanaryOrgs []string `json:"canary_orgs,omitempty"`
}

// AuditQuery filters and pages the audit log.
type AuditQuery struct {
	OrgID string
	After int64 // event id; 0: from the start
	Limit int   // 1–1000; 0: the server's default (100)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	return c.Do(ctx, http.MethodPost, path, body, out)
}

func getList[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var l list[T]
	if err := c.get(ctx, path, &l); err != nil {
		return nil, err
	}
	if l.Items == nil {
		l.Items = []T{}
	}
	return l.Items, nil
}

// Whoami is the calling token: GET /v1/whoami.
func (c *Client) Whoami(ctx context.Context) (Token, error) {
	var t Token
	return t, c.get(ctx, "/v1/whoami", &t)
}

// ListTokens lists the metadata of the tokens the caller may see: GET /v1/tokens.
func (c *Client) ListTokens(ctx context.Context) ([]TokenInfo, error) {
	return getList[TokenInfo](ctx, c, "/v1/tokens")
}

// GetToken shows one token's metadata: GET /v1/tokens/{id}.
func (c *Client) GetToken(ctx context.Context, id string) (TokenInfo, error) {
	var t TokenInfo
	return t, c.get(ctx, "/v1/tokens/"+seg(id), &t)
}

// CreateToken creates a bearer token (its value is in the answer, once):
// POST /v1/tokens.
func (c *Client) CreateToken(ctx context.Context, r CreateTokenRequest) (Token, error) {
	var t Token
	return t, c.post(ctx, "/v1/tokens", r, &t)
}

// RotateToken replaces a token by a new one of the same kind and subject
// (its value is in the answer, once): POST /v1/tokens/{id}/rotate.
func (c *Client) RotateToken(ctx context.Context, id string, r RotateTokenRequest) (Token, error) {
	var t Token
	return t, c.post(ctx, "/v1/tokens/"+seg(id)+"/rotate", r, &t)
}

// RevokeToken revokes a token: POST /v1/tokens/{id}/revoke.
func (c *Client) RevokeToken(ctx context.Context, id string) (RevokedToken, error) {
	var t RevokedToken
	return t, c.post(ctx, "/v1/tokens/"+seg(id)+"/revoke", nil, &t)
}

// CreateAgency: POST /v1/agencies.
func (c *Client) CreateAgency(ctx context.Context, r CreateAgencyRequest) (Agency, error) {
	var a Agency
	return a, c.post(ctx, "/v1/agencies", r, &a)
}

// ListAgencies: GET /v1/agencies.
func (c *Client) ListAgencies(ctx context.Context) ([]Agency, error) {
	return getList[Agency](ctx, c, "/v1/agencies")
}

// GetAgency: GET /v1/agencies/{id}.
func (c *Client) GetAgency(ctx context.Context, id string) (Agency, error) {
	var a Agency
	return a, c.get(ctx, "/v1/agencies/"+seg(id), &a)
}

// RevokeAgency: POST /v1/agencies/{id}/revoke.
func (c *Client) RevokeAgency(ctx context.Context, id string) (Agency, error) {
	var a Agency
	return a, c.post(ctx, "/v1/agencies/"+seg(id)+"/revoke", nil, &a)
}

// CreateOrg: POST /v1/orgs.
func (c *Client) CreateOrg(ctx context.Context, r CreateOrgRequest) (Org, error) {
	var o Org
	return o, c.post(ctx, "/v1/orgs", r, &o)
}

// ListOrgs: GET /v1/orgs[?agency_id=].
func (c *Client) ListOrgs(ctx context.Context, agencyID string) ([]Org, error) {
	return getList[Org](ctx, c, "/v1/orgs"+query("agency_id", agencyID))
}

// GetOrg: GET /v1/orgs/{id}.
func (c *Client) GetOrg(ctx context.Context, id string) (Org, error) {
	var o Org
	return o, c.get(ctx, "/v1/orgs/"+seg(id), &o)
}

// RevokeOrg revokes an organisation and everything in it: POST /v1/orgs/{id}/revoke.
func (c *Client) RevokeOrg(ctx context.Context, id string) (Org, error) {
	var o Org
	return o, c.post(ctx, "/v1/orgs/"+seg(id)+"/revoke", nil, &o)
}

// GetOrgLimits reads an organisation's limits: GET /v1/orgs/{id}/limits.
func (c *Client) GetOrgLimits(ctx context.Context, id string) (OrgLimits, error) {
	var l OrgLimits
	return l, c.get(ctx, "/v1/orgs/"+seg(id)+"/limits", &l)
}

// SetOrgLimits replaces an organisation's limits (platform admin):
// PUT /v1/orgs/{id}/limits.
func (c *Client) SetOrgLimits(ctx context.Context, id string, r SetOrgLimitsRequest) (OrgLimits, error) {
	var l OrgLimits
	return l, c.Do(ctx, http.MethodPut, "/v1/orgs/"+seg(id)+"/limits", r, &l)
}

// CreateProfile: POST /v1/profiles.
func (c *Client) CreateProfile(ctx context.Context, r CreateProfileRequest) (Profile, error) {
	var p Profile
	return p, c.post(ctx, "/v1/profiles", r, &p)
}

// ProfilesOfPlatform is the org filter of ListProfiles for platform profiles.
const ProfilesOfPlatform = "platform"

// ListProfiles: GET /v1/profiles[?org_id=ID|platform].
func (c *Client) ListProfiles(ctx context.Context, orgID string) ([]Profile, error) {
	return getList[Profile](ctx, c, "/v1/profiles"+query("org_id", orgID))
}

// GetProfile: GET /v1/profiles/{id}.
func (c *Client) GetProfile(ctx context.Context, id string) (Profile, error) {
	var p Profile
	return p, c.get(ctx, "/v1/profiles/"+seg(id), &p)
}

// RevokeProfile revokes a profile and its installations: POST /v1/profiles/{id}/revoke.
func (c *Client) RevokeProfile(ctx context.Context, id string) (Profile, error) {
	var p Profile
	return p, c.post(ctx, "/v1/profiles/"+seg(id)+"/revoke", nil, &p)
}

// RotateProfileSecret: POST /v1/profiles/{id}/secrets/{purpose}/rotate.
func (c *Client) RotateProfileSecret(ctx context.Context, id, purpose string, r RotateRequest) (Rotation, error) {
	var rot Rotation
	return rot, c.post(ctx, "/v1/profiles/"+seg(id)+"/secrets/"+seg(purpose)+"/rotate", r.body(), &rot)
}

// CreateInstallation: POST /v1/installations.
func (c *Client) CreateInstallation(ctx context.Context, r CreateInstallationRequest) (Installation, error) {
	var i Installation
	return i, c.post(ctx, "/v1/installations", r, &i)
}

// ListInstallations: GET /v1/installations[?org_id=].
func (c *Client) ListInstallations(ctx context.Context, orgID string) ([]Installation, error) {
	return getList[Installation](ctx, c, "/v1/installations"+query("org_id", orgID))
}

// GetInstallation: GET /v1/installations/{id}.
func (c *Client) GetInstallation(ctx context.Context, id string) (Installation, error) {
	var i Installation
	return i, c.get(ctx, "/v1/installations/"+seg(id), &i)
}

// RevokeInstallation: POST /v1/installations/{id}/revoke.
func (c *Client) RevokeInstallation(ctx context.Context, id string) (Installation, error) {
	var i Installation
	return i, c.post(ctx, "/v1/installations/"+seg(id)+"/revoke", nil, &i)
}

// RotateInstallationSecret: POST /v1/installations/{id}/secrets/{purpose}/rotate.
func (c *Client) RotateInstallationSecret(ctx context.Context, id, purpose string, r RotateRequest) (Rotation, error) {
	var rot Rotation
	return rot, c.post(ctx, "/v1/installations/"+seg(id)+"/secrets/"+seg(purpose)+"/rotate", r.body(), &rot)
}

// SetPlatformCredentials: PUT /v1/installations/{id}/platform-credentials.
func (c *Client) SetPlatformCredentials(ctx context.Context, id string, r PlatformCredentialsRequest) (Installation, error) {
	var i Installation
	return i, c.Do(ctx, http.MethodPut, "/v1/installations/"+seg(id)+"/platform-credentials", r, &i)
}

// CreateAgent: POST /v1/agents (the answer holds the signing secret, once).
func (c *Client) CreateAgent(ctx context.Context, r CreateAgentRequest) (Agent, error) {
	var a Agent
	return a, c.post(ctx, "/v1/agents", r, &a)
}

// ListAgents: GET /v1/agents[?org_id=].
func (c *Client) ListAgents(ctx context.Context, orgID string) ([]Agent, error) {
	return getList[Agent](ctx, c, "/v1/agents"+query("org_id", orgID))
}

// GetAgent: GET /v1/agents/{id}.
func (c *Client) GetAgent(ctx context.Context, id string) (Agent, error) {
	var a Agent
	return a, c.get(ctx, "/v1/agents/"+seg(id), &a)
}

// RevokeAgent revokes an agent and its bindings: POST /v1/agents/{id}/revoke.
func (c *Client) RevokeAgent(ctx context.Context, id string) (Agent, error) {
	var a Agent
	return a, c.post(ctx, "/v1/agents/"+seg(id)+"/revoke", nil, &a)
}

// RotateAgentSecret: POST /v1/agents/{id}/secrets/{purpose}/rotate (purpose
// "signing"; an empty Value is generated and returned once).
func (c *Client) RotateAgentSecret(ctx context.Context, id, purpose string, r RotateRequest) (Rotation, error) {
	var rot Rotation
	return rot, c.post(ctx, "/v1/agents/"+seg(id)+"/secrets/"+seg(purpose)+"/rotate", r.body(), &rot)
}

// CreateBinding: POST /v1/bindings.
func (c *Client) CreateBinding(ctx context.Context, r CreateBindingRequest) (Binding, error) {
	var b Binding
	return b, c.post(ctx, "/v1/bindings", r, &b)
}

// BindingFilter narrows ListBindings (at most one field set).
type BindingFilter struct {
	InstallationID string
	OrgID          string
}

// ListBindings: GET /v1/bindings[?installation_id=|?org_id=].
func (c *Client) ListBindings(ctx context.Context, f BindingFilter) ([]Binding, error) {
	return getList[Binding](ctx, c, "/v1/bindings"+query("installation_id", f.InstallationID, "org_id", f.OrgID))
}

// GetBinding: GET /v1/bindings/{id}.
func (c *Client) GetBinding(ctx context.Context, id string) (Binding, error) {
	var b Binding
	return b, c.get(ctx, "/v1/bindings/"+seg(id), &b)
}

// RevokeBinding: POST /v1/bindings/{id}/revoke.
func (c *Client) RevokeBinding(ctx context.Context, id string) (Binding, error) {
	var b Binding
	return b, c.post(ctx, "/v1/bindings/"+seg(id)+"/revoke", nil, &b)
}

// ListStages is every provider's rollout stage: GET /v1/providers.
func (c *Client) ListStages(ctx context.Context) ([]Stage, error) {
	return getList[Stage](ctx, c, "/v1/providers")
}

// GetStage: GET /v1/providers/{provider}/stage.
func (c *Client) GetStage(ctx context.Context, provider string) (Stage, error) {
	var s Stage
	return s, c.get(ctx, "/v1/providers/"+seg(provider)+"/stage", &s)
}

// SetStage: PUT /v1/providers/{provider}/stage (platform admin).
func (c *Client) SetStage(ctx context.Context, provider string, r SetStageRequest) (Stage, error) {
	var s Stage
	return s, c.Do(ctx, http.MethodPut, "/v1/providers/"+seg(provider)+"/stage", r, &s)
}

// Audit is one page of the audit log: GET /v1/audit?org_id=&after=&limit=.
func (c *Client) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	var after, limit string
	if q.After > 0 {
		after = strconv.FormatInt(q.After, 10)
	}
	if q.Limit > 0 {
		limit = strconv.Itoa(q.Limit)
	}
	var p AuditPage
	if err := c.get(ctx, "/v1/audit"+query("org_id", q.OrgID, "after", after, "limit", limit), &p); err != nil {
		return p, err
	}
	if p.Items == nil {
		p.Items = []AuditEvent{}
	}
	return p, nil
}

// XDSStatus is the edge configuration's status (platform admin): GET /v1/xds/status.
func (c *Client) XDSStatus(ctx context.Context) (XDSStatus, error) {
	var s XDSStatus
	return s, c.get(ctx, "/v1/xds/status", &s)
}

// SetGroupVersion pins a node group ("stable", "canary") to a built version,
// or lets it follow the latest (version ""): PUT /v1/xds/groups/{group}.
func (c *Client) SetGroupVersion(ctx context.Context, group, version string) (XDSStatus, error) {
	var s XDSStatus
	return s, c.Do(ctx, http.MethodPut, "/v1/xds/groups/"+seg(group), map[string]string{"version": version}, &s)
}
