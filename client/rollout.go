package client

import (
	"context"
	"encoding/json"
	"time"
)

// Rollout is a provider's canary-first rollout: GET /v1/rollout/{provider}.
type Rollout struct {
	Provider      string          `json:"provider"`
	Stage         string          `json:"stage"`
	Unset         bool            `json:"unset,omitempty"`
	PreviousStage string          `json:"previous_stage,omitempty"`
	CanaryOrgs    []string        `json:"canary_orgs"`
	ProbeOrgs     []string        `json:"probe_orgs"`
	ChangedAt     *time.Time      `json:"changed_at,omitempty"`
	Gate          PromotionGate   `json:"promotion_gate"`
	Evidence      []Evidence      `json:"recent_evidence"`
	Analysis      *CanaryAnalysis `json:"analysis,omitempty"`
}

// PromotionGate says whether `promote` would be accepted now and, if not,
// what is missing.
type PromotionGate struct {
	Allowed  bool     `json:"allowed"`
	Missing  []string `json:"missing"`
	MatrixID string   `json:"matrix_id,omitempty"`
	LoadID   string   `json:"load_id,omitempty"`
	MaxAge   string   `json:"max_age"`
}

// CanaryAnalysis is the control plane's automatic analysis of a canary.
type CanaryAnalysis struct {
	Interval            string          `json:"interval"`
	FailureLimit        int             `json:"failure_limit"`
	ConsecutiveFailures int             `json:"consecutive_failures"`
	LastCheckAt         *time.Time      `json:"last_check_at,omitempty"`
	LastCheck           json.RawMessage `json:"last_check,omitempty"`
}

// Evidence is a recorded, signed matrix report or load-stage result.
type Evidence struct {
	ID         string    `json:"id"`
	Provider   string    `json:"provider"`
	Kind       string    `json:"kind"` // "matrix" or "load"
	Passed     bool      `json:"passed"`
	Stage      string    `json:"stage"`
	CanaryOrgs []string  `json:"canary_orgs"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      string    `json:"actor"`
	KeyID      string    `json:"key_id"`
	Signature  string    `json:"signature"` // base64 Ed25519 over Document
	Document   string    `json:"document,omitempty"`
	Problems   []string  `json:"problems,omitempty"` // (on creation) why it did not pass
}

// EvidenceKey is the control plane's evidence signing public key.
type EvidenceKey struct {
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"` // base64
}

// CanaryRequest puts a provider at canary with the named organisations.
type CanaryRequest struct {
	CanaryOrgs []string `json:"canary_orgs"`
	Reason     string   `json:"reason,omitempty"`
}

// PromoteRequest promotes canary → on (gated on evidence).
type PromoteRequest struct {
	Reason string `json:"reason,omitempty"`
}

// RollbackRequest rolls a provider back to its previous stage, or To.
type RollbackRequest struct {
	Reason string `json:"reason"`
	To     string `json:"to,omitempty"`
}

// EvidenceRequest records a report: Kind "matrix" or "load".
type EvidenceRequest struct {
	Kind   string `json:"kind"`
	Report any    `json:"report"`
}

// Probe is a probe organisation of a live matrix or load run.
type Probe struct {
	OrgID    string `json:"org_id"`
	Name     string `json:"name"`
	Provider string `json:"provider"`
}

// ListRollout: GET /v1/rollout.
func (c *Client) ListRollout(ctx context.Context) ([]Rollout, error) {
	return getList[Rollout](ctx, c, "/v1/rollout")
}

// GetRollout: GET /v1/rollout/{provider}.
func (c *Client) GetRollout(ctx context.Context, provider string) (Rollout, error) {
	var r Rollout
	return r, c.get(ctx, "/v1/rollout/"+seg(provider), &r)
}

// Canary: POST /v1/rollout/{provider}/canary.
func (c *Client) Canary(ctx context.Context, provider string, req CanaryRequest) (Rollout, error) {
	var r Rollout
	return r, c.post(ctx, "/v1/rollout/"+seg(provider)+"/canary", req, &r)
}

// Promote: POST /v1/rollout/{provider}/promote; a 409 names what is missing.
func (c *Client) Promote(ctx context.Context, provider string, req PromoteRequest) (Rollout, error) {
	var r Rollout
	return r, c.post(ctx, "/v1/rollout/"+seg(provider)+"/promote", req, &r)
}

// Rollback: POST /v1/rollout/{provider}/rollback.
func (c *Client) Rollback(ctx context.Context, provider string, req RollbackRequest) (Rollout, error) {
	var r Rollout
	return r, c.post(ctx, "/v1/rollout/"+seg(provider)+"/rollback", req, &r)
}

// RecordEvidence: POST /v1/rollout/{provider}/evidence.
func (c *Client) RecordEvidence(ctx context.Context, provider string, req EvidenceRequest) (Evidence, error) {
	var e Evidence
	return e, c.post(ctx, "/v1/rollout/"+seg(provider)+"/evidence", req, &e)
}

// ListEvidence: GET /v1/rollout/{provider}/evidence (newest first).
func (c *Client) ListEvidence(ctx context.Context, provider string) ([]Evidence, error) {
	return getList[Evidence](ctx, c, "/v1/rollout/"+seg(provider)+"/evidence")
}

// GetEvidence: GET /v1/rollout/{provider}/evidence/{id} (with its document).
func (c *Client) GetEvidence(ctx context.Context, provider, id string) (Evidence, error) {
	var e Evidence
	return e, c.get(ctx, "/v1/rollout/"+seg(provider)+"/evidence/"+seg(id), &e)
}

// GetEvidenceKey: GET /v1/rollout/evidence-key.
func (c *Client) GetEvidenceKey(ctx context.Context) (EvidenceKey, error) {
	var k EvidenceKey
	return k, c.get(ctx, "/v1/rollout/evidence-key", &k)
}

// CreateProbe: POST /v1/rollout/{provider}/probes.
func (c *Client) CreateProbe(ctx context.Context, provider, name string) (Probe, error) {
	var p Probe
	return p, c.post(ctx, "/v1/rollout/"+seg(provider)+"/probes", map[string]string{"name": name}, &p)
}

// RemoveProbe: POST /v1/rollout/{provider}/probes/{org}/remove (revoke the
// org first).
func (c *Client) RemoveProbe(ctx context.Context, provider, org string) error {
	return c.post(ctx, "/v1/rollout/"+seg(provider)+"/probes/"+seg(org)+"/remove", nil, nil)
}
