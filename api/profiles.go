package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// sealSecret seals value for owner under the primary master key with the new
// secret's id as AAD. Errors never carry the value.
func (s *Server) sealSecret(ownerKind, ownerID, purpose, value string, now time.Time) (store.Secret, error) {
	id := newID("sec")
	keyID, ct, err := s.keys.Seal([]byte(value), id)
	if err != nil {
		return store.Secret{}, fmt.Errorf("seal %s secret of %s %s: %w", purpose, ownerKind, ownerID, err)
	}
	return store.Secret{ID: id, OwnerKind: ownerKind, OwnerID: ownerID, Purpose: purpose, KeyID: keyID, Ciphertext: ct,
		Fingerprint: s.keys.Fingerprint([]byte(value)), NotBefore: now, CreatedAt: now}, nil
}

// createSecrets seals and stores each given secret; it returns purpose ->
// fingerprint for the audit detail.
func (s *Server) createSecrets(ctx context.Context, q store.Queries, ownerKind, ownerID string, purposes []string, values map[string]string, now time.Time) (map[string]string, error) {
	fps := map[string]string{}
	for _, purpose := range purposes {
		sec, err := s.sealSecret(ownerKind, ownerID, purpose, values[purpose], now)
		if err != nil {
			return nil, err
		}
		if err := q.CreateSecret(ctx, sec); err != nil {
			return nil, storeErr(err, "create secret")
		}
		fps[purpose] = sec.Fingerprint
	}
	return fps, nil
}

func (s *Server) createProfile(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		OrgID         string       `json:"org_id"`
		Provider      string       `json:"provider"`
		Name          string       `json:"name"`
		ExternalAppID string       `json:"external_app_id"`
		Secrets       secretValues `json:"secrets"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.OrgID == "" {
		if err := requirePlatform(p); err != nil {
			return forbidden("only the platform admin creates platform profiles (give org_id for an organisation's own app)")
		}
	}
	if !knownProvider(req.Provider) {
		return fieldErr("provider", "must be one of %v", Providers)
	}
	if req.OrgID == "" && req.Provider == "standardwebhooks" {
		// Its payloads name no account that would resolve the installation of
		// a shared app: each installation is verified on its own ingress.
		return fieldErr("org_id", "required: a standardwebhooks profile belongs to an organisation (there are no shared platform apps of it)")
	}
	if err := checkText("name", req.Name, 200, false); err != nil {
		return err
	}
	if err := checkToken("external_app_id", req.ExternalAppID, 256, true); err != nil {
		return err
	}
	purposes, err := validateSecrets(req.Provider, req.Secrets, "secrets")
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	pr := store.AppProfile{ID: newID("prof"), OwnerOrgID: req.OrgID, Provider: req.Provider, Name: req.Name,
		ExternalAppID: req.ExternalAppID, CreatedAt: now}
	if req.OrgID == "" {
		pr.IngressID = newIngressID() // shared traffic of a platform app arrives on its own ingress id
	}
	var view profileView
	err = s.tx(ctx, func(q store.Queries) error {
		if req.OrgID != "" {
			if _, err := activeOrg(ctx, q, p, req.OrgID, "org_id"); err != nil {
				return err
			}
		}
		if err := q.CreateProfile(ctx, pr); err != nil {
			return storeErr(err, "create profile")
		}
		fps, err := s.createSecrets(ctx, q, store.OwnerProfile, pr.ID, purposes, req.Secrets, now)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, q, p.TokenID, pr.OwnerOrgID, "profile.create", pr.ID, map[string]any{
			"provider": pr.Provider, "name": pr.Name, "external_app_id": pr.ExternalAppID, "secrets": fps}); err != nil {
			return err
		}
		view, err = s.viewProfile(ctx, q, p, pr)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, view)
	return nil
}

// visibleProfile: platform profiles are visible to every token (tenants
// install them); an organisation's profile only within that org's scope.
func visibleProfile(ctx context.Context, q store.Queries, p principal, id string) (store.AppProfile, error) {
	return loadVisible(ctx, q, p, "profile", id, q.GetProfile,
		func(pr store.AppProfile) (string, bool) { return pr.OwnerOrgID, pr.OwnerOrgID == store.OwnerPlatform })
}

func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r, "org_id"); err != nil {
		return err
	}
	var profiles []store.AppProfile
	switch org := r.URL.Query().Get("org_id"); {
	case org == "platform":
		platform := store.OwnerPlatform
		var err error
		if profiles, err = s.store.ListProfiles(ctx, &platform); err != nil {
			return fmt.Errorf("list profiles: %w", err)
		}
	case org != "":
		if _, err := visibleOrg(ctx, s.store, p, org); err != nil {
			return err
		}
		var err error
		if profiles, err = s.store.ListProfiles(ctx, &org); err != nil {
			return fmt.Errorf("list profiles: %w", err)
		}
	default:
		all, err := s.store.ListProfiles(ctx, nil)
		if err != nil {
			return fmt.Errorf("list profiles: %w", err)
		}
		orgs, err := scopeOrgIDs(ctx, s.store, p)
		if err != nil {
			return err
		}
		for _, pr := range all {
			if orgs == nil || pr.OwnerOrgID == store.OwnerPlatform || contains(orgs, pr.OwnerOrgID) {
				profiles = append(profiles, pr)
			}
		}
	}
	out := make([]profileView, 0, len(profiles))
	for _, pr := range profiles {
		v, err := s.viewProfile(ctx, s.store, p, pr)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeList(w, out)
	return nil
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	pr, err := visibleProfile(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.viewProfile(ctx, s.store, p, pr)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// revokeProfile revokes the profile and every live installation of it, in
// one transaction.
func (s *Server) revokeProfile(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var view profileView
	err := s.tx(ctx, func(q store.Queries) error {
		pr, err := visibleProfile(ctx, q, p, id)
		if err != nil {
			return err
		}
		if pr.OwnerOrgID == store.OwnerPlatform {
			if err := requirePlatform(p); err != nil {
				return forbidden("only the platform admin revokes platform profiles")
			}
		}
		if pr.RevokedAt == nil {
			now := s.now().UTC()
			if err := q.RevokeProfile(ctx, id, now); err != nil {
				return storeErr(err, "revoke profile")
			}
			pr.RevokedAt = &now
			insts, err := q.ListInstallations(ctx, pr.OwnerOrgID) // "" (platform profile): every org
			if err != nil {
				return fmt.Errorf("list installations: %w", err)
			}
			n := 0
			for _, i := range insts {
				if i.ProfileID == id && i.RevokedAt == nil {
					if err := q.RevokeInstallation(ctx, i.ID, now); err != nil {
						return storeErr(err, "revoke installation")
					}
					n++
				}
			}
			if err := s.audit(ctx, q, p.TokenID, pr.OwnerOrgID, "profile.revoke", id, map[string]any{"cascade": map[string]int{"installations": n}}); err != nil {
				return err
			}
		}
		view, err = s.viewProfile(ctx, q, p, pr)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
