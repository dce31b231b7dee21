package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	_ "github.com/switchboard-dev/switchboard/provider/all" // the providers whose settings the API validates
	"github.com/switchboard-dev/switchboard/store"
)

func (s *Server) createInstallation(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		OrgID               string       `json:"org_id"`
		ProfileID           string       `json:"profile_id"`
		Provider            string       `json:"provider"`
		ExternalID          string       `json:"external_id"`
		Secrets             secretValues `json:"secrets"`
		PlatformCredentials bool         `json:"platform_credentials"`
		// Settings are the provider's installation settings (Standard
		// Webhooks: conversation_pointer, ...), validated by the provider.
		Settings map[string]string `json:"settings"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.PlatformCredentials && p.Kind != store.TokenPlatform {
		return forbidden("only the platform admin opts an installation into platform credentials")
	}
	if req.OrgID == "" {
		return fieldErr("org_id", "required")
	}
	if req.ProfileID == "" {
		return fieldErr("profile_id", "required")
	}
	if err := checkToken("external_id", req.ExternalID, 256, false); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	var view installationView
	err := s.tx(ctx, func(q store.Queries) error {
		org, err := activeOrg(ctx, q, p, req.OrgID, "org_id")
		if err != nil {
			return err
		}
		pr, err := visibleProfile(ctx, q, p, req.ProfileID)
		if err != nil {
			return withField(err, "profile_id")
		}
		if pr.OwnerOrgID != store.OwnerPlatform && pr.OwnerOrgID != org.ID {
			return fieldErr("profile_id", "profile %s belongs to another organisation", pr.ID)
		}
		if pr.RevokedAt != nil {
			return conflict("profile %s is revoked", pr.ID)
		}
		if req.Provider != "" && req.Provider != pr.Provider {
			return fieldErr("provider", "must match the profile's provider %q", pr.Provider)
		}
		purposes, err := validateSecrets(pr.Provider, req.Secrets, "secrets")
		if err != nil {
			return err
		}
		if err := provider.ValidateSettings(pr.Provider, req.Settings); err != nil {
			return fieldErr("settings", "%s", err.Error())
		}
		// An installation of the org's own app is verified with its own secret
		// or its profile's: one of them must exist (no implicit fallback).
		if pr.OwnerOrgID != store.OwnerPlatform {
			need := requiredVerifySecret[pr.Provider]
			if _, given := req.Secrets[need]; !given {
				has, err := hasLiveSecret(ctx, q, store.OwnerProfile, pr.ID, need, now)
				if err != nil {
					return err
				}
				if !has {
					return fieldErr("secrets."+need, "required: %s requests are verified with a %s secret and neither this installation nor profile %s has one", pr.Provider, need, pr.ID)
				}
			}
		}
		inst := store.Installation{ID: newID("inst"), OrgID: org.ID, ProfileID: pr.ID, Provider: pr.Provider,
			ExternalID: req.ExternalID, IngressID: newIngressID(), PlatformCredentials: req.PlatformCredentials, CreatedAt: now}
		if err := q.CreateInstallation(ctx, inst); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("an installation of profile %s for external id %q already exists", pr.ID, req.ExternalID)
			}
			return storeErr(err, "create installation")
		}
		if len(req.Settings) > 0 {
			is, ok := q.(store.InstallationSettings)
			if !ok {
				return fmt.Errorf("store %T keeps no installation settings", q)
			}
			if err := is.SetInstallationSettings(ctx, inst.ID, req.Settings); err != nil {
				return storeErr(err, "store installation settings")
			}
		}
		fps, err := s.createSecrets(ctx, q, store.OwnerInstallation, inst.ID, purposes, req.Secrets, now)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, q, p.TokenID, org.ID, "installation.create", inst.ID, map[string]any{
			"provider": inst.Provider, "profile_id": pr.ID, "external_id": inst.ExternalID, "ingress_id": inst.IngressID,
			"secrets": fps, "platform_credentials": inst.PlatformCredentials, "settings": req.Settings}); err != nil {
			return err
		}
		if inst.PlatformCredentials {
			if err := s.audit(ctx, q, p.TokenID, org.ID, "installation.platform_credentials", inst.ID, map[string]any{"enabled": true}); err != nil {
				return err
			}
		}
		view, err = s.viewInstallation(ctx, q, inst)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func hasLiveSecret(ctx context.Context, q store.Queries, kind, id, purpose string, now time.Time) (bool, error) {
	ss, err := q.ListSecrets(ctx, kind, id)
	if err != nil {
		return false, fmt.Errorf("list secrets of %s %s: %w", kind, id, err)
	}
	for _, sec := range ss {
		if sec.Purpose == purpose && (sec.NotAfter == nil || sec.NotAfter.After(now)) {
			return true, nil
		}
	}
	return false, nil
}

// withField names the request field that referenced a missing object.
func withField(err error, field string) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Field == "" {
		c := *ae
		c.Field = field
		return &c
	}
	return err
}

func visibleInstallation(ctx context.Context, q store.Queries, p principal, id string) (store.Installation, error) {
	return loadVisible(ctx, q, p, "installation", id, q.GetInstallation,
		func(i store.Installation) (string, bool) { return i.OrgID, false })
}

// orgsToList resolves the org_id query parameter (checked against scope) or
// the caller's whole scope (nil: everything, platform only).
func orgsToList(r *http.Request, p principal, q store.Queries) ([]string, error) {
	ctx := r.Context()
	if org := r.URL.Query().Get("org_id"); org != "" {
		if _, err := visibleOrg(ctx, q, p, org); err != nil {
			return nil, err
		}
		return []string{org}, nil
	}
	ids, err := scopeOrgIDs(ctx, q, p)
	if ids == nil && err == nil && p.Kind != store.TokenPlatform {
		ids = []string{}
	}
	return ids, err
}

// listInOrgs lists with list in each of orgs (orgsToList's answer; nil:
// every organisation, one list(ctx, "") call). what names the objects in errors.
func listInOrgs[T any](ctx context.Context, orgs []string, what string, list func(context.Context, string) ([]T, error)) ([]T, error) {
	if orgs == nil {
		all, err := list(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		return all, nil
	}
	var all []T
	for _, o := range orgs {
		xs, err := list(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		all = append(all, xs...)
	}
	return all, nil
}

func (s *Server) listInstallations(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r, "org_id"); err != nil {
		return err
	}
	orgs, err := orgsToList(r, p, s.store)
	if err != nil {
		return err
	}
	insts, err := listInOrgs(ctx, orgs, "installations", s.store.ListInstallations)
	if err != nil {
		return err
	}
	out := make([]installationView, 0, len(insts))
	for _, i := range insts {
		v, err := s.viewInstallation(ctx, s.store, i)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeList(w, out)
	return nil
}

func (s *Server) getInstallation(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	i, err := visibleInstallation(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.viewInstallation(ctx, s.store, i)
	if err != nil {
		return err
	}
	if ar, ok := s.store.(store.ActivityRecords); ok {
		a, err := ar.GetActivity(ctx, i.ID)
		switch {
		case err == nil:
			v.FirstAcceptedAt, v.LastAcceptedAt = &a.FirstAcceptedAt, &a.LastAcceptedAt
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("load activity of %s: %w", i.ID, err)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) revokeInstallation(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var view installationView
	err := s.tx(ctx, func(q store.Queries) error {
		i, err := visibleInstallation(ctx, q, p, id)
		if err != nil {
			return err
		}
		if i.RevokedAt == nil {
			now := s.now().UTC()
			if err := q.RevokeInstallation(ctx, id, now); err != nil {
				return storeErr(err, "revoke installation")
			}
			i.RevokedAt = &now
			if err := s.audit(ctx, q, p.TokenID, i.OrgID, "installation.revoke", id, map[string]any{"provider": i.Provider, "ingress_id": i.IngressID}); err != nil {
				return err
			}
		}
		view, err = s.viewInstallation(ctx, q, i)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// setPlatformCredentials is the explicit, audited opt-in (or opt-out) of an
// installation to send with the platform profile's credentials. Platform
// admin only.
func (s *Server) setPlatformCredentials(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	if p.Kind != store.TokenPlatform {
		if _, err := visibleInstallation(ctx, s.store, p, id); err != nil {
			return err
		}
		return forbidden("only the platform admin opts an installation into platform credentials")
	}
	var req struct {
		Enabled *bool  `json:"enabled"`
		Reason  string `json:"reason"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return fieldErr("enabled", "required: true or false")
	}
	if err := checkText("reason", req.Reason, 500, false); err != nil {
		return err
	}
	var view installationView
	err := s.tx(ctx, func(q store.Queries) error {
		i, err := visibleInstallation(ctx, q, p, id)
		if err != nil {
			return err
		}
		if i.RevokedAt != nil {
			return conflict("installation %s is revoked", id)
		}
		if err := q.SetPlatformCredentials(ctx, id, *req.Enabled); err != nil {
			return storeErr(err, "set platform credentials")
		}
		i.PlatformCredentials = *req.Enabled
		if err := s.audit(ctx, q, p.TokenID, i.OrgID, "installation.platform_credentials", id, map[string]any{"enabled": *req.Enabled, "reason": req.Reason}); err != nil {
			return err
		}
		view, err = s.viewInstallation(ctx, q, i)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}
