// Package migrate holds the binding store's schema migrations, one set per
// dialect (embedded SQL files run by github.com/golang-migrate/migrate/v4), and
// Up/Down/Status over a database named by a dialect and a data source name.
package migrate

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	gomigrate "github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	sqlitemigrate "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Dialect names a migration set.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// State is where a database stands.
type State struct {
	Version uint // 0: no migration applied
	Dirty   bool // a migration failed half-way; fix by hand, then force
	Latest  uint // newest migration this binary knows
}

// Current reports whether the database is at the latest version and clean.
func (s State) Current() bool { return !s.Dirty && s.Version == s.Latest }

// SQLiteDSN is the modernc.org/sqlite data source name for a database file with
// the settings every connection needs: WAL, a busy timeout instead of instant
// SQLITE_BUSY, foreign keys enforced, and write transactions that take the
// write lock at BEGIN (no deadlock when a reader upgrades to a writer).
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	// The path is a URI path: escape what SQLite would decode or cut at.
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + q.Encode()
}

// CreateSQLiteFile creates the database file at path, empty and mode 0600,
// when it does not exist (and its directory, 0700, when missing). SQLite would create it with the umask's mode
// (usually 0644: readable by every local user, secrets' ciphertexts and all),
// and it gives the -wal and -shm files the database file's mode. An existing
// file keeps its mode.
func CreateSQLiteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory of the sqlite database: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("create sqlite database file: %w", err)
	}
	return f.Close()
}

// Up applies every pending migration. dsn is a file path for SQLite and a
// PostgreSQL connection string for Postgres.
func Up(ctx context.Context, d Dialect, dsn string) error {
	return run(ctx, d, dsn, "up", func(m *gomigrate.Migrate) error {
		if err := m.Up(); err != nil && !errors.Is(err, gomigrate.ErrNoChange) {
			return err
		}
		return nil
	})
}

// Down reverts every applied migration (drops the schema and its data).
func Down(ctx context.Context, d Dialect, dsn string) error {
	return run(ctx, d, dsn, "down", func(m *gomigrate.Migrate) error {
		if err := m.Down(); err != nil && !errors.Is(err, gomigrate.ErrNoChange) {
			return err
		}
		return nil
	})
}

// Status reads the applied version.
func Status(ctx context.Context, d Dialect, dsn string) (State, error) {
	var st State
	latest, err := Latest(d)
	if err != nil {
		return st, err
	}
	st.Latest = latest
	err = run(ctx, d, dsn, "status", func(m *gomigrate.Migrate) error {
		v, dirty, err := m.Version()
		if errors.Is(err, gomigrate.ErrNilVersion) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Version, st.Dirty = v, dirty
		return nil
	})
	return st, err
}

// Latest is the newest migration version of a dialect.
func Latest(d Dialect) (uint, error) {
	src, err := sourceFor(d)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return 0, fmt.Errorf("migrations %s: %w", d, err)
	}
	for {
		next, err := src.Next(v)
		if errors.Is(err, fs.ErrNotExist) {
			return v, nil
		}
		if err != nil {
			return 0, fmt.Errorf("migrations %s: %w", d, err)
		}
		v = next
	}
}

func sourceFor(d Dialect) (source.Driver, error) {
	switch d {
	case SQLite, Postgres:
	default:
		return nil, fmt.Errorf("unknown store dialect %q (want %q or %q)", d, SQLite, Postgres)
	}
	src, err := iofs.New(files, string(d))
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", d, err)
	}
	return src, nil
}

// run opens a private connection pool for the migration (the golang-migrate
// drivers close the pool they are given) and runs fn with a Migrate on it.
func run(ctx context.Context, d Dialect, dsn, what string, fn func(*gomigrate.Migrate) error) error {
	src, err := sourceFor(d)
	if err != nil {
		return err
	}
	var (
		db  *sql.DB
		drv database.Driver
	)
	switch d {
	case SQLite:
		if err := CreateSQLiteFile(dsn); err != nil {
			return err
		}
		db, err = sql.Open("sqlite", SQLiteDSN(dsn))
		if err == nil {
			drv, err = sqlitemigrate.WithInstance(db, &sqlitemigrate.Config{})
		}
	case Postgres:
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			// The migrations table name is fixed so that status works
			// across versions of this binary.
			drv, err = pgxmigrate.WithInstance(db, &pgxmigrate.Config{MigrationsTable: "schema_migrations"})
		}
	}
	if err != nil {
		src.Close()
		if db != nil {
			db.Close()
		}
		return fmt.Errorf("migrate %s: open %s store: %w", what, d, redact(err, dsn))
	}
	m, err := gomigrate.NewWithInstance("iofs", src, string(d), drv)
	if err != nil {
		src.Close()
		drv.Close()
		return fmt.Errorf("migrate %s: %w", what, err)
	}
	// A cancelled context stops between migrations, never inside one.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
		case <-done:
		}
	}()
	err = fn(m)
	srcErr, dbErr := m.Close()
	if err != nil {
		return fmt.Errorf("migrate %s %s: %w", what, d, err)
	}
	if srcErr != nil || dbErr != nil {
		return fmt.Errorf("migrate %s %s: close: %w", what, d, errors.Join(srcErr, dbErr))
	}
	return nil
}

// redact keeps a password in a PostgreSQL URL out of error messages.
func redact(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Versions lists a dialect's migration versions, oldest first (what the
// embedded files hold).
func Versions(d Dialect) ([]uint, error) {
	src, err := sourceFor(d)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	v, err := src.First()
	if err != nil {
		return nil, fmt.Errorf("migrations %s: %w", d, err)
	}
	out := []uint{v}
	for {
		next, err := src.Next(v)
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("migrations %s: %w", d, err)
		}
		out = append(out, next)
		v = next
	}
}

// To migrates up or down to version v (0: every migration reverted).
func To(ctx context.Context, d Dialect, dsn string, v uint) error {
	return run(ctx, d, dsn, fmt.Sprintf("to %d", v), func(m *gomigrate.Migrate) error {
		var err error
		if v == 0 {
			err = m.Down()
		} else {
			err = m.Migrate(v)
		}
		if err != nil && !errors.Is(err, gomigrate.ErrNoChange) {
			return err
		}
		return nil
	})
}
