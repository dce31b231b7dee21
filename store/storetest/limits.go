package storetest

import (
	"errors"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// testOrgLimits: limits are per org, replace as a whole, bump the
// generation, list only orgs with a limit set, refuse a missing org and a
// negative value, and follow a transaction.
func testOrgLimits(t *testing.T, s store.Store) {
	ls, ok := s.(store.Limits)
	if !ok {
		t.Fatalf("%T does not implement store.Limits", s)
	}
	f := newFixture(t, s)
	got, err := ls.GetOrgLimits(ctx, f.org.ID)
	must(t, err)
	equal(t, got, store.OrgLimits{OrgID: f.org.ID}, "limits before any")
	all, err := ls.ListOrgLimits(ctx)
	must(t, err)
	if len(all) != 0 {
		t.Fatalf("list before any: %+v", all)
	}
	g0, err := s.Generation(ctx)
	must(t, err)
	want := store.OrgLimits{OrgID: f.org.ID, RatePerSec: 50, Burst: 100, MaxInFlight: 4, UpdatedAt: us(t0)}
	must(t, ls.SetOrgLimits(ctx, want))
	if g1, _ := s.Generation(ctx); g1 <= g0 {
		t.Fatalf("generation %d -> %d: limits did not bump it", g0, g1)
	}
	got, err = ls.GetOrgLimits(ctx, f.org.ID)
	must(t, err)
	equal(t, got, utcLimits(want), "limits after set")
	other, err := ls.GetOrgLimits(ctx, f.other.ID)
	must(t, err)
	equal(t, other, store.OrgLimits{OrgID: f.other.ID}, "the other org's limits")
	// Replace as a whole: a field left zero is unset again.
	want = store.OrgLimits{OrgID: f.org.ID, MaxInFlight: 2, UpdatedAt: us(t0.Add(60e9))}
	must(t, ls.SetOrgLimits(ctx, want))
	got, err = ls.GetOrgLimits(ctx, f.org.ID)
	must(t, err)
	equal(t, got, utcLimits(want), "limits after replace")
	o2 := store.OrgLimits{OrgID: f.other.ID, RatePerSec: 5, UpdatedAt: us(t0)}
	must(t, ls.SetOrgLimits(ctx, o2))
	all, err = ls.ListOrgLimits(ctx)
	must(t, err)
	wantAll := []store.OrgLimits{utcLimits(want), utcLimits(o2)}
	if wantAll[0].OrgID > wantAll[1].OrgID {
		wantAll[0], wantAll[1] = wantAll[1], wantAll[0]
	}
	equal(t, all, wantAll, "list of limits")

	wantErr(t, ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: "org_missing", RatePerSec: 1, UpdatedAt: us(t0)}), store.ErrNotFound, "limits of a missing org")
	_, err = ls.GetOrgLimits(ctx, "org_missing")
	wantErr(t, err, store.ErrNotFound, "get limits of a missing org")
	if err := ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: f.org.ID, RatePerSec: -1, UpdatedAt: us(t0)}); err == nil {
		t.Fatal("a negative rate was stored")
	}

	// Inside a transaction: only a commit keeps them.
	errBoom := errors.New("boom")
	err = s.InTx(ctx, func(q store.Queries) error {
		must(t, q.(store.Limits).SetOrgLimits(ctx, store.OrgLimits{OrgID: f.org.ID, UpdatedAt: us(t0)}))
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx: %v", err)
	}
	got, err = ls.GetOrgLimits(ctx, f.org.ID)
	must(t, err)
	equal(t, got, utcLimits(want), "limits after a rolled-back clear")
	// All zero clears them: the org drops out of the list.
	must(t, ls.SetOrgLimits(ctx, store.OrgLimits{OrgID: f.org.ID, UpdatedAt: us(t0)}))
	got, err = ls.GetOrgLimits(ctx, f.org.ID)
	must(t, err)
	equal(t, got, store.OrgLimits{OrgID: f.org.ID}, "limits after clearing")
	all, err = ls.ListOrgLimits(ctx)
	must(t, err)
	equal(t, all, []store.OrgLimits{utcLimits(o2)}, "list after clearing one")
}

func utcLimits(l store.OrgLimits) store.OrgLimits {
	l.UpdatedAt = l.UpdatedAt.UTC()
	return l
}
