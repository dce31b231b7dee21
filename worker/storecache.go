package worker

import (
	"context"
	"fmt"

	"github.com/switchboard-dev/switchboard/envelope"
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
	// The revocation of the task's conversation, read with the generation
	// (GenerationRevocation) when revKnown.
	revInst, revConv string
	rev              *store.Revocation
	revKnown         bool
}

// GenerationRevocation is a Directory that reads the generation and a
// conversation's revocation in one statement (the SQL stores).
type GenerationRevocation interface {
	GenerationAndRevocation(ctx context.Context, installationID, conversation string) (int64, *store.Revocation, error)
}

// dir returns the view of one task (or one reply) of env; the Directory
// itself when it has no generations.
func (p *Pool) dir(ctx context.Context, env envelope.Envelope) (Directory, error) {
	if gr, ok := p.cfg.Store.(GenerationRevocation); ok {
		gen, rev, err := gr.GenerationAndRevocation(ctx, env.InstallationID, env.Conversation)
		if err != nil {
			return nil, fmt.Errorf("store generation: %w", err)
		}
		return cachedDir{Directory: p.cfg.Store, g: p.config.At(gen),
			revInst: env.InstallationID, revConv: env.Conversation, rev: rev, revKnown: true}, nil
	}
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

// GetRevocation answers the task's own conversation from the read made with
// the generation; anything else from the store (never cached).
func (d cachedDir) GetRevocation(ctx context.Context, installationID, conversation string) (store.Revocation, error) {
	if d.revKnown && installationID == d.revInst && conversation == d.revConv {
		if d.rev == nil {
			return store.Revocation{}, fmt.Errorf("revocation of installation %s: %w", installationID, store.ErrNotFound)
		}
		return *d.rev, nil
	}
	return d.Directory.GetRevocation(ctx, installationID, conversation)
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
