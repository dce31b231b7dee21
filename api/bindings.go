package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-dev/switchboard/store"
)

const maxPriority = 1_000_000

func checkSelector(sel store.Selector) error {
	for _, f := range []struct{ name, v string }{
		{"selector.account", sel.Account}, {"selector.channel", sel.Channel},
		{"selector.peer", sel.Peer}, {"selector.mention", sel.Mention},
	} {
		if err := checkText(f.name, f.v, 256, true); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) createBinding(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		InstallationID string         `json:"installation_id"`
		Selector       store.Selector `json:"selector"`
		AgentID        string         `json:"agent_id"`
		Persona        string         `json:"persona"`
		Priority       int            `json:"priority"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.InstallationID == "" {
		return fieldErr("installation_id", "required")
	}
	if req.AgentID == "" {
		return fieldErr("agent_id", "required")
	}
	if err := checkSelector(req.Selector); err != nil {
		return err
	}
	if err := checkText("persona", req.Persona, 128, true); err != nil {
		return err
	}
	if req.Priority < -maxPriority || req.Priority > maxPriority {
		return fieldErr("priority", "must be between %d and %d", -maxPriority, maxPriority)
	}
	ctx := r.Context()
	b := store.Binding{ID: newID("bind"), InstallationID: req.InstallationID, Selector: req.Selector, AgentID: req.AgentID,
		Persona: req.Persona, Priority: req.Priority, CreatedAt: s.now().UTC()}
	err := s.tx(ctx, func(q store.Queries) error {
		inst, err := visibleInstallation(ctx, q, p, req.InstallationID)
		if err != nil {
			return withField(err, "installation_id")
		}
		agent, err := visibleAgent(ctx, q, p, req.AgentID)
		if err != nil {
			return withField(err, "agent_id")
		}
		if agent.OrgID != inst.OrgID {
			return fieldErr("agent_id", "agent %s belongs to another organisation than installation %s", agent.ID, inst.ID)
		}
		if inst.RevokedAt != nil {
			return conflict("installation %s is revoked", inst.ID)
		}
		if agent.RevokedAt != nil {
			return conflict("agent %s is revoked", agent.ID)
		}
		if _, err := activeOrg(ctx, q, p, inst.OrgID, "installation_id"); err != nil {
			return err
		}
		b.OrgID = inst.OrgID
		// The store refuses an active binding identical to another (a unique
		// index), so parallel identical requests give one 201 and 409s.
		if err := q.CreateBinding(ctx, b); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return conflict("an identical active binding exists (same installation, selector, agent, persona and priority)")
			}
			return storeErr(err, "create binding")
		}
		return s.audit(ctx, q, p.TokenID, b.OrgID, "binding.create", b.ID, map[string]any{
			"installation_id": b.InstallationID, "selector": b.Selector, "agent_id": b.AgentID, "persona": b.Persona, "priority": b.Priority})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, viewBinding(b))
	return nil
}

func visibleBinding(ctx context.Context, q store.Queries, p principal, id string) (store.Binding, error) {
	return loadVisible(ctx, q, p, "binding", id, q.GetBinding,
		func(b store.Binding) (string, bool) { return b.OrgID, false })
}

func (s *Server) listBindings(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r, "installation_id", "org_id"); err != nil {
		return err
	}
	if r.URL.Query().Has("installation_id") && r.URL.Query().Has("org_id") {
		return fieldErr("org_id", "give installation_id or org_id, not both")
	}
	var binds []store.Binding
	if inst := r.URL.Query().Get("installation_id"); inst != "" {
		if _, err := visibleInstallation(ctx, s.store, p, inst); err != nil {
			return err
		}
		var err error
		if binds, err = s.store.ListBindings(ctx, inst); err != nil {
			return fmt.Errorf("list bindings: %w", err)
		}
	} else {
		orgs, err := orgsToList(r, p, s.store)
		if err != nil {
			return err
		}
		if orgs == nil {
			if binds, err = s.store.ListBindings(ctx, ""); err != nil {
				return fmt.Errorf("list bindings: %w", err)
			}
		}
		for _, o := range orgs {
			bs, err := s.store.ListOrgBindings(ctx, o)
			if err != nil {
				return fmt.Errorf("list bindings: %w", err)
			}
			binds = append(binds, bs...)
		}
	}
	out := make([]bindingView, 0, len(binds))
	for _, b := range binds {
		out = append(out, viewBinding(b))
	}
	writeList(w, out)
	return nil
}

func (s *Server) getBinding(w http.ResponseWriter, r *http.Request, p principal) error {
	b, err := visibleBinding(r.Context(), s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBinding(b))
	return nil
}

func (s *Server) revokeBinding(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var b store.Binding
	err := s.tx(ctx, func(q store.Queries) error {
		var err error
		if b, err = visibleBinding(ctx, q, p, id); err != nil {
			return err
		}
		if b.RevokedAt != nil {
			return nil
		}
		now := s.now().UTC()
		if err := q.RevokeBinding(ctx, id, now); err != nil {
			return storeErr(err, "revoke binding")
		}
		b.RevokedAt = &now
		return s.audit(ctx, q, p.TokenID, b.OrgID, "binding.revoke", id, nil)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBinding(b))
	return nil
}
