package storetest

import (
	"context"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// generationRevocation is the worker's one-statement read (sqlstore).
type generationRevocation interface {
	GenerationAndRevocation(ctx context.Context, installationID, conversation string) (int64, *store.Revocation, error)
}

// testGenerationAndRevocation: the combined read answers what Generation
// and GetRevocation answer, for a conversation without and with a
// revocation and for another installation's.
func testGenerationAndRevocation(t *testing.T, s store.Store) {
	gr, ok := s.(generationRevocation)
	if !ok {
		t.Skip("the store has no combined generation and revocation read")
	}
	f := newFixture(t, s)
	check := func(conv string, want *store.Revocation) {
		t.Helper()
		g, rev, err := gr.GenerationAndRevocation(ctx, f.inst.ID, conv)
		must(t, err)
		g0, err := s.Generation(ctx)
		must(t, err)
		if g != g0 {
			t.Fatalf("generation %d, Generation says %d", g, g0)
		}
		if want == nil {
			if rev != nil {
				t.Fatalf("conversation %q: revocation %+v, want none", conv, rev)
			}
			return
		}
		if rev == nil {
			t.Fatalf("conversation %q: no revocation, want %+v", conv, want)
		}
		equal(t, *rev, *want, "revocation of "+conv)
	}
	check("C1", nil)
	chat := store.Revocation{InstallationID: f.inst.ID, Conversation: "C1", Reason: "my_chat_member.kicked", EventID: "10006", RevokedAt: us(t0)}
	must(t, s.PutRevocation(ctx, chat))
	check("C1", &chat)
	check("C2", nil)
	check("", nil)
	whole := store.Revocation{InstallationID: f.inst.ID, Reason: "app_uninstalled", RevokedAt: us(t0)}
	must(t, s.PutRevocation(ctx, whole))
	check("", &whole)
	if _, rev, err := gr.GenerationAndRevocation(ctx, "inst_other", "C1"); err != nil || rev != nil {
		t.Fatalf("another installation: %+v, %v", rev, err)
	}
}
