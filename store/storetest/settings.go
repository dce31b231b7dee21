package storetest

import (
	"errors"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// testInstallationSettings: settings replace as a whole, are per
// installation, bump the generation, and refuse a missing installation.
func testInstallationSettings(t *testing.T, s store.Store) {
	is, ok := s.(store.InstallationSettings)
	if !ok {
		t.Fatalf("%T does not implement store.InstallationSettings", s)
	}
	f := newFixture(t, s)
	got, err := is.GetInstallationSettings(ctx, f.inst.ID)
	must(t, err)
	equal(t, got, map[string]string{}, "settings before any")
	g0, err := s.Generation(ctx)
	must(t, err)
	must(t, is.SetInstallationSettings(ctx, f.inst.ID, map[string]string{"conversation_pointer": "/data/channel", "reply_url": "https://x.example/r"}))
	if g1, _ := s.Generation(ctx); g1 <= g0 {
		t.Fatalf("generation %d -> %d: settings did not bump it", g0, g1)
	}
	must(t, is.SetInstallationSettings(ctx, f.inst.ID, map[string]string{"conversation_pointer": "/data/thread"}))
	got, err = is.GetInstallationSettings(ctx, f.inst.ID)
	must(t, err)
	equal(t, got, map[string]string{"conversation_pointer": "/data/thread"}, "settings after replace")
	wantErr(t, is.SetInstallationSettings(ctx, "inst_missing", map[string]string{"a": "b"}), store.ErrNotFound, "settings of a missing installation")
	// Inside a transaction: only a commit keeps them.
	errBoom := errors.New("boom")
	err = s.InTx(ctx, func(q store.Queries) error {
		must(t, q.(store.InstallationSettings).SetInstallationSettings(ctx, f.inst.ID, nil))
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx: %v", err)
	}
	got, err = is.GetInstallationSettings(ctx, f.inst.ID)
	must(t, err)
	equal(t, got, map[string]string{"conversation_pointer": "/data/thread"}, "settings after a rolled-back clear")
	must(t, is.SetInstallationSettings(ctx, f.inst.ID, nil))
	got, err = is.GetInstallationSettings(ctx, f.inst.ID)
	must(t, err)
	equal(t, got, map[string]string{}, "settings after clearing")
}
