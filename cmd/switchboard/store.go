package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/postgres"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

// Environment shared by every subcommand that opens the store.
const (
	envDataDir = "SWITCHBOARD_DATA_DIR" // default ./.data
	envStore   = "SWITCHBOARD_STORE"    // default sqlite:<data dir>/switchboard.db
)

// storeOptions are the --data-dir and --store flags the subcommands share.
type storeOptions struct {
	DataDir string
	Store   string
}

// addStoreFlags registers --data-dir and --store on fs.
func addStoreFlags(fs *flag.FlagSet) *storeOptions {
	o := &storeOptions{}
	dd := os.Getenv(envDataDir)
	if dd == "" {
		dd = ".data"
	}
	fs.StringVar(&o.DataDir, "data-dir", dd, "data directory (SQLite store, generated master key) [$"+envDataDir+"]")
	fs.StringVar(&o.Store, "store", os.Getenv(envStore),
		"store: sqlite:PATH, a file path, or postgres://… (default sqlite:<data-dir>/switchboard.db) [$"+envStore+"]")
	return o
}

// DSN is --store, else SQLite in the data directory.
func (o *storeOptions) DSN() string {
	if o.Store != "" {
		return o.Store
	}
	return "sqlite:" + filepath.Join(o.DataDir, "switchboard.db")
}

// parseStoreDSN splits a store DSN into its dialect and the driver's DSN:
// "sqlite:PATH" or a bare path is SQLite, "postgres://…" or
// "postgresql://…" is PostgreSQL.
func parseStoreDSN(dsn string) (migrate.Dialect, string, error) {
	switch {
	case dsn == "":
		return "", "", errors.New("empty store: want sqlite:PATH, a file path, or postgres://…")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return migrate.Postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if path == "" {
			return "", "", fmt.Errorf("store %q: no database file after sqlite:", dsn)
		}
		return migrate.SQLite, path, nil
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return "", "", fmt.Errorf("store: unknown scheme %q (want sqlite: or postgres://)", scheme)
	case looksLikeKeyValueDSN(dsn):
		// Taken as a path it would silently create a new, empty SQLite file.
		return "", "", errors.New("store: looks like a PostgreSQL key=value string; give a postgres://… URL " +
			"(or sqlite:PATH for a file whose name really is that)")
	}
	return migrate.SQLite, dsn, nil
}

// looksLikeKeyValueDSN reports a libpq "host=… dbname=…" string.
func looksLikeKeyValueDSN(s string) bool {
	for _, f := range strings.Fields(s) {
		k, _, ok := strings.Cut(f, "=")
		switch k {
		case "host", "hostaddr", "port", "dbname", "user", "password", "sslmode":
			if ok {
				return true
			}
		}
	}
	return false
}

// openStore opens the store named by dsn and migrates it up.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	d, conn, err := parseStoreDSN(dsn)
	if err != nil {
		return nil, err
	}
	var st store.Store
	switch d {
	case migrate.Postgres:
		st, err = postgres.Open(ctx, conn)
	default:
		st, err = sqlite.Open(ctx, conn)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// keyFileName is the generated master key file in the data directory.
const keyFileName = "master.keys"

// loadKeyring takes the master keys from the environment
// (SWITCHBOARD_MASTER_KEYS or SWITCHBOARD_MASTER_KEY_FILE); without them it
// uses <dataDir>/master.keys, creating it (mode 0600, one fresh key) on first
// use, so a default start needs nothing set up.
func loadKeyring(dataDir string) (*secrets.Keyring, error) {
	return loadKeyringFrom(dataDir, true)
}

func loadKeyringFrom(dataDir string, create bool) (*secrets.Keyring, error) {
	k, err := secrets.FromEnv()
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, secrets.ErrNoKeys) {
		return nil, err
	}
	path := filepath.Join(dataDir, keyFileName)
	info, err := os.Stat(path)
	switch {
	case err == nil:
		if info.Mode().Perm()&0o077 != 0 {
			slog.Warn("master key file is readable by others; chmod 600 it", "path", path, "mode", info.Mode().Perm().String())
		}
		return secrets.LoadFile(path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("master key file: %w", err)
	case !create:
		return nil, fmt.Errorf("%w, and there is no %s", secrets.ErrNoKeys, path)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	id := "k" + time.Now().UTC().Format("20060102")
	content := "# Switchboard master keys, one id:base64key per line; the first seals, all open.\n" +
		"# To rotate: add a new key as the first line, restart, run `switchboard secrets rekey`.\n" +
		secrets.FormatKey(id, secrets.NewKey()) + "\n"
	// Written to a temporary file and linked into place, so a concurrent
	// first start either creates the file or reads a complete one.
	tmp, err := os.CreateTemp(dataDir, keyFileName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return secrets.LoadFile(path) // another process created it first
	} else if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	slog.Info("generated a master key file: keep it (secrets in the store are unreadable without it); in production set "+
		secrets.EnvKeys+" or "+secrets.EnvKeyFile, "path", path, "key_id", id)
	return secrets.LoadFile(path)
}
