// Package postgres is the production binding store on PostgreSQL through
// pgx/v5 (its database/sql driver). Several control-plane replicas may share
// one database: writes bump a generation row that replicas poll.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/internal/sqlstore"
)

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	*sqlstore.DB
}

var _ store.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	Name:     "postgres",
	Numbered: true,
	Classify: classify,
}

// Open connects to dsn (postgres://… URL or key=value string) and migrates the
// database up. Migrations take an advisory lock, so replicas may start at once.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if err := migrate.Up(ctx, migrate.Postgres, dsn); err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(5)
	return &Store{DB: sqlstore.New(db, dialect)}, nil
}

func classify(err error) error {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return nil
	}
	switch e.Code {
	case "23505": // unique_violation
		return store.ErrConflict
	case "23503": // foreign_key_violation
		return store.ErrNotFound
	}
	return nil
}
