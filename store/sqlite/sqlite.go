// Package sqlite is the embedded binding store: one SQLite file through the
// pure-Go modernc.org/sqlite driver (no cgo), in WAL mode with foreign keys on.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/internal/sqlstore"
)

// Store is a store.Store on one SQLite file.
type Store struct {
	*sqlstore.DB
	path string
}

var _ store.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Name:     "sqlite",
	TimeText: true,
	Classify: classify,
}

// Open opens (creating when missing, with its directory) the database file at
// path and migrates it up. A new file is created 0600 in a directory created
// 0700 (its -wal and -shm files take its mode): it holds sealed secrets and
// every binding.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite store: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite store: create directory for %s: %w", path, err)
		}
	}
	if err := migrate.CreateSQLiteFile(path); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	if err := migrate.Up(ctx, migrate.SQLite, path); err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", migrate.SQLiteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	// Keep the connections a busy process uses open: database/sql keeps two
	// idle by default, and every connection past them is opened (file,
	// pragmas, WAL index) and its statements prepared again per burst.
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return &Store{DB: sqlstore.New(db, dialect), path: path}, nil
}

// maxIdleConns is how many pool connections stay open between uses.
const maxIdleConns = 16

// Path is the database file.
func (s *Store) Path() string { return s.path }

func classify(err error) error {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return nil
}
