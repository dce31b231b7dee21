//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDataDirIsPrivate: whichever command creates the data directory first
// (one opening the store, one loading the master key, `migrate up`), it is
// 0700 and the database file 0600, even with a permissive umask.
func TestDataDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	for name, create := range map[string]func(dataDir string) error{
		"openStore": func(dataDir string) error {
			st, err := openStore(ctx, (&storeOptions{DataDir: dataDir}).DSN())
			if err == nil {
				st.Close()
			}
			return err
		},
		"loadKeyring": func(dataDir string) error { _, err := loadKeyringFrom(dataDir, true); return err },
		"migrate up": func(dataDir string) error {
			return runMigrate(ctx, []string{"up", "--data-dir", dataDir}, io.Discard, io.Discard)
		},
	} {
		t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
		t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
		t.Setenv(envStore, "")
		dataDir := filepath.Join(t.TempDir(), "a", "data")
		if err := create(dataDir); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, p := range []string{dataDir, filepath.Dir(dataDir)} {
			if info, err := os.Stat(p); err != nil || info.Mode().Perm() != 0o700 {
				t.Errorf("%s: %s: %v %v, want 0700", name, p, info.Mode(), err)
			}
		}
		db := filepath.Join(dataDir, "switchboard.db")
		if name == "loadKeyring" {
			continue // no store opened
		}
		if info, err := os.Stat(db); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s: %v %v, want 0600", name, db, info.Mode(), err)
		}
	}
}
