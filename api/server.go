// Package api is the binding API: HTTP/JSON under /v1 for agencies,
// organisations, app profiles, installations (with write-only secrets),
// agents, channel bindings, secret rotation, provider rollout stages, tokens
// and the audit log. Every mutation and its audit event commit in one store
// transaction; every read and write is scoped by the caller's bearer token.
package api

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Sealer seals secret material under the primary master key and computes the
// keyed fingerprint shown instead of it (implemented by *secrets.Keyring). The
// AAD is the secret's id.
type Sealer interface {
	Seal(plaintext []byte, aad string) (keyID string, ciphertext []byte, err error)
	Fingerprint(plaintext []byte) string
}

// Config wires a Server.
type Config struct {
	Store   store.Store
	Keyring Sealer
	Logger  *slog.Logger     // nil: slog.Default()
	Now     func() time.Time // nil: time.Now
	// PublicURL is the edge's public base URL (checked with ParsePublicURL);
	// answers carry webhook_url = PublicURL + webhook_path. "": none known.
	PublicURL string
	// APIURL is the binding API's public base URL (OAuth redirect URLs,
	// Add-to-Slack links); "": packets show a placeholder.
	APIURL string
	// AllowPrivateAgentURLs lets agent URLs name loopback, private and
	// link-local addresses (local development, tests, agents on a private
	// network you trust; the worker needs --allow-private-agent-urls too).
	AllowPrivateAgentURLs bool
	// ProviderAPIs are the provider APIs registration, health and OAuth call.
	ProviderAPIs ProviderAPIs
	// EdgeURL is where the health check sends its signed self-test (the
	// edge's base URL as this host reaches it); "": PublicURL.
	EdgeURL string
	// EvidenceKey signs rollout evidence (matrix reports, load results).
	EvidenceKey ed25519.PrivateKey
	// MaxEvidenceAge: how old evidence may be for a promotion (0: 24h).
	MaxEvidenceAge time.Duration
	// Version is the binary's version, written into signed evidence.
	Version string
	// Analysis reports the canary analysis of a provider (nil: none runs).
	Analysis func(provider string) *AnalysisState
}

// Server serves the binding API.
type Server struct {
	store store.Store
	keys  Sealer
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux

	publicURL             string
	apiURL                string
	allowPrivateAgentURLs bool
	patterns              []string // every pattern mounted, in order (Routes)

	providerAPIs ProviderAPIs
	edgeURL      string
	edgeView     func(ingressID string) []EdgeIngress
	evKey        ed25519.PrivateKey
	maxAge       time.Duration
	version      string
	analysis     func(provider string) *AnalysisState
}

// New builds a Server with every /v1 route mounted.
func New(cfg Config) *Server {
	s := &Server{store: cfg.Store, keys: cfg.Keyring, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux(), publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		apiURL:                strings.TrimRight(cfg.APIURL, "/"),
		allowPrivateAgentURLs: cfg.AllowPrivateAgentURLs, providerAPIs: cfg.ProviderAPIs,
		edgeURL: strings.TrimRight(cfg.EdgeURL, "/"),
		evKey:   cfg.EvidenceKey, maxAge: cfg.MaxEvidenceAge, version: cfg.Version, analysis: cfg.Analysis}
	if s.version == "" {
		s.version = "unknown"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.routes()
	return s
}

// Handler is the API's http.Handler: every route requires a bearer token.
func (s *Server) Handler() http.Handler { return s.mux }

// HandlePlatform mounts h at pattern (a ServeMux pattern such as
// "GET /v1/xds/status") behind platform-admin authentication.
func (s *Server) HandlePlatform(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.authed(func(w http.ResponseWriter, r *http.Request, p principal) error {
		if p.Kind != store.TokenPlatform {
			return forbidden("platform admin token required")
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, p.TokenID)))
		return nil
	}))
}

type actorKey struct{}

// ActorFrom is the token id of the caller of a handler mounted with
// HandlePlatform, for its audit events ("" outside such a handler).
func ActorFrom(ctx context.Context) string {
	id, _ := ctx.Value(actorKey{}).(string)
	return id
}

// WriteFieldError answers bad input of a mounted handler in the API's error
// format: 400 {"error":{"code":"invalid_field","field":...,"message":...}}.
func WriteFieldError(w http.ResponseWriter, field, message string) {
	writeJSON(w, http.StatusBadRequest, errorBody{Error: &apiError{Code: CodeInvalidField, Field: field, Message: message}})
}

// handlerFunc is an authenticated handler; a returned error is answered as JSON.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p principal) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.authed(h))
}

// Routes lists every ServeMux pattern mounted on the server (its own /v1
// routes and those added with HandlePlatform), in the order they were
// mounted; "/" is the catch-all that answers no_route.
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

func (s *Server) authed(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) routes() {
	s.handle("/", func(w http.ResponseWriter, r *http.Request, p principal) error {
		return &apiError{Status: http.StatusNotFound, Code: CodeMethodOrRoute, Message: "no route " + r.Method + " " + r.URL.Path}
	})
	s.handle("GET /v1/whoami", s.whoami)
	s.handle("POST /v1/tokens", s.createToken)
	s.handle("GET /v1/tokens", s.listTokens)
	s.handle("GET /v1/tokens/{id}", s.getToken)
	s.handle("POST /v1/tokens/{id}/revoke", s.revokeToken)
	s.handle("POST /v1/tokens/{id}/rotate", s.rotateToken)

	s.handle("POST /v1/agencies", s.createAgency)
	s.handle("GET /v1/agencies", s.listAgencies)
	s.handle("GET /v1/agencies/{id}", s.getAgency)
	s.handle("POST /v1/agencies/{id}/revoke", s.revokeAgency)

	s.handle("POST /v1/orgs", s.createOrg)
	s.handle("GET /v1/orgs", s.listOrgs)
	s.handle("GET /v1/orgs/{id}", s.getOrg)
	s.handle("POST /v1/orgs/{id}/revoke", s.revokeOrg)
	s.handle("GET /v1/orgs/{id}/limits", s.getOrgLimits)
	s.handle("PUT /v1/orgs/{id}/limits", s.putOrgLimits)

	s.handle("POST /v1/profiles", s.createProfile)
	s.handle("GET /v1/profiles", s.listProfiles)
	s.handle("GET /v1/profiles/{id}", s.getProfile)
	s.handle("POST /v1/profiles/{id}/revoke", s.revokeProfile)
	s.handle("POST /v1/profiles/{id}/secrets/{purpose}/rotate", s.rotateProfileSecret)
	s.handle("GET /v1/profiles/{id}/setup", s.profileSetup)
	s.handle("PUT /v1/profiles/{id}/oauth", s.putOAuthClient)
	s.handle("GET /v1/oauth/{provider}/start", s.oauthStart)
	// The provider sends the user's browser here: no bearer token, the
	// signed state says who started the install.
	s.patterns = append(s.patterns, "GET /v1/oauth/{provider}/callback")
	s.mux.HandleFunc("GET /v1/oauth/{provider}/callback", s.oauthCallback)

	s.handle("POST /v1/installations", s.createInstallation)
	s.handle("GET /v1/installations", s.listInstallations)
	s.handle("GET /v1/installations/{id}", s.getInstallation)
	s.handle("POST /v1/installations/{id}/revoke", s.revokeInstallation)
	s.handle("POST /v1/installations/{id}/secrets/{purpose}/rotate", s.rotateInstallationSecret)
	s.handle("PUT /v1/installations/{id}/platform-credentials", s.setPlatformCredentials)
	s.handle("GET /v1/installations/{id}/setup", s.installationSetup)
	s.handle("PUT /v1/installations/{id}/handoff", s.putHandoff)
	s.handle("POST /v1/installations/{id}/register", s.register)
	s.handle("GET /v1/installations/{id}/health", s.health)
	s.handle("GET /v1/installations/{id}/quarantine", s.quarantine)

	s.handle("POST /v1/agents", s.createAgent)
	s.handle("GET /v1/agents", s.listAgents)
	s.handle("GET /v1/agents/{id}", s.getAgent)
	s.handle("POST /v1/agents/{id}/revoke", s.revokeAgent)
	s.handle("POST /v1/agents/{id}/secrets/{purpose}/rotate", s.rotateAgentSecret)

	s.handle("POST /v1/bindings", s.createBinding)
	s.handle("GET /v1/bindings", s.listBindings)
	s.handle("GET /v1/bindings/{id}", s.getBinding)
	s.handle("POST /v1/bindings/{id}/revoke", s.revokeBinding)

	s.handle("GET /v1/providers", s.listStages)
	s.handle("GET /v1/providers/{provider}/stage", s.getStage)
	s.handle("PUT /v1/providers/{provider}/stage", s.setStage)

	s.handle("GET /v1/rollout", s.listRollout)
	s.handle("GET /v1/rollout/evidence-key", s.evidenceKey)
	s.handle("GET /v1/rollout/{provider}", s.getRollout)
	s.handle("POST /v1/rollout/{provider}/canary", s.rolloutCanary)
	s.handle("POST /v1/rollout/{provider}/promote", s.rolloutPromote)
	s.handle("POST /v1/rollout/{provider}/rollback", s.rolloutRollback)
	s.handle("POST /v1/rollout/{provider}/evidence", s.createEvidence)
	s.handle("GET /v1/rollout/{provider}/evidence", s.listEvidence)
	s.handle("GET /v1/rollout/{provider}/evidence/{id}", s.getEvidence)
	s.handle("POST /v1/rollout/{provider}/probes", s.createProbe)
	s.handle("POST /v1/rollout/{provider}/probes/{org}/remove", s.removeProbe)

	s.handle("GET /v1/audit", s.listAudit)

	s.handle("POST /v1/simulate", s.simulate)
}

// Identifiers (CONTRACTS.md): prefix + "_" + 26 lowercase base32 chars of 128
// random bits; ingress ids are 32 lowercase hex chars of 128 random bits.
var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

func newIngressID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WebhookPath is where a provider sends an installation's (or platform
// profile's) webhooks.
func WebhookPath(provider, ingressID string) string {
	return "/v1/hooks/" + provider + "/" + ingressID
}

// tx runs fn and its audit event in one store transaction.
func (s *Server) tx(ctx context.Context, fn func(q store.Queries) error) error {
	return s.store.InTx(ctx, fn)
}

// DecodeBody is the API's request decoding for handlers mounted with
// HandlePlatform: Content-Type, size, UTF-8, duplicate and case-variant keys,
// unknown fields and trailing data are checked as on every /v1 route. A
// refusal is answered with WriteBodyError.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any) error { return decode(w, r, v) }

// WriteBodyError answers a DecodeBody refusal in the API's error format.
func WriteBodyError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "body must be one JSON object"}
	}
	writeJSON(w, ae.Status, errorBody{Error: ae})
}
