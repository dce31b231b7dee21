package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStatementsPrepared: a read prepares its statement once and reuses it
// (the count stays put over repeated calls), the statements keep answering
// right when the pool replaces its connections, and writes inside
// transactions see each other's effects through them.
func TestStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	g0, err := s.Generation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOrg(ctx, "org_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing org: %v, want ErrNotFound", err)
	}
	n := s.PreparedStatements()
	if n < 2 {
		t.Fatalf("%d prepared statements after two reads, want at least 2", n)
	}
	for i := 0; i < 20; i++ {
		if _, err := s.Generation(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetOrg(ctx, "org_missing"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if got := s.PreparedStatements(); got != n {
		t.Fatalf("%d prepared statements after repeating the same reads, want %d", got, n)
	}
	// Every connection closed after use: each read runs on a new one, where
	// the statement is prepared again.
	s.SQL().SetMaxIdleConns(0)
	now := time.Now().UTC()
	for i := 0; i < 3; i++ {
		id := "org_" + string(rune('a'+i))
		if err := s.CreateOrg(ctx, store.Org{ID: id, Name: id, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		o, err := s.GetOrg(ctx, id)
		if err != nil || o.ID != id {
			t.Fatalf("org %s read back as %+v, %v", id, o, err)
		}
		g, err := s.Generation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := g0 + int64(i) + 1; g != want {
			t.Fatalf("generation %d after %d writes, want %d", g, i+1, want)
		}
	}
}

// BenchmarkGeneration is the read ingest makes on every request.
func BenchmarkGeneration(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Generation(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRevocation is the conversation-revocation read of every event
// (not found: the usual case).
func BenchmarkGetRevocation(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetRevocation(ctx, "inst_1", "C123"); !errors.Is(err, store.ErrNotFound) {
			b.Fatal(err)
		}
	}
}
