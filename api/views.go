package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/store"
)

// JSON shapes of the API. Secrets appear only as secretView (fingerprints).

type agencyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type orgView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	AgencyID  string     `json:"agency_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

type secretView struct {
	ID          string     `json:"id"`
	Purpose     string     `json:"purpose"`
	Fingerprint string     `json:"fingerprint"`
	NotBefore   time.Time  `json:"not_before"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

type profileView struct {
	ID            string       `json:"id"`
	Owner         string       `json:"owner"` // "platform" or "org"
	OrgID         string       `json:"org_id,omitempty"`
	Provider      string       `json:"provider"`
	Name          string       `json:"name"`
	ExternalAppID string       `json:"external_app_id,omitempty"`
	IngressID     string       `json:"ingress_id,omitempty"`   // platform profiles, platform admin only
	WebhookPath   string       `json:"webhook_path,omitempty"` // platform profiles, platform admin only
	WebhookURL    string       `json:"webhook_url,omitempty"`  // public URL + webhook_path (serve --public-url)
	Secrets       []secretView `json:"secrets"`
	CreatedAt     time.Time    `json:"created_at"`
	RevokedAt     *time.Time   `json:"revoked_at,omitempty"`
}

type installationView struct {
	ID                  string `json:"id"`
	OrgID               string `json:"org_id"`
	ProfileID           string `json:"profile_id"`
	Provider            string `json:"provider"`
	ExternalID          string `json:"external_id"`
	IngressID           string `json:"ingress_id"`
	WebhookPath         string `json:"webhook_path"`
	WebhookURL          string `json:"webhook_url,omitempty"` // public URL + webhook_path (serve --public-url)
	PlatformCredentials bool   `json:"platform_credentials"`
	// Settings are the provider settings given at creation (never secrets).
	Settings  map[string]string `json:"settings,omitempty"`
	Secrets   []secretView      `json:"secrets"`
	CreatedAt time.Time         `json:"created_at"`
	RevokedAt *time.Time        `json:"revoked_at,omitempty"`
	// When ingest first and last accepted a verified event of the
	// installation (GET /v1/installations/{id} only; absent: none yet).
	FirstAcceptedAt *time.Time `json:"first_accepted_at,omitempty"`
	LastAcceptedAt  *time.Time `json:"last_accepted_at,omitempty"`
}

type agentView struct {
	ID        string       `json:"id"`
	OrgID     string       `json:"org_id"`
	Name      string       `json:"name"`
	URL       string       `json:"url"`
	Secrets   []secretView `json:"secrets"`
	CreatedAt time.Time    `json:"created_at"`
	RevokedAt *time.Time   `json:"revoked_at,omitempty"`
	// SigningSecret is in the creation answer only (and only then).
	SigningSecret string `json:"signing_secret,omitempty"`
}

type bindingView struct {
	ID             string         `json:"id"`
	OrgID          string         `json:"org_id"`
	InstallationID string         `json:"installation_id"`
	Selector       store.Selector `json:"selector"`
	AgentID        string         `json:"agent_id"`
	Persona        string         `json:"persona"`
	Priority       int            `json:"priority"`
	CreatedAt      time.Time      `json:"created_at"`
	RevokedAt      *time.Time     `json:"revoked_at,omitempty"`
}

type stageView struct {
	Provider   string     `json:"provider"`
	Stage      string     `json:"stage"`
	CanaryOrgs []string   `json:"canary_orgs"`
	Unset      bool       `json:"unset"` // true: never set, so not served (stage "off")
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
}

type auditView struct {
	ID     int64           `json:"id"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	OrgID  string          `json:"org_id,omitempty"`
	Action string          `json:"action"`
	Target string          `json:"target"`
	Detail json.RawMessage `json:"detail"`
}

func viewAgency(a store.Agency) agencyView {
	return agencyView{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt, RevokedAt: a.RevokedAt}
}

func viewOrg(o store.Org) orgView {
	return orgView{ID: o.ID, Name: o.Name, AgencyID: o.AgencyID, CreatedAt: o.CreatedAt, RevokedAt: o.RevokedAt}
}

func viewSecrets(ss []store.Secret) []secretView {
	out := make([]secretView, 0, len(ss))
	for _, s := range ss {
		out = append(out, secretView{ID: s.ID, Purpose: s.Purpose, Fingerprint: s.Fingerprint, NotBefore: s.NotBefore, NotAfter: s.NotAfter, CreatedAt: s.CreatedAt})
	}
	return out
}

func (s *Server) secretsOf(ctx context.Context, q store.Queries, kind, id string) ([]secretView, error) {
	ss, err := q.ListSecrets(ctx, kind, id)
	if err != nil {
		return nil, fmt.Errorf("list secrets of %s %s: %w", kind, id, err)
	}
	return viewSecrets(ss), nil
}

func (s *Server) viewProfile(ctx context.Context, q store.Queries, p principal, pr store.AppProfile) (profileView, error) {
	v := profileView{ID: pr.ID, Owner: "org", OrgID: pr.OwnerOrgID, Provider: pr.Provider, Name: pr.Name,
		ExternalAppID: pr.ExternalAppID, Secrets: []secretView{}, CreatedAt: pr.CreatedAt, RevokedAt: pr.RevokedAt}
	if pr.OwnerOrgID == store.OwnerPlatform {
		v.Owner = "platform"
		// Tenants may see that a platform app exists (to install it), not its
		// shared ingress or its secrets' fingerprints.
		if p.Kind != store.TokenPlatform {
			return v, nil
		}
		v.IngressID = pr.IngressID
		if pr.IngressID != "" {
			v.WebhookPath = WebhookPath(pr.Provider, pr.IngressID)
			v.WebhookURL = s.webhookURL(v.WebhookPath)
		}
	}
	var err error
	v.Secrets, err = s.secretsOf(ctx, q, store.OwnerProfile, pr.ID)
	return v, err
}

func (s *Server) viewInstallation(ctx context.Context, q store.Queries, i store.Installation) (installationView, error) {
	sv, err := s.secretsOf(ctx, q, store.OwnerInstallation, i.ID)
	if err != nil {
		return installationView{}, err
	}
	var settings map[string]string
	if is, ok := q.(store.InstallationSettings); ok {
		if settings, err = is.GetInstallationSettings(ctx, i.ID); err != nil {
			return installationView{}, fmt.Errorf("settings of installation %s: %w", i.ID, err)
		}
		if len(settings) == 0 {
			settings = nil
		}
	}
	return installationView{ID: i.ID, OrgID: i.OrgID, ProfileID: i.ProfileID, Provider: i.Provider, ExternalID: i.ExternalID,
		IngressID: i.IngressID, WebhookPath: WebhookPath(i.Provider, i.IngressID),
		WebhookURL: s.webhookURL(WebhookPath(i.Provider, i.IngressID)), PlatformCredentials: i.PlatformCredentials,
		Settings: settings, Secrets: sv, CreatedAt: i.CreatedAt, RevokedAt: i.RevokedAt}, nil
}

func (s *Server) viewAgent(ctx context.Context, q store.Queries, a store.Agent) (agentView, error) {
	sv, err := s.secretsOf(ctx, q, store.OwnerAgent, a.ID)
	return agentView{ID: a.ID, OrgID: a.OrgID, Name: a.Name, URL: a.URL, Secrets: sv, CreatedAt: a.CreatedAt, RevokedAt: a.RevokedAt}, err
}

func viewBinding(b store.Binding) bindingView {
	return bindingView{ID: b.ID, OrgID: b.OrgID, InstallationID: b.InstallationID, Selector: b.Selector, AgentID: b.AgentID,
		Persona: b.Persona, Priority: b.Priority, CreatedAt: b.CreatedAt, RevokedAt: b.RevokedAt}
}

// list wraps a collection: {"items": [...]}.
type listView[T any] struct {
	Items []T `json:"items"`
}

func writeList[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, listView[T]{Items: items})
}

// checkText validates a human-readable field: required (unless optional),
// at most max runes, valid UTF-8 without control characters.
func checkText(field, v string, max int, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return fieldErr(field, "required")
	}
	if !utf8.ValidString(v) {
		return fieldErr(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return fieldErr(field, "must be at most %d characters, got %d", max, n)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fieldErr(field, "must not contain control characters")
		}
	}
	if strings.TrimSpace(v) != v {
		return fieldErr(field, "must not start or end with whitespace")
	}
	return nil
}

// checkToken validates an identifier-like field (provider-side ids): printable
// ASCII without whitespace.
func checkToken(field, v string, max int, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return fieldErr(field, "required")
	}
	if len(v) > max {
		return fieldErr(field, "must be at most %d characters", max)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return fieldErr(field, "must be printable ASCII without whitespace")
		}
	}
	return nil
}
