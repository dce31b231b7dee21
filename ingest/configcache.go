package ingest

import (
	"context"
	"maps"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/gencache"
)

// configCache holds ingest's reads of configuration (rollout stages,
// installations, profiles, orgs, bindings, settings) for one store
// generation (store/gencache). Every request reads the generation first and
// uses the cache of that generation; a committed change bumps it, so the
// next request sees the change at once. Conversation revocations do not
// bump the generation (they change nothing the edge serves), so they are
// never cached here.
type configCache = gencache.Cache

type genCache = gencache.Gen

func memo[T any](g *genCache, key string, load func() (T, error)) (T, error) {
	return gencache.Memo(g, key, load)
}

// reads is one request's view of the configuration: the store's reads
// through the cache of the generation the request saw. Slices and maps it
// returns are shared with other requests and must not be modified.
type reads struct {
	s store.Store
	g *genCache
}

// reads reads the store's generation and returns the request's view.
func (h *Handler) reads(ctx context.Context) (*reads, error) {
	gen, err := h.cfg.Store.Generation(ctx)
	if err != nil {
		return nil, err
	}
	return &reads{s: h.cfg.Store, g: h.config.At(gen)}, nil
}

func (r *reads) GetStage(ctx context.Context, provider string) (store.RolloutStage, error) {
	return memo(r.g, "stage\x00"+provider, func() (store.RolloutStage, error) { return r.s.GetStage(ctx, provider) })
}

func (r *reads) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	return memo(r.g, "inst\x00"+id, func() (store.Installation, error) { return r.s.GetInstallation(ctx, id) })
}

func (r *reads) FindInstallation(ctx context.Context, profileID, externalID string) (store.Installation, error) {
	return memo(r.g, "find\x00"+profileID+"\x00"+externalID, func() (store.Installation, error) {
		return r.s.FindInstallation(ctx, profileID, externalID)
	})
}

func (r *reads) ListLiveInstallations(ctx context.Context, profileID string, limit int) ([]store.Installation, error) {
	if limit != 2 { // the one call ingest makes; anything else is not worth a key
		return r.s.ListLiveInstallations(ctx, profileID, limit)
	}
	return memo(r.g, "live2\x00"+profileID, func() ([]store.Installation, error) {
		return r.s.ListLiveInstallations(ctx, profileID, limit)
	})
}

func (r *reads) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	return memo(r.g, "prof\x00"+id, func() (store.AppProfile, error) { return r.s.GetProfile(ctx, id) })
}

func (r *reads) GetOrg(ctx context.Context, id string) (store.Org, error) {
	return memo(r.g, "org\x00"+id, func() (store.Org, error) { return r.s.GetOrg(ctx, id) })
}

func (r *reads) ListBindings(ctx context.Context, installationID string) ([]store.Binding, error) {
	return memo(r.g, "bind\x00"+installationID, func() ([]store.Binding, error) { return r.s.ListBindings(ctx, installationID) })
}

// GetInstallationSettings reads the installation's settings when the store
// keeps them (ok false when it does not). The map is the caller's own.
func (r *reads) GetInstallationSettings(ctx context.Context, id string) (map[string]string, bool, error) {
	is, ok := r.s.(store.InstallationSettings)
	if !ok {
		return nil, false, nil
	}
	m, err := memo(r.g, "set\x00"+id, func() (map[string]string, error) { return is.GetInstallationSettings(ctx, id) })
	return maps.Clone(m), true, err
}
