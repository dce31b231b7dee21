package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-dev/switchboard/store"
)

func (s *Server) createAgency(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requirePlatform(p); err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkText("name", req.Name, 200, false); err != nil {
		return err
	}
	ctx := r.Context()
	a := store.Agency{ID: newID("agc"), Name: req.Name, CreatedAt: s.now().UTC()}
	err := s.tx(ctx, func(q store.Queries) error {
		if err := q.CreateAgency(ctx, a); err != nil {
			return storeErr(err, "create agency")
		}
		return s.audit(ctx, q, p.TokenID, "", "agency.create", a.ID, map[string]any{"name": a.Name})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewAgency(a))
	return nil
}

// visibleAgency: the platform sees every agency, an agency token its own.
func (s *Server) visibleAgency(r *http.Request, q store.Queries, p principal, id string) (store.Agency, error) {
	if p.Kind != store.TokenPlatform && !(p.Kind == store.TokenAgency && p.SubjectID == id) {
		return store.Agency{}, notFound("agency", id)
	}
	a, err := q.GetAgency(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return a, notFound("agency", id)
	}
	if err != nil {
		return a, fmt.Errorf("load agency %s: %w", id, err)
	}
	return a, nil
}

func (s *Server) listAgencies(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := queryParams(r); err != nil {
		return err
	}
	var out []agencyView
	switch p.Kind {
	case store.TokenPlatform:
		as, err := s.store.ListAgencies(r.Context())
		if err != nil {
			return fmt.Errorf("list agencies: %w", err)
		}
		for _, a := range as {
			out = append(out, viewAgency(a))
		}
	case store.TokenAgency:
		a, err := s.visibleAgency(r, s.store, p, p.SubjectID)
		if err != nil {
			return err
		}
		out = append(out, viewAgency(a))
	}
	writeList(w, out)
	return nil
}

func (s *Server) getAgency(w http.ResponseWriter, r *http.Request, p principal) error {
	a, err := s.visibleAgency(r, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAgency(a))
	return nil
}

// revokeAgency locks out the agency's tokens; its client organisations stay
// (they are their own tenants) and remain manageable by the platform.
func (s *Server) revokeAgency(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	if p.Kind == store.TokenAgency && p.SubjectID == id {
		return forbidden("an agency cannot revoke itself")
	}
	if err := requirePlatform(p); err != nil {
		if p.Kind != store.TokenPlatform {
			return notFound("agency", id)
		}
		return err
	}
	ctx := r.Context()
	var a store.Agency
	err := s.tx(ctx, func(q store.Queries) error {
		var err error
		if a, err = s.visibleAgency(r, q, p, id); err != nil {
			return err
		}
		if a.RevokedAt != nil {
			return nil
		}
		now := s.now().UTC()
		if err := q.RevokeAgency(ctx, id, now); err != nil {
			return storeErr(err, "revoke agency")
		}
		a.RevokedAt = &now
		return s.audit(ctx, q, p.TokenID, "", "agency.revoke", id, nil)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAgency(a))
	return nil
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		Name     string `json:"name"`
		AgencyID string `json:"agency_id"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	switch p.Kind {
	case store.TokenPlatform:
	case store.TokenAgency:
		// An agency creates client organisations under itself only.
		if req.AgencyID == "" {
			req.AgencyID = p.SubjectID
		}
		if req.AgencyID != p.SubjectID {
			return forbidden("an agency token creates organisations under its own agency only")
		}
	default:
		return forbidden("organisation tokens cannot create organisations")
	}
	if err := checkText("name", req.Name, 200, false); err != nil {
		return err
	}
	ctx := r.Context()
	o := store.Org{ID: newID("org"), Name: req.Name, AgencyID: req.AgencyID, CreatedAt: s.now().UTC()}
	err := s.tx(ctx, func(q store.Queries) error {
		if o.AgencyID != "" {
			a, err := q.GetAgency(ctx, o.AgencyID)
			if errors.Is(err, store.ErrNotFound) {
				return fieldErr("agency_id", "no agency %q", o.AgencyID)
			}
			if err != nil {
				return fmt.Errorf("load agency: %w", err)
			}
			if a.RevokedAt != nil {
				return conflict("agency %s is revoked", a.ID)
			}
		}
		if err := q.CreateOrg(ctx, o); err != nil {
			return storeErr(err, "create organisation")
		}
		return s.audit(ctx, q, p.TokenID, o.ID, "org.create", o.ID, map[string]any{"name": o.Name, "agency_id": o.AgencyID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewOrg(o))
	return nil
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r, "agency_id"); err != nil {
		return err
	}
	var orgs []store.Org
	var err error
	switch p.Kind {
	case store.TokenPlatform:
		orgs, err = s.store.ListOrgs(ctx, r.URL.Query().Get("agency_id"))
	case store.TokenAgency:
		if a := r.URL.Query().Get("agency_id"); a != "" && a != p.SubjectID {
			return notFound("agency", a)
		}
		orgs, err = s.store.ListOrgs(ctx, p.SubjectID)
	case store.TokenOrg:
		if r.URL.Query().Has("agency_id") {
			return fieldErr("agency_id", "filter does not apply to an organisation token (it sees only its own organisation)")
		}
		var o store.Org
		o, err = visibleOrg(ctx, s.store, p, p.SubjectID)
		orgs = []store.Org{o}
	}
	if err != nil {
		return fmt.Errorf("list organisations: %w", err)
	}
	out := make([]orgView, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, viewOrg(o))
	}
	writeList(w, out)
	return nil
}

func (s *Server) getOrg(w http.ResponseWriter, r *http.Request, p principal) error {
	o, err := visibleOrg(r.Context(), s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
	return nil
}

// revokeOrg revokes the organisation and, in the same transaction, its
// profiles, installations, agents and bindings, so nothing of it stays live
// at the edge or in routing. Its tokens stop working (authentication checks
// the organisation).
func (s *Server) revokeOrg(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var o store.Org
	err := s.tx(ctx, func(q store.Queries) error {
		var err error
		if o, err = visibleOrg(ctx, q, p, id); err != nil {
			return err
		}
		if p.Kind == store.TokenOrg {
			return forbidden("an organisation token cannot revoke its organisation")
		}
		if o.RevokedAt != nil {
			return nil
		}
		now := s.now().UTC()
		counts := map[string]any{}
		if err := q.RevokeOrg(ctx, id, now); err != nil {
			return storeErr(err, "revoke organisation")
		}
		o.RevokedAt = &now
		owner := id
		profiles, err := q.ListProfiles(ctx, &owner)
		if err != nil {
			return fmt.Errorf("list profiles: %w", err)
		}
		n := 0
		for _, pr := range profiles {
			if pr.RevokedAt == nil {
				if err := q.RevokeProfile(ctx, pr.ID, now); err != nil {
					return storeErr(err, "revoke profile")
				}
				n++
			}
		}
		counts["profiles"] = n
		insts, err := q.ListInstallations(ctx, id)
		if err != nil {
			return fmt.Errorf("list installations: %w", err)
		}
		n = 0
		for _, i := range insts {
			if i.RevokedAt == nil {
				if err := q.RevokeInstallation(ctx, i.ID, now); err != nil {
					return storeErr(err, "revoke installation")
				}
				n++
			}
		}
		counts["installations"] = n
		agents, err := q.ListAgents(ctx, id)
		if err != nil {
			return fmt.Errorf("list agents: %w", err)
		}
		n = 0
		for _, a := range agents {
			if a.RevokedAt == nil {
				if err := q.RevokeAgent(ctx, a.ID, now); err != nil {
					return storeErr(err, "revoke agent")
				}
				n++
			}
		}
		counts["agents"] = n
		binds, err := q.ListOrgBindings(ctx, id)
		if err != nil {
			return fmt.Errorf("list bindings: %w", err)
		}
		n = 0
		for _, b := range binds {
			if b.RevokedAt == nil {
				if err := q.RevokeBinding(ctx, b.ID, now); err != nil {
					return storeErr(err, "revoke binding")
				}
				n++
			}
		}
		counts["bindings"] = n
		return s.audit(ctx, q, p.TokenID, id, "org.revoke", id, map[string]any{"cascade": counts})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
	return nil
}

// storeErr maps the store's sentinel errors to API answers.
func storeErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return conflict("%s: already exists", what)
	case errors.Is(err, store.ErrNotFound):
		return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + ": not found"}
	}
	return fmt.Errorf("%s: %w", what, err)
}
