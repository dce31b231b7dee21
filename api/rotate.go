package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// MaxRotationOverlap bounds how long a rotated-out secret may stay valid.
const MaxRotationOverlap = 30 * 24 * time.Hour

// secretOwner is what a rotation acts on.
type secretOwner struct {
	kind     string // store.OwnerInstallation, OwnerProfile, OwnerAgent
	id       string
	orgID    string // "" for platform profiles
	checks   map[string]secretCheck
	revoked  bool
	generate bool // the value may be omitted and is then generated (agent signing secrets)
	// inheritsFrom is the profile an installation takes a purpose's secrets
	// from while it has none of its own (its org's own profile only).
	inheritsFrom string
}

type rotateView struct {
	OwnerKind          string       `json:"owner_kind"`
	OwnerID            string       `json:"owner_id"`
	Purpose            string       `json:"purpose"`
	Secret             secretView   `json:"secret"`
	PreviousValidUntil time.Time    `json:"previous_valid_until"`
	Secrets            []secretView `json:"secrets"`
	// Value is set only when the server generated the new secret: the one
	// time it is shown.
	Value string `json:"value,omitempty"`
}

// rotate adds a new secret for purpose and keeps the owner's current ones of
// that purpose valid until previous_valid_until, in one transaction with its
// audit event.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request, p principal, load func(ctx context.Context, q store.Queries) (secretOwner, error)) error {
	var req struct {
		Value              string `json:"value"`
		PreviousValidUntil string `json:"previous_valid_until"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	purpose := r.PathValue("purpose")
	ctx := r.Context()
	now := s.now().UTC()
	var out rotateView
	err := s.tx(ctx, func(q store.Queries) error {
		o, err := load(ctx, q)
		if err != nil {
			return err
		}
		check, ok := o.checks[purpose]
		if !ok {
			return fieldErr("purpose", "%s %s takes no %q secret (it takes: %v)", o.kind, o.id, purpose, purposeNames(o.checks))
		}
		if req.Value == "" && o.generate {
			req.Value = NewAgentSecret()
			out.Value = req.Value
		}
		if req.Value == "" {
			return fieldErr("value", "required")
		}
		if msg := check(req.Value); msg != "" {
			return fieldErr("value", "%s", msg)
		}
		if req.PreviousValidUntil == "" {
			return fieldErr("previous_valid_until", "required: RFC 3339 time until which the current secret stays valid (use the current time to end it now)")
		}
		until, err := time.Parse(time.RFC3339, req.PreviousValidUntil)
		if err != nil {
			return fieldErr("previous_valid_until", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		}
		until = until.UTC()
		if until.Before(now) {
			return fieldErr("previous_valid_until", "must not be in the past")
		}
		if until.After(now.Add(MaxRotationOverlap)) {
			return fieldErr("previous_valid_until", "must be within %d days from now", int(MaxRotationOverlap.Hours()/24))
		}
		if o.revoked {
			return conflict("%s %s is revoked", o.kind, o.id)
		}
		// An installation's own secret of a purpose replaces its profile's at
		// the edge and in the worker: rotating one in here would end the
		// profile's secret at once, not at previous_valid_until.
		if o.inheritsFrom != "" {
			if inherited, err := usesProfileSecret(ctx, q, o, purpose, now); err != nil {
				return err
			} else if inherited {
				return conflict("%s %s has no %s secret of its own: it uses profile %s's, which this rotation would replace at once; rotate it on the profile (POST /v1/profiles/%s/secrets/%s/rotate)",
					o.kind, o.id, purpose, o.inheritsFrom, o.inheritsFrom, purpose)
			}
		}
		if err := q.ExpireSecrets(ctx, o.kind, o.id, purpose, until); err != nil {
			return storeErr(err, "expire previous secrets")
		}
		sec, err := s.sealSecret(o.kind, o.id, purpose, req.Value, now)
		if err != nil {
			return err
		}
		if err := q.CreateSecret(ctx, sec); err != nil {
			return storeErr(err, "create secret")
		}
		if err := s.audit(ctx, q, p.TokenID, o.orgID, "secret.rotate", o.id, map[string]any{
			"owner_kind": o.kind, "purpose": purpose, "secret_id": sec.ID, "fingerprint": sec.Fingerprint,
			"previous_valid_until": until.Format(time.RFC3339)}); err != nil {
			return err
		}
		all, err := s.secretsOf(ctx, q, o.kind, o.id)
		if err != nil {
			return err
		}
		out.OwnerKind, out.OwnerID, out.Purpose, out.PreviousValidUntil, out.Secrets = o.kind, o.id, purpose, until, all
		out.Secret = viewSecrets([]store.Secret{sec})[0]
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) rotateInstallationSecret(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.rotate(w, r, p, func(ctx context.Context, q store.Queries) (secretOwner, error) {
		i, err := visibleInstallation(ctx, q, p, r.PathValue("id"))
		if err != nil {
			return secretOwner{}, err
		}
		o := secretOwner{kind: store.OwnerInstallation, id: i.ID, orgID: i.OrgID, checks: providerSecrets[i.Provider], revoked: i.RevokedAt != nil}
		pr, err := q.GetProfile(ctx, i.ProfileID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return secretOwner{}, storeErr(err, "load profile")
		}
		if err == nil && pr.OwnerOrgID != store.OwnerPlatform && pr.OwnerOrgID == i.OrgID {
			o.inheritsFrom = pr.ID
		}
		return o, nil
	})
}

// usesProfileSecret reports whether installation o verifies or sends with its
// profile's secret of purpose: it has none of its own, and the profile has
// one that is still valid.
func usesProfileSecret(ctx context.Context, q store.Queries, o secretOwner, purpose string, now time.Time) (bool, error) {
	own, err := q.ListSecrets(ctx, o.kind, o.id)
	if err != nil {
		return false, storeErr(err, "list secrets")
	}
	for _, s := range own {
		if s.Purpose == purpose {
			return false, nil
		}
	}
	prof, err := q.ListSecrets(ctx, store.OwnerProfile, o.inheritsFrom)
	if err != nil {
		return false, storeErr(err, "list profile secrets")
	}
	for _, s := range prof {
		if s.Purpose == purpose && (s.NotAfter == nil || s.NotAfter.After(now)) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Server) rotateProfileSecret(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.rotate(w, r, p, func(ctx context.Context, q store.Queries) (secretOwner, error) {
		pr, err := visibleProfile(ctx, q, p, r.PathValue("id"))
		if err != nil {
			return secretOwner{}, err
		}
		if pr.OwnerOrgID == store.OwnerPlatform {
			if err := requirePlatform(p); err != nil {
				return secretOwner{}, forbidden("only the platform admin rotates platform profile secrets")
			}
		}
		return secretOwner{kind: store.OwnerProfile, id: pr.ID, orgID: pr.OwnerOrgID, checks: providerSecrets[pr.Provider], revoked: pr.RevokedAt != nil}, nil
	})
}

func (s *Server) rotateAgentSecret(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.rotate(w, r, p, func(ctx context.Context, q store.Queries) (secretOwner, error) {
		a, err := visibleAgent(ctx, q, p, r.PathValue("id"))
		if err != nil {
			return secretOwner{}, err
		}
		return secretOwner{kind: store.OwnerAgent, id: a.ID, orgID: a.OrgID, checks: map[string]secretCheck{store.PurposeSigning: whsecSecret},
			revoked: a.RevokedAt != nil, generate: true}, nil
	})
}
