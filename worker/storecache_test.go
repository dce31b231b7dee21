package worker

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// countingDir counts the configuration reads that reach the store.
type countingDir struct {
	store.Store
	n atomic.Int64
}

func (d *countingDir) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	d.n.Add(1)
	return d.Store.GetAgent(ctx, id)
}
func (d *countingDir) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	d.n.Add(1)
	return d.Store.GetInstallation(ctx, id)
}
func (d *countingDir) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	d.n.Add(1)
	return d.Store.GetProfile(ctx, id)
}
func (d *countingDir) ListSecrets(ctx context.Context, kind, owner string) ([]store.Secret, error) {
	d.n.Add(1)
	return d.Store.ListSecrets(ctx, kind, owner)
}

// TestStoreReadsCachedByGeneration: the second delivery of the same agent
// and installation reads no installation, agent or secret from the store
// (the cache of the store generation answers); revoking the agent bumps
// the generation, and the very next task sees it (dead-lettered, never
// delivered).
func TestStoreReadsCachedByGeneration(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	dir := &countingDir{Store: e.st}
	run(t, e.pool("w1", func(c *Config) { c.Store = dir }))
	if err := e.client.Enqueue(ctx, event("C1", 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first delivery", 10*time.Second, func() bool { return e.agent.delivered() == 1 })
	first := dir.n.Load()
	if first == 0 {
		t.Fatal("the first delivery read nothing from the store")
	}
	if err := e.client.Enqueue(ctx, event("C1", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second delivery", 10*time.Second, func() bool { return e.agent.delivered() == 2 })
	if n := dir.n.Load(); n != first {
		t.Fatalf("the second delivery made %d configuration reads, want 0 (cached for the generation)", n-first)
	}
	if err := e.st.RevokeAgent(ctx, "agt_a", time.Now()); err != nil {
		t.Fatal(err)
	}
	revoked := event("C2", 1)
	if err := e.client.Enqueue(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked agent's task dead-lettered", 10*time.Second, func() bool {
		dl, _ := DeadLetters(ctx, e.rc, e.shards)
		return len(dl) == 1
	})
	dl, err := DeadLetters(ctx, e.rc, e.shards)
	if err != nil {
		t.Fatal(err)
	}
	if dl[0].ID != revoked.ID || !strings.Contains(dl[0].LastError, "agent agt_a is revoked") {
		t.Fatalf("dead letter %s %q, want %s with the revoked agent", dl[0].ID, dl[0].LastError, revoked.ID)
	}
	if n := e.agent.triesOf(revoked.EventID); n != 0 {
		t.Fatalf("revoked agent called %d times", n)
	}
}

// GenerationAndRevocation passes the combined read through (uncounted: it
// is the per-task read).
func (d *countingDir) GenerationAndRevocation(ctx context.Context, inst, conv string) (int64, *store.Revocation, error) {
	return d.Store.(GenerationRevocation).GenerationAndRevocation(ctx, inst, conv)
}
