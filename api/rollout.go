package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/store"
)

// Canary-first rollout: /v1/rollout/{provider} shows a provider's stage,
// canary, probes, evidence and what a promotion still needs; canary,
// promote (gated on evidence) and rollback change the stage; evidence is
// stored signed by the control plane. Every route is the platform admin's.

// EvidenceKeyID names an Ed25519 public key: "ed25519:" + 16 hex chars of
// its SHA-256.
func EvidenceKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// AnalysisState is what the canary analyser reports of a provider for the
// status view (nil: no analysis runs for it).
type AnalysisState struct {
	Interval            string         `json:"interval"`
	FailureLimit        int            `json:"failure_limit"`
	ConsecutiveFailures int            `json:"consecutive_failures"`
	LastCheckAt         *time.Time     `json:"last_check_at,omitempty"`
	LastCheck           *rollout.Check `json:"last_check,omitempty"`
	// HeldForProbes: a matrix or load run's probe organisations are
	// present, so checks are held (their forged traffic is refused by design).
	HeldForProbes bool `json:"held_for_probes,omitempty"`
}

type rolloutView struct {
	Provider      string         `json:"provider"`
	Stage         string         `json:"stage"`
	Unset         bool           `json:"unset,omitempty"` // no stage recorded: not served
	PreviousStage string         `json:"previous_stage,omitempty"`
	CanaryOrgs    []string       `json:"canary_orgs"`
	ProbeOrgs     []string       `json:"probe_orgs"`
	ChangedAt     *time.Time     `json:"changed_at,omitempty"`
	Gate          gateView       `json:"promotion_gate"`
	Evidence      []evidenceView `json:"recent_evidence"`
	Analysis      *AnalysisState `json:"analysis,omitempty"`
}

type gateView struct {
	Allowed  bool     `json:"allowed"`
	Missing  []string `json:"missing"`
	MatrixID string   `json:"matrix_id,omitempty"`
	LoadID   string   `json:"load_id,omitempty"`
	MaxAge   string   `json:"max_age"`
}

type evidenceView struct {
	ID         string    `json:"id"`
	Provider   string    `json:"provider"`
	Kind       string    `json:"kind"`
	Passed     bool      `json:"passed"`
	Stage      string    `json:"stage"`
	CanaryOrgs []string  `json:"canary_orgs"`
	RecordedAt time.Time `json:"recorded_at"`
	Actor      string    `json:"actor"`
	KeyID      string    `json:"key_id"`
	Signature  string    `json:"signature"`
	// Document is the signed JSON text (verify the signature over its
	// exact bytes with the key of GET /v1/rollout/evidence-key).
	Document string `json:"document,omitempty"`
}

// signedEvidence is the document the control plane signs.
type signedEvidence struct {
	ID                  string          `json:"id"`
	Provider            string          `json:"provider"`
	Kind                string          `json:"kind"`
	Passed              bool            `json:"passed"`
	Problems            []string        `json:"problems"`
	Stage               string          `json:"stage"`
	CanaryOrgs          []string        `json:"canary_orgs"`
	StageChangedAt      *time.Time      `json:"stage_changed_at,omitempty"`
	RecordedAt          time.Time       `json:"recorded_at"`
	Actor               string          `json:"actor"`
	ControlPlaneVersion string          `json:"control_plane_version"`
	Report              json.RawMessage `json:"report"`
}

func viewEvidence(e store.Evidence, withDoc bool) evidenceView {
	v := evidenceView{ID: e.ID, Provider: e.Provider, Kind: e.Kind, Passed: e.Passed, Stage: e.Stage, CanaryOrgs: e.CanaryOrgs,
		RecordedAt: e.RecordedAt, Actor: e.Actor, KeyID: e.KeyID, Signature: e.Signature}
	if v.CanaryOrgs == nil {
		v.CanaryOrgs = []string{}
	}
	if withDoc {
		v.Document = e.Report
	}
	return v
}

func (s *Server) maxEvidenceAge() time.Duration {
	if s.maxAge > 0 {
		return s.maxAge
	}
	return rollout.DefaultMaxAge
}

// loadStage reads provider's stage; ok is false when none was ever set.
func loadStage(ctx context.Context, q store.Queries, provider string) (store.RolloutStage, bool, error) {
	st, err := q.GetStage(ctx, provider)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.RolloutStage{Provider: provider}, false, nil
	case err != nil:
		return st, false, fmt.Errorf("get stage %s: %w", provider, err)
	}
	return st, true, nil
}

// gate evaluates the promotion gate of st over the provider's evidence.
func (s *Server) gate(ctx context.Context, q store.Queries, st store.RolloutStage) (rollout.Decision, error) {
	evs, err := q.ListEvidence(ctx, st.Provider, 500)
	if err != nil {
		return rollout.Decision{}, fmt.Errorf("list evidence %s: %w", st.Provider, err)
	}
	in := make([]rollout.Evidence, 0, len(evs))
	for _, e := range evs {
		in = append(in, rollout.Evidence{ID: e.ID, Provider: e.Provider, Kind: e.Kind, Passed: e.Passed, Stage: e.Stage, RecordedAt: e.RecordedAt})
	}
	return rollout.Gate(rollout.Stage{Provider: st.Provider, Stage: st.Stage, CanaryOrgs: st.CanaryOrgs, ChangedAt: st.UpdatedAt},
		in, s.now().UTC(), s.maxEvidenceAge()), nil
}

func (s *Server) rolloutView(ctx context.Context, provider string) (rolloutView, error) {
	st, ok, err := loadStage(ctx, s.store, provider)
	if err != nil {
		return rolloutView{}, err
	}
	v := rolloutView{Provider: provider, Stage: st.Stage, PreviousStage: st.PreviousStage, CanaryOrgs: nonNil(st.CanaryOrgs), ProbeOrgs: nonNil(st.ProbeOrgs)}
	if !ok {
		v.Stage, v.Unset = store.StageOff, true
	} else {
		t := st.UpdatedAt
		v.ChangedAt = &t
	}
	d, err := s.gate(ctx, s.store, st)
	if err != nil {
		return v, err
	}
	v.Gate = gateView{Allowed: d.Allowed, Missing: nonNil(d.Missing), MatrixID: d.MatrixID, LoadID: d.LoadID, MaxAge: s.maxEvidenceAge().String()}
	evs, err := s.store.ListEvidence(ctx, provider, 5)
	if err != nil {
		return v, fmt.Errorf("list evidence %s: %w", provider, err)
	}
	v.Evidence = []evidenceView{}
	for _, e := range evs {
		v.Evidence = append(v.Evidence, viewEvidence(e, false))
	}
	if s.analysis != nil {
		v.Analysis = s.analysis(provider)
	}
	return v, nil
}

func (s *Server) listRollout(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requirePlatform(p); err != nil {
		return err
	}
	out := make([]rolloutView, 0, len(Providers))
	for _, pr := range Providers {
		v, err := s.rolloutView(r.Context(), pr)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeList(w, out)
	return nil
}

func rolloutProvider(r *http.Request, p principal) (string, error) {
	if err := requirePlatform(p); err != nil {
		return "", forbidden("only the platform admin manages provider rollout")
	}
	provider := r.PathValue("provider")
	if !knownProvider(provider) {
		return "", notFound("provider", provider)
	}
	return provider, nil
}

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	v, err := s.rolloutView(r.Context(), provider)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// setRolloutStage writes provider's new stage in q and audits action with
// detail (the previous stage and canary are added).
func (s *Server) setRolloutStage(ctx context.Context, q store.Queries, actor string, old store.RolloutStage, had bool, stage string, orgs []string, action string, detail map[string]any) (store.RolloutStage, error) {
	prev := old.Stage
	if !had {
		prev = ""
	}
	next := store.RolloutStage{Provider: old.Provider, Stage: stage, CanaryOrgs: orgs, PreviousStage: prev, ProbeOrgs: old.ProbeOrgs, UpdatedAt: s.now().UTC()}
	if next.CanaryOrgs == nil {
		next.CanaryOrgs = old.CanaryOrgs
	}
	if err := q.SetStage(ctx, next); err != nil {
		return next, storeErr(err, "set stage")
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["stage"] = stage
	detail["previous"] = prev
	detail["canary_orgs"] = nonNil(next.CanaryOrgs)
	if !slices.Equal(old.CanaryOrgs, next.CanaryOrgs) && had {
		detail["previous_canary_orgs"] = nonNil(old.CanaryOrgs)
	}
	if err := s.audit(ctx, q, actor, "", action, old.Provider, detail); err != nil {
		return next, err
	}
	return next, nil
}

func checkReason(field, v string, required bool) error {
	if v == "" && required {
		return fieldErr(field, "required: say why (it is audited)")
	}
	return checkText(field, v, 500, true)
}

func (s *Server) rolloutCanary(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	var req struct {
		CanaryOrgs []string `json:"canary_orgs"`
		Reason     string   `json:"reason"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkReason("reason", req.Reason, false); err != nil {
		return err
	}
	if len(req.CanaryOrgs) == 0 {
		return fieldErr("canary_orgs", "a canary names at least one organisation")
	}
	ctx := r.Context()
	err = s.tx(ctx, func(q store.Queries) error {
		orgs, err := checkCanaryOrgs(ctx, q, req.CanaryOrgs)
		if err != nil {
			return err
		}
		old, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		if had && old.Stage == store.StageCanary && rollout.SameOrgs(old.CanaryOrgs, orgs) {
			return conflict("%s is already at canary with these organisations", provider)
		}
		_, err = s.setRolloutStage(ctx, q, p.TokenID, old, had, store.StageCanary, orgs, "rollout.canary", map[string]any{"reason": req.Reason})
		return err
	})
	if err != nil {
		return err
	}
	return s.getRollout(w, r, p)
}

func checkCanaryOrgs(ctx context.Context, q store.Queries, in []string) ([]string, error) {
	seen := map[string]bool{}
	orgs := []string{}
	for i, o := range in {
		field := "canary_orgs[" + strconv.Itoa(i) + "]"
		if seen[o] {
			return nil, fieldErr(field, "duplicate organisation %q", o)
		}
		seen[o] = true
		org, err := q.GetOrg(ctx, o)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, fieldErr(field, "no organisation %q", o)
			}
			return nil, fmt.Errorf("load organisation %s: %w", o, err)
		}
		if org.RevokedAt != nil {
			return nil, fieldErr(field, "organisation %q is revoked", o)
		}
		orgs = append(orgs, o)
	}
	sort.Strings(orgs)
	return orgs, nil
}

// promotionRefused is the 409 of a gated promotion, naming what is missing.
func promotionRefused(provider string, d rollout.Decision) *apiError {
	e := conflict("promotion of %s refused: %s", provider, strings.Join(d.Missing, "; "))
	e.Missing = d.Missing
	return e
}

func (s *Server) rolloutPromote(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			return err
		}
	}
	if err := checkReason("reason", req.Reason, false); err != nil {
		return err
	}
	ctx := r.Context()
	var refused *apiError
	err = s.tx(ctx, func(q store.Queries) error {
		old, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		d, err := s.gate(ctx, q, old)
		if err != nil {
			return err
		}
		if !d.Allowed {
			refused = promotionRefused(provider, d)
			return refused
		}
		_, err = s.setRolloutStage(ctx, q, p.TokenID, old, had, store.StageOn, nil, "rollout.promote", map[string]any{
			"reason": req.Reason, "matrix_evidence": d.MatrixID, "load_evidence": d.LoadID, "max_age": s.maxEvidenceAge().String()})
		return err
	})
	if refused != nil {
		// The refusal is audited too (outside the refused transaction).
		if aerr := s.audit(ctx, s.store, p.TokenID, "", "rollout.promote_refused", provider, map[string]any{"missing": refused.Missing}); aerr != nil {
			return aerr
		}
		return refused
	}
	if err != nil {
		return err
	}
	return s.getRollout(w, r, p)
}

func (s *Server) rolloutRollback(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
		To     string `json:"to"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkReason("reason", req.Reason, true); err != nil {
		return err
	}
	if _, err := s.Rollback(r.Context(), provider, p.TokenID, req.Reason, req.To, nil); err != nil {
		return err
	}
	return s.getRollout(w, r, p)
}

// Rollback moves provider down to its previous stage (or to, "off" or
// "canary"), audited as rollout.rollback by actor with reason and detail
// (the automatic analysis passes its failing figures). It is allowed from
// every stage; a provider already off is recorded off again.
func (s *Server) Rollback(ctx context.Context, provider, actor, reason, to string, detail map[string]any) (store.RolloutStage, error) {
	var out store.RolloutStage
	err := s.tx(ctx, func(q store.Queries) error {
		old, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		cur := old.Stage
		if !had {
			cur = store.StageOff
		}
		next, err := rollout.Rollback(cur, old.PreviousStage, to, len(old.CanaryOrgs) > 0)
		if err != nil {
			return fieldErr("to", "%s", err.Error())
		}
		if detail == nil {
			detail = map[string]any{}
		}
		detail["reason"] = reason
		out, err = s.setRolloutStage(ctx, q, actor, old, had, next, nil, "rollout.rollback", detail)
		return err
	})
	return out, err
}

// matrixRequirements: what the provider's live configuration makes required
// in its matrix report (its active platform profiles make the
// platform-secret cases required).
func (s *Server) matrixRequirements(ctx context.Context, provider string) (rollout.MatrixRequirements, error) {
	platform := store.OwnerPlatform
	profiles, err := s.store.ListProfiles(ctx, &platform)
	if err != nil {
		return rollout.MatrixRequirements{}, fmt.Errorf("list platform profiles: %w", err)
	}
	var req rollout.MatrixRequirements
	for _, pr := range profiles {
		if pr.Provider == provider && pr.RevokedAt == nil {
			req.PlatformProfiles = append(req.PlatformProfiles, pr.ID)
		}
	}
	return req, nil
}

// The body of POST /v1/rollout/{provider}/evidence: kind and the report
// (a matrix report or a load-stage result) as JSON.
const maxEvidenceBytes = MaxBodyBytes

func (s *Server) createEvidence(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	var req struct {
		Kind   string          `json:"kind"`
		Report json.RawMessage `json:"report"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Kind != store.EvidenceMatrix && req.Kind != store.EvidenceLoad {
		return fieldErr("kind", "must be %q or %q", store.EvidenceMatrix, store.EvidenceLoad)
	}
	if len(req.Report) == 0 || req.Report[0] != '{' {
		return fieldErr("report", "must be a JSON object")
	}
	var passed bool
	var problems []string
	var started time.Time
	switch req.Kind {
	case store.EvidenceMatrix:
		var m rollout.MatrixReport
		if err := decodeEmbedded(req.Report, &m, "report", false); err != nil {
			return err
		}
		if m.Provider != provider {
			return fieldErr("report.provider", "is %q, the route's provider is %q", m.Provider, provider)
		}
		mreq, err := s.matrixRequirements(r.Context(), provider)
		if err != nil {
			return err
		}
		passed, problems = rollout.CheckMatrix(&m, mreq)
		started = m.StartedAt
		// Keep the recomputed pass of every case in the signed document.
		if req.Report, err = json.Marshal(m); err != nil {
			return fmt.Errorf("encode matrix report: %w", err)
		}
	case store.EvidenceLoad:
		var l struct {
			Provider  string            `json:"provider"`
			Providers []string          `json:"providers"`
			Requests  int64             `json:"requests"`
			Verdicts  []rollout.Verdict `json:"verdicts"`
			StartedAt time.Time         `json:"started_at"`
		}
		// The result holds more than the gate reads (latencies, stages…).
		if err := decodeEmbedded(req.Report, &l, "report", true); err != nil {
			return err
		}
		if l.Provider != provider && !slices.Contains(l.Providers, provider) {
			return fieldErr("report.provider", "the result is not of provider %q", provider)
		}
		passed, problems = rollout.CheckLoad(l.Verdicts, l.Requests)
		started = l.StartedAt
	}
	ctx := r.Context()
	var e store.Evidence
	err = s.tx(ctx, func(q store.Queries) error {
		st, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		stage := st.Stage
		if !had {
			stage = ""
		}
		now := s.now().UTC()
		if had && !started.IsZero() && started.Before(st.UpdatedAt) {
			problems = append(problems, "the run started before the last stage or canary change")
			passed = false
		}
		doc := signedEvidence{ID: newID("evd"), Provider: provider, Kind: req.Kind, Passed: passed, Problems: nonNil(problems),
			Stage: stage, CanaryOrgs: nonNil(st.CanaryOrgs), RecordedAt: now, Actor: p.TokenID, ControlPlaneVersion: s.version, Report: req.Report}
		if had {
			t := st.UpdatedAt
			doc.StageChangedAt = &t
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("encode evidence: %w", err)
		}
		body := bytes.TrimRight(buf.Bytes(), "\n")
		if len(s.evKey) != ed25519.PrivateKeySize {
			return fmt.Errorf("no evidence signing key configured")
		}
		e = store.Evidence{ID: doc.ID, Provider: provider, Kind: req.Kind, Passed: passed, Stage: stage, CanaryOrgs: doc.CanaryOrgs,
			RecordedAt: now, Actor: p.TokenID, Report: string(body),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(s.evKey, body)),
			KeyID:     EvidenceKeyID(s.evKey.Public().(ed25519.PublicKey))}
		if err := q.CreateEvidence(ctx, e); err != nil {
			return storeErr(err, "record evidence")
		}
		return s.audit(ctx, q, p.TokenID, "", "rollout.evidence", provider, map[string]any{
			"evidence": e.ID, "kind": e.Kind, "passed": passed, "problems": nonNil(problems), "stage": stage})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		evidenceView
		Problems []string `json:"problems"`
	}{viewEvidence(e, true), nonNil(problems)})
	return nil
}

func (s *Server) listEvidence(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	evs, err := s.store.ListEvidence(r.Context(), provider, 100)
	if err != nil {
		return fmt.Errorf("list evidence %s: %w", provider, err)
	}
	out := make([]evidenceView, 0, len(evs))
	for _, e := range evs {
		out = append(out, viewEvidence(e, false))
	}
	writeList(w, out)
	return nil
}

func (s *Server) getEvidence(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	e, err := s.store.GetEvidence(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || err == nil && e.Provider != provider {
		return notFound("evidence", id)
	}
	if err != nil {
		return fmt.Errorf("get evidence: %w", err)
	}
	writeJSON(w, http.StatusOK, viewEvidence(e, true))
	return nil
}

func (s *Server) evidenceKey(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requirePlatform(p); err != nil {
		return err
	}
	if len(s.evKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("no evidence signing key configured")
	}
	pub := s.evKey.Public().(ed25519.PublicKey)
	writeJSON(w, http.StatusOK, map[string]string{"key_id": EvidenceKeyID(pub), "algorithm": "ed25519",
		"public_key": base64.StdEncoding.EncodeToString(pub)})
	return nil
}

// createProbe creates a probe organisation for provider's live matrix or
// load run: no agency (no tenant token can reach it), admitted while the
// provider is at canary without changing the canary (so evidence recorded
// with it stays valid).
func (s *Server) createProbe(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Name == "" {
		req.Name = "probe"
	}
	if err := checkText("name", req.Name, 100, false); err != nil {
		return err
	}
	ctx := r.Context()
	o := store.Org{ID: newID("org"), Name: "probe: " + req.Name, CreatedAt: s.now().UTC()}
	err = s.tx(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, o); err != nil {
			return storeErr(err, "create probe organisation")
		}
		st, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		if !had {
			return conflict("%s has no rollout stage; a probe runs against a stage (start with `switchboard rollout canary`)", provider)
		}
		st.ProbeOrgs = append(slices.Clone(st.ProbeOrgs), o.ID)
		if err := q.SetStage(ctx, st); err != nil { // UpdatedAt unchanged: not a stage change
			return storeErr(err, "record probe organisation")
		}
		if err := s.audit(ctx, q, p.TokenID, o.ID, "org.create", o.ID, map[string]any{"name": o.Name, "probe": provider}); err != nil {
			return err
		}
		return s.audit(ctx, q, p.TokenID, "", "rollout.probe_add", provider, map[string]any{"org": o.ID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"org_id": o.ID, "name": o.Name, "provider": provider})
	return nil
}

// removeProbe forgets a probe organisation of provider; it must be revoked
// first (POST /v1/orgs/{id}/revoke revokes everything it holds).
func (s *Server) removeProbe(w http.ResponseWriter, r *http.Request, p principal) error {
	provider, err := rolloutProvider(r, p)
	if err != nil {
		return err
	}
	org := r.PathValue("org")
	ctx := r.Context()
	err = s.tx(ctx, func(q store.Queries) error {
		st, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		if !had || !slices.Contains(st.ProbeOrgs, org) {
			return notFound("probe organisation", org)
		}
		o, err := q.GetOrg(ctx, org)
		if err != nil {
			return storeErr(err, "load probe organisation")
		}
		if o.RevokedAt == nil {
			return conflict("revoke the probe organisation first (POST /v1/orgs/%s/revoke)", org)
		}
		st.ProbeOrgs = slices.DeleteFunc(slices.Clone(st.ProbeOrgs), func(x string) bool { return x == org })
		if err := q.SetStage(ctx, st); err != nil {
			return storeErr(err, "forget probe organisation")
		}
		return s.audit(ctx, q, p.TokenID, "", "rollout.probe_remove", provider, map[string]any{"org": org})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"org_id": org, "provider": provider, "removed": "true"})
	return nil
}
