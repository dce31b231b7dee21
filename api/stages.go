package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/switchboard-dev/switchboard/store"
)

// viewStage shows a stage; canary org ids outside the caller's scope are
// left out so one tenant does not learn another's id.
func viewStage(ctx context.Context, q store.Queries, p principal, provider string, st *store.RolloutStage) stageView {
	if st == nil {
		return stageView{Provider: provider, Stage: store.StageOff, CanaryOrgs: []string{}, Unset: true}
	}
	v := stageView{Provider: provider, Stage: st.Stage, CanaryOrgs: []string{}}
	t := st.UpdatedAt
	v.UpdatedAt = &t
	for _, o := range st.CanaryOrgs {
		if p.Kind == store.TokenPlatform {
			v.CanaryOrgs = append(v.CanaryOrgs, o)
		} else if _, err := visibleOrg(ctx, q, p, o); err == nil {
			v.CanaryOrgs = append(v.CanaryOrgs, o)
		}
	}
	return v
}

func (s *Server) listStages(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	if err := queryParams(r); err != nil {
		return err
	}
	stages, err := s.store.ListStages(ctx)
	if err != nil {
		return fmt.Errorf("list stages: %w", err)
	}
	set := map[string]*store.RolloutStage{}
	for i := range stages {
		set[stages[i].Provider] = &stages[i]
	}
	out := make([]stageView, 0, len(Providers))
	for _, pr := range Providers {
		out = append(out, viewStage(ctx, s.store, p, pr, set[pr]))
	}
	writeList(w, out)
	return nil
}

func (s *Server) getStage(w http.ResponseWriter, r *http.Request, p principal) error {
	provider := r.PathValue("provider")
	if !knownProvider(provider) {
		return notFound("provider", provider)
	}
	ctx := r.Context()
	st, err := s.store.GetStage(ctx, provider)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusOK, viewStage(ctx, s.store, p, provider, nil))
		return nil
	case err != nil:
		return fmt.Errorf("get stage %s: %w", provider, err)
	}
	writeJSON(w, http.StatusOK, viewStage(ctx, s.store, p, provider, &st))
	return nil
}

func (s *Server) setStage(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := requirePlatform(p); err != nil {
		return forbidden("only the platform admin sets provider rollout stages")
	}
	provider := r.PathValue("provider")
	if !knownProvider(provider) {
		return notFound("provider", provider)
	}
	var req struct {
		Stage      string   `json:"stage"`
		CanaryOrgs []string `json:"canary_orgs"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	switch req.Stage {
	case store.StageOff, store.StageOn:
		if len(req.CanaryOrgs) > 0 {
			return fieldErr("canary_orgs", "only with stage %q", store.StageCanary)
		}
	case store.StageCanary:
	default:
		return fieldErr("stage", "must be one of off, canary, on")
	}
	ctx := r.Context()
	var refused *apiError
	err := s.tx(ctx, func(q store.Queries) error {
		orgs := []string{}
		if len(req.CanaryOrgs) > 0 {
			var err error
			if orgs, err = checkCanaryOrgs(ctx, q, req.CanaryOrgs); err != nil {
				return err
			}
		}
		old, had, err := loadStage(ctx, q, provider)
		if err != nil {
			return err
		}
		detail := map[string]any{}
		// Canary first: reaching on from another stage takes the same
		// evidence as `rollout promote`.
		if req.Stage == store.StageOn && (!had || old.Stage != store.StageOn) {
			d, err := s.gate(ctx, q, old)
			if err != nil {
				return err
			}
			if !d.Allowed {
				refused = promotionRefused(provider, d)
				return refused
			}
			detail["matrix_evidence"], detail["load_evidence"] = d.MatrixID, d.LoadID
		}
		if req.Stage != store.StageCanary {
			orgs = old.CanaryOrgs // remembered for a later rollback to canary
		}
		_, err = s.setRolloutStage(ctx, q, p.TokenID, old, had, req.Stage, nonNil(orgs), "stage.set", detail)
		return err
	})
	if refused != nil {
		if aerr := s.audit(ctx, s.store, p.TokenID, "", "rollout.promote_refused", provider, map[string]any{"missing": refused.Missing}); aerr != nil {
			return aerr
		}
		return refused
	}
	if err != nil {
		return err
	}
	st, err := s.store.GetStage(ctx, provider)
	if err != nil {
		return fmt.Errorf("get stage %s: %w", provider, err)
	}
	writeJSON(w, http.StatusOK, viewStage(ctx, s.store, p, provider, &st))
	return nil
}
