package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"

	"github.com/switchboard-dev/switchboard/egress"
	"github.com/switchboard-dev/switchboard/store"
)

// NewAgentSecret returns a fresh Standard Webhooks secret ("whsec_" + base64
// of 32 random bytes).
func NewAgentSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// checkAgentURL validates an agent URL when it is written (create, update).
// Unless the deployment allows private agent URLs, its host must pass the
// egress policy (egress.HostAllowed: no loopback, private, link-local,
// metadata or reserved address); the worker checks the resolved address
// again when it connects.
func (s *Server) checkAgentURL(field, raw string) error {
	if err := checkAgentURLForm(field, raw); err != nil {
		return err
	}
	if s.allowPrivateAgentURLs {
		return nil
	}
	u, _ := url.Parse(raw)
	if err := egress.HostAllowed(u.Hostname()); err != nil {
		return fieldErr(field, "must not name a loopback, private, link-local, metadata or reserved address (%s); this deployment does not allow private agent URLs", u.Hostname())
	}
	return nil
}

func checkAgentURLForm(field, raw string) error {
	if raw == "" {
		return fieldErr(field, "required")
	}
	if len(raw) > 2048 {
		return fieldErr(field, "must be at most 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr(field, "must be an absolute http or https URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fieldErr(field, "scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return fieldErr(field, "must name a host")
	case u.User != nil:
		return fieldErr(field, "must not carry credentials (the agent authenticates deliveries by their signature)")
	case u.Fragment != "":
		return fieldErr(field, "must not have a fragment")
	}
	return nil
}

func (s *Server) createAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		OrgID         string `json:"org_id"`
		Name          string `json:"name"`
		URL           string `json:"url"`
		SigningSecret string `json:"signing_secret"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := checkText("name", req.Name, 200, false); err != nil {
		return err
	}
	if err := s.checkAgentURL("url", req.URL); err != nil {
		return err
	}
	secret := req.SigningSecret
	if secret == "" {
		secret = NewAgentSecret()
	} else if msg := whsecSecret(secret); msg != "" {
		return fieldErr("signing_secret", "%s", msg)
	}
	ctx := r.Context()
	now := s.now().UTC()
	var view agentView
	err := s.tx(ctx, func(q store.Queries) error {
		org, err := activeOrg(ctx, q, p, req.OrgID, "org_id")
		if err != nil {
			return err
		}
		a := store.Agent{ID: newID("agt"), OrgID: org.ID, Name: req.Name, URL: req.URL, CreatedAt: now}
		if err := q.CreateAgent(ctx, a); err != nil {
			return storeErr(err, "create agent")
		}
		fps, err := s.createSecrets(ctx, q, store.OwnerAgent, a.ID, []string{store.PurposeSigning}, map[string]string{store.PurposeSigning: secret}, now)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, q, p.TokenID, org.ID, "agent.create", a.ID, map[string]any{"name": a.Name, "url": a.URL, "secrets": fps}); err != nil {
			return err
		}
		view, err = s.viewAgent(ctx, q, a)
		return err
	})
	if err != nil {
		return err
	}
	view.SigningSecret = secret // returned once, here
	writeJSON(w, http.StatusCreated, view)
	return nil
}

func visibleAgent(ctx context.Context, q store.Queries, p principal, id string) (store.Agent, error) {
	return loadVisible(ctx, q, p, "agent", id, q.GetAgent,
		func(a store.Agent) (string, bool) { return a.OrgID, false })
}

func (s *Server) listAgents(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r, "org_id"); err != nil {
		return err
	}
	orgs, err := orgsToList(r, p, s.store)
	if err != nil {
		return err
	}
	agents, err := listInOrgs(ctx, orgs, "agents", s.store.ListAgents)
	if err != nil {
		return err
	}
	out := make([]agentView, 0, len(agents))
	for _, a := range agents {
		v, err := s.viewAgent(ctx, s.store, a)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeList(w, out)
	return nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	a, err := visibleAgent(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.viewAgent(ctx, s.store, a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// revokeAgent revokes the agent and its bindings in one transaction, so no
// route keeps pointing at it.
func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var view agentView
	err := s.tx(ctx, func(q store.Queries) error {
		a, err := visibleAgent(ctx, q, p, id)
		if err != nil {
			return err
		}
		if a.RevokedAt == nil {
			now := s.now().UTC()
			if err := q.RevokeAgent(ctx, id, now); err != nil {
				return storeErr(err, "revoke agent")
			}
			a.RevokedAt = &now
			binds, err := q.ListOrgBindings(ctx, a.OrgID)
			if err != nil {
				return fmt.Errorf("list bindings: %w", err)
			}
			n := 0
			for _, b := range binds {
				if b.AgentID == id && b.RevokedAt == nil {
					if err := q.RevokeBinding(ctx, b.ID, now); err != nil {
						return storeErr(err, "revoke binding")
					}
					n++
				}
			}
			if err := s.audit(ctx, q, p.TokenID, a.OrgID, "agent.revoke", id, map[string]any{"cascade": map[string]int{"bindings": n}}); err != nil {
				return err
			}
		}
		view, err = s.viewAgent(ctx, q, a)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}
