package ingest

import (
	"context"
	"errors"
	"maps"
	"sync"

	"github.com/switchboard-dev/switchboard/store"
)

// configCacheMax bounds the entries of one generation's cache; past it the
// reads of that generation go to the store uncached.
const configCacheMax = 1 << 17

// configCache holds ingest's reads of configuration (rollout stages,
// installations, profiles, orgs, bindings, settings) for one store
// generation. Every request reads the generation first (one small query) and
// uses the cache of that generation; a committed change bumps the generation,
// so the next request starts a fresh cache and sees the change at once.
// Conversation revocations do not bump the generation (they change nothing
// the edge serves), so they are never cached here.
//
// A request keeps the cache of the generation it read even when a newer one
// has started: what it stores there is never newer than that generation's
// successor, and no later request uses it.
type configCache struct {
	mu  sync.Mutex
	cur *genCache
}

type genCache struct {
	gen int64
	mu  sync.Mutex
	m   map[string]cached
}

type cached struct {
	v   any
	err error // nil or store.ErrNotFound
}

// at returns the cache of generation gen, starting it when gen is new.
func (c *configCache) at(gen int64) *genCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.gen != gen {
		c.cur = &genCache{gen: gen, m: make(map[string]cached)}
	}
	return c.cur
}

// memo answers key from g, or calls load and keeps what it returned when it
// is a value or "not found" (other errors are not kept).
func memo[T any](g *genCache, key string, load func() (T, error)) (T, error) {
	g.mu.Lock()
	e, ok := g.m[key]
	g.mu.Unlock()
	if ok {
		v, _ := e.v.(T)
		return v, e.err
	}
	v, err := load()
	if err == nil || errors.Is(err, store.ErrNotFound) {
		g.mu.Lock()
		if len(g.m) < configCacheMax {
			g.m[key] = cached{v: v, err: err}
		}
		g.mu.Unlock()
	}
	return v, err
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
	return &reads{s: h.cfg.Store, g: h.config.at(gen)}, nil
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
