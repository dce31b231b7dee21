package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Bounds of the organisation limits the API accepts.
const (
	MaxRatePerSec  = 100_000
	MaxBurst       = 1_000_000
	MaxMaxInFlight = 10_000
)

type limitsView struct {
	OrgID       string     `json:"org_id"`
	RatePerSec  int        `json:"rate_per_sec"`
	Burst       int        `json:"burst"`
	MaxInFlight int        `json:"max_in_flight"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

func viewLimits(l store.OrgLimits) limitsView {
	v := limitsView{OrgID: l.OrgID, RatePerSec: l.RatePerSec, Burst: l.Burst, MaxInFlight: l.MaxInFlight}
	if !l.UpdatedAt.IsZero() {
		t := l.UpdatedAt.UTC()
		v.UpdatedAt = &t
	}
	return v
}

func limitsOf(ctx context.Context, q store.Queries, orgID string) (store.OrgLimits, error) {
	ls, ok := q.(store.Limits)
	if !ok {
		return store.OrgLimits{}, errors.New("the store keeps no organisation limits")
	}
	l, err := ls.GetOrgLimits(ctx, orgID)
	if err != nil {
		return l, fmt.Errorf("load limits of organisation %s: %w", orgID, err)
	}
	return l, nil
}

// getOrgLimits answers an organisation's limits to anyone who sees the
// organisation (its owner may read what it is held to).
func (s *Server) getOrgLimits(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := queryParams(r); err != nil {
		return err
	}
	o, err := visibleOrg(r.Context(), s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	l, err := limitsOf(r.Context(), s.store, o.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewLimits(l))
	return nil
}

// LimitsRequest is the body of PUT /v1/orgs/{id}/limits: every field is
// required (0: not set, the deployment's default applies), so a PUT never
// unsets a limit by leaving it out.
type limitsRequest struct {
	RatePerSec  *int `json:"rate_per_sec"`
	Burst       *int `json:"burst"`
	MaxInFlight *int `json:"max_in_flight"`
}

// checkLimits validates a PUT body into the limits of org.
func checkLimits(req limitsRequest, org string) (store.OrgLimits, error) {
	l := store.OrgLimits{OrgID: org}
	for _, f := range []struct {
		name string
		v    *int
		max  int
		dst  *int
	}{
		{"rate_per_sec", req.RatePerSec, MaxRatePerSec, &l.RatePerSec},
		{"burst", req.Burst, MaxBurst, &l.Burst},
		{"max_in_flight", req.MaxInFlight, MaxMaxInFlight, &l.MaxInFlight},
	} {
		if f.v == nil {
			return l, fieldErr(f.name, "required: an integer from 0 (not set: the deployment's default) to %d", f.max)
		}
		if *f.v < 0 || *f.v > f.max {
			return l, fieldErr(f.name, "must be an integer from 0 (not set: the deployment's default) to %d, got %d", f.max, *f.v)
		}
		*f.dst = *f.v
	}
	if l.Burst > 0 && l.RatePerSec == 0 {
		return l, fieldErr("burst", "a burst needs rate_per_sec (a bucket with no refill rate)")
	}
	return l, nil
}

// putOrgLimits replaces an organisation's limits. Only the platform sets
// them: an organisation (or its agency) raising its own limit would defeat
// it; a token that sees the organisation is refused 403, any other 404.
func (s *Server) putOrgLimits(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	if p.Kind != store.TokenPlatform {
		if _, err := visibleOrg(ctx, s.store, p, id); err != nil {
			return err
		}
		return forbidden("only the platform admin sets an organisation's limits")
	}
	var req limitsRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	var view limitsView
	err := s.tx(ctx, func(q store.Queries) error {
		o, err := visibleOrg(ctx, q, p, id)
		if err != nil {
			return err
		}
		if o.RevokedAt != nil {
			return conflict("organisation %s is revoked", id)
		}
		l, err := checkLimits(req, o.ID)
		if err != nil {
			return err
		}
		l.UpdatedAt = s.now().UTC()
		ls, ok := q.(store.Limits)
		if !ok {
			return errors.New("the store keeps no organisation limits")
		}
		if err := ls.SetOrgLimits(ctx, l); err != nil {
			return storeErr(err, "set organisation limits")
		}
		if err := s.audit(ctx, q, p.TokenID, o.ID, "org.limits", o.ID, map[string]any{
			"rate_per_sec": l.RatePerSec, "burst": l.Burst, "max_in_flight": l.MaxInFlight}); err != nil {
			return err
		}
		if l.IsZero() {
			l.UpdatedAt = time.Time{}
		}
		view = viewLimits(l)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}
