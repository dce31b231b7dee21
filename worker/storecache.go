package worker

import (
	"context"
	"fmt"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/gencache"
)

// Generations is a Directory that can say its store generation (store.Store
// does): every committed change bumps it.
type Generations interface {
	Generation(ctx context.Context) (int64, error)
}

// cachedDir is one task's view of the Directory: installations, profiles,
// agents and secrets (sealed, as stored) are answered from the cache of the
// store generation the task read (store/gencache), so a busy worker reads
// the generation and the conversation's revocation per task instead of
// four or more rows. A change (a revoked agent, a rotated secret, a revoked
// installation) bumps the generation and is seen by the next task.
// Provider revocations do not bump the generation: GetRevocation is read
// through every time, as are audit appends.
type cachedDir struct {
	Directory
	g *gencache.Gen
}

// dir returns the view of one task (or one reply); the Directory itself
// when it has no generations.
func (p *Pool) dir(ctx context.Context) (Directory, error) {
	gs, ok := p.cfg.Store.(Generations)
	if !ok {
		return p.cfg.Store, nil
	}
	gen, err := gs.Generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("store generation: %w", err)
	}
	return cachedDir{Directory: p.cfg.Store, g: p.config.At(gen)}, nil
}

func (d cachedDir) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	return gencache.Memo(d.g, "agent\x00"+id, func() (store.Agent, error) { return d.Directory.GetAgent(ctx, id) })
}

func (d cachedDir) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	return gencache.Memo(d.g, "inst\x00"+id, func() (store.Installation, error) { return d.Directory.GetInstallation(ctx, id) })
}

func (d cachedDir) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	return gencache.Memo(d.g, "prof\x00"+id, func() (store.AppProfile, error) { return d.Directory.GetProfile(ctx, id) })
}

// ListSecrets answers the sealed secrets (the ciphertexts as stored: they
// are opened per use, never kept open). The slice is shared: callers only
// read it.
func (d cachedDir) ListSecrets(ctx context.Context, ownerKind, ownerID string) ([]store.Secret, error) {
	return gencache.Memo(d.g, "sec\x00"+ownerKind+"\x00"+ownerID, func() ([]store.Secret, error) {
		return d.Directory.ListSecrets(ctx, ownerKind, ownerID)
	})
}
