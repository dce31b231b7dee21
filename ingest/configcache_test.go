package ingest

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// countingStore counts the configuration reads that reach the store.
type countingStore struct {
	store.Store
	n atomic.Int64
}

func (s *countingStore) GetStage(ctx context.Context, p string) (store.RolloutStage, error) {
	s.n.Add(1)
	return s.Store.GetStage(ctx, p)
}
func (s *countingStore) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	s.n.Add(1)
	return s.Store.GetInstallation(ctx, id)
}
func (s *countingStore) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	s.n.Add(1)
	return s.Store.GetProfile(ctx, id)
}
func (s *countingStore) GetOrg(ctx context.Context, id string) (store.Org, error) {
	s.n.Add(1)
	return s.Store.GetOrg(ctx, id)
}
func (s *countingStore) ListBindings(ctx context.Context, id string) ([]store.Binding, error) {
	s.n.Add(1)
	return s.Store.ListBindings(ctx, id)
}
func (s *countingStore) FindInstallation(ctx context.Context, p, e string) (store.Installation, error) {
	s.n.Add(1)
	return s.Store.FindInstallation(ctx, p, e)
}

// TestConfigCache: a second event of the same installation reads no
// configuration from the store (only the generation), and every change —
// a revoked binding, a stage, a revoked installation — is seen by the very
// next request.
func TestConfigCache(t *testing.T) {
	h := newHarness(t)
	cs := &countingStore{Store: h.st}
	var err error
	if h.h, err = New(Config{Store: cs, Queue: h.q, AttestationKey: attKey, Logger: h.h.cfg.Logger, Now: h.h.cfg.Now}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvC1")), 200, "")
	if cs.n.Load() == 0 {
		t.Fatal("the first event read nothing from the store")
	}
	before := cs.n.Load()
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvC2")), 200, "")
	if got := cs.n.Load() - before; got != 0 {
		t.Fatalf("the second event made %d configuration reads, want 0 (cached for the generation)", got)
	}
	if n := len(h.tasks(t)); n != 2 {
		t.Fatalf("%d tasks, want 2", n)
	}

	// A revoked binding: the next event finds no target.
	must(t, h.st.RevokeBinding(ctx, "bind_slack_a_default", t0))
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvC3")), 200, "")
	if n := len(h.tasks(t)); n != 2 {
		t.Fatalf("%d tasks after the binding was revoked, want still 2", n)
	}
	// A stage turned off, then on again.
	must(t, h.st.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: store.StageOff, UpdatedAt: t0}))
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvC4")), 403, ReasonProviderOff)
	must(t, h.st.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: store.StageOn, UpdatedAt: t0}))
	// A revoked installation.
	must(t, h.st.RevokeInstallation(ctx, "inst_slack_a", t0))
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvC5")), 403, ReasonRevoked)
}
