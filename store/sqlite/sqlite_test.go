package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
	"github.com/switchboard-dev/switchboard/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "switchboard.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestOddPath: characters a SQLite URI would decode or cut at stay literal.
func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b%20c?#d")
	path := filepath.Join(dir, "x y.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AppendAudit(context.Background(), store.AuditEvent{Actor: "system", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the literal path: %v", err)
	}
}
