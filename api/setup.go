package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/provider/setup"
	"github.com/switchboard-dev/switchboard/store"
)

// setupRecords is the store's setup side (handoffs, OAuth clients and states).
func setupRecords(q store.Queries) (store.SetupRecords, error) {
	sr, ok := q.(store.SetupRecords)
	if !ok {
		return nil, fmt.Errorf("store %T keeps no setup records", q)
	}
	return sr, nil
}

func setupSecrets(ss []store.Secret, owner string, now time.Time) []setup.Secret {
	var out []setup.Secret
	for _, s := range ss {
		if s.NotAfter != nil && !s.NotAfter.After(now) {
			continue
		}
		out = append(out, setup.Secret{Owner: owner, Purpose: s.Purpose, Fingerprint: s.Fingerprint, NotBefore: s.NotBefore, NotAfter: s.NotAfter})
	}
	return out
}

// installationSetupInput gathers what an installation's packet is built from.
func (s *Server) installationSetupInput(ctx context.Context, q store.Queries, i store.Installation) (setup.Input, error) {
	pr, err := q.GetProfile(ctx, i.ProfileID)
	if err != nil {
		return setup.Input{}, fmt.Errorf("load profile %s: %w", i.ProfileID, err)
	}
	now := s.now().UTC()
	in := setup.Input{Provider: i.Provider, Kind: setup.KindInstallation, ID: i.ID, OrgID: i.OrgID, ProfileID: pr.ID, Name: pr.Name,
		Platform: pr.OwnerOrgID == store.OwnerPlatform, ExternalAppID: pr.ExternalAppID, ExternalID: i.ExternalID,
		PublicURL: s.publicURL, WebhookPath: WebhookPath(i.Provider, i.IngressID), APIURL: s.apiURL, Now: now}
	own, err := q.ListSecrets(ctx, store.OwnerInstallation, i.ID)
	if err != nil {
		return in, fmt.Errorf("list secrets: %w", err)
	}
	in.Secrets = setupSecrets(own, setup.KindInstallation, now)
	if !in.Platform { // a tenant sees no fingerprint of the platform's secrets
		ps, err := q.ListSecrets(ctx, store.OwnerProfile, pr.ID)
		if err != nil {
			return in, fmt.Errorf("list secrets: %w", err)
		}
		in.Secrets = append(in.Secrets, setupSecrets(ps, setup.KindProfile, now)...)
	}
	h, err := s.loadHandoff(ctx, q, i.ID)
	if err != nil {
		return in, err
	}
	in.Handoff = h
	return in, nil
}

func (s *Server) loadHandoff(ctx context.Context, q store.Queries, instID string) (*setup.Handoff, error) {
	sr, err := setupRecords(q)
	if err != nil {
		return nil, err
	}
	rec, err := sr.GetHandoff(ctx, instID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load handoff: %w", err)
	}
	var h setup.Handoff
	if err := json.Unmarshal([]byte(rec.Record), &h); err != nil {
		return nil, fmt.Errorf("decode handoff of %s: %w", instID, err)
	}
	at := rec.UpdatedAt
	h.UpdatedAt, h.UpdatedBy = &at, rec.UpdatedBy
	return &h, nil
}

func (s *Server) writePacket(w http.ResponseWriter, r *http.Request, in setup.Input) error {
	if !setup.Has(in.Provider) {
		return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no setup packet for provider %s yet", in.Provider)}
	}
	p, err := setup.Build(in)
	if err != nil {
		return err
	}
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		writeJSON(w, http.StatusOK, p)
	case "markdown", "md":
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(setup.Markdown(p)))
	default:
		return fieldErr("format", "must be json or markdown, not %q", f)
	}
	return nil
}

func (s *Server) installationSetup(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	i, err := visibleInstallation(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	in, err := s.installationSetupInput(ctx, s.store, i)
	if err != nil {
		return err
	}
	return s.writePacket(w, r, in)
}

func (s *Server) profileSetup(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	pr, err := visibleProfile(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if pr.OwnerOrgID == store.OwnerPlatform && p.Kind != store.TokenPlatform {
		return forbidden("the platform profile's packet (its shared webhook URL) is for the platform admin; install it with GET /v1/installations/{id}/setup")
	}
	now := s.now().UTC()
	in := setup.Input{Provider: pr.Provider, Kind: setup.KindProfile, ID: pr.ID, OrgID: pr.OwnerOrgID, Name: pr.Name,
		Platform: pr.OwnerOrgID == store.OwnerPlatform, ExternalAppID: pr.ExternalAppID, PublicURL: s.publicURL, APIURL: s.apiURL, Now: now}
	if pr.IngressID != "" {
		in.WebhookPath = WebhookPath(pr.Provider, pr.IngressID)
	}
	ss, err := s.store.ListSecrets(ctx, store.OwnerProfile, pr.ID)
	if err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	in.Secrets = setupSecrets(ss, setup.KindProfile, now)
	return s.writePacket(w, r, in)
}

// handoffRequest is the body of PUT /v1/installations/{id}/handoff.
type handoffRequest struct {
	OwnerAccount      string     `json:"owner_account"`
	URLsConfigured    []string   `json:"urls_configured"`
	ScopesApproved    []string   `json:"scopes_approved"`
	CanaryValidatedAt *time.Time `json:"canary_validated_at"`
	CanaryChannel     string     `json:"canary_channel"`
	RotationOwner     string     `json:"rotation_owner"`
	NextRotation      string     `json:"next_rotation"`
}

func checkList(field string, xs []string) error {
	if len(xs) > 50 {
		return fieldErr(field, "at most 50 entries")
	}
	for i, x := range xs {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), x, 500, false); err != nil {
			return err
		}
	}
	return nil
}

// putHandoff fills the agency handoff record of an installation (audited).
func (s *Server) putHandoff(w http.ResponseWriter, r *http.Request, p principal) error {
	var req handoffRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"owner_account", req.OwnerAccount}, {"canary_channel", req.CanaryChannel}, {"rotation_owner", req.RotationOwner}} {
		if err := checkText(f.name, f.v, 200, true); err != nil {
			return err
		}
	}
	if err := checkList("urls_configured", req.URLsConfigured); err != nil {
		return err
	}
	if err := checkList("scopes_approved", req.ScopesApproved); err != nil {
		return err
	}
	if req.NextRotation != "" {
		if _, err := time.Parse("2006-01-02", req.NextRotation); err != nil {
			return fieldErr("next_rotation", "must be a date YYYY-MM-DD")
		}
	}
	if req.CanaryValidatedAt != nil && req.CanaryValidatedAt.After(s.now().Add(time.Hour)) {
		return fieldErr("canary_validated_at", "must not be in the future")
	}
	if req.CanaryValidatedAt != nil {
		t := req.CanaryValidatedAt.UTC()
		req.CanaryValidatedAt = &t
	}
	h := setup.Handoff{OwnerAccount: req.OwnerAccount, URLsConfigured: nonNil(req.URLsConfigured), ScopesApproved: nonNil(req.ScopesApproved),
		CanaryValidatedAt: req.CanaryValidatedAt, CanaryChannel: req.CanaryChannel, RotationOwner: req.RotationOwner, NextRotation: req.NextRotation}
	rec, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode handoff: %w", err)
	}
	ctx := r.Context()
	now := s.now().UTC()
	id := r.PathValue("id")
	var view *setup.Handoff
	err = s.tx(ctx, func(q store.Queries) error {
		i, err := visibleInstallation(ctx, q, p, id)
		if err != nil {
			return err
		}
		if i.RevokedAt != nil {
			return conflict("installation %s is revoked", id)
		}
		sr, err := setupRecords(q)
		if err != nil {
			return err
		}
		if err := sr.PutHandoff(ctx, store.Handoff{InstallationID: i.ID, Record: string(rec), UpdatedAt: now, UpdatedBy: p.TokenID}); err != nil {
			return storeErr(err, "put handoff")
		}
		var detail map[string]any
		_ = json.Unmarshal(rec, &detail)
		if err := s.audit(ctx, q, p.TokenID, i.OrgID, "installation.handoff", i.ID, detail); err != nil {
			return err
		}
		view, err = s.loadHandoff(ctx, q, i.ID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
