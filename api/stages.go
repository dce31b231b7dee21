package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/switchboard-dev/switchboard/store"
)

// viewStage shows a stage; canary org ids outside the caller's scope are
// left out so one tenant does not learn another's id.
func viewStage(ctx context.Context, q store.Queries, p principal, provider string, st *store.RolloutStage) stageView {
	if st == nil {
		return stageView{Provider: provider, Stage: store.StageOn, CanaryOrgs: []string{}, Default: true}
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
	seen := map[string]bool{}
	orgs := []string{}
	var prev string
	err := s.tx(ctx, func(q store.Queries) error {
		for i, o := range req.CanaryOrgs {
			field := "canary_orgs[" + strconv.Itoa(i) + "]"
			if seen[o] {
				return fieldErr(field, "duplicate organisation %q", o)
			}
			seen[o] = true
			if _, err := q.GetOrg(ctx, o); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fieldErr(field, "no organisation %q", o)
				}
				return fmt.Errorf("load organisation %s: %w", o, err)
			}
			orgs = append(orgs, o)
		}
		sort.Strings(orgs)
		prev = store.StageOn
		if old, err := q.GetStage(ctx, provider); err == nil {
			prev = old.Stage
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("get stage %s: %w", provider, err)
		}
		if err := q.SetStage(ctx, store.RolloutStage{Provider: provider, Stage: req.Stage, CanaryOrgs: orgs, UpdatedAt: s.now().UTC()}); err != nil {
			return storeErr(err, "set stage")
		}
		return s.audit(ctx, q, p.TokenID, "", "stage.set", provider, map[string]any{"stage": req.Stage, "previous": prev, "canary_orgs": orgs})
	})
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
