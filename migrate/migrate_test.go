package migrate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/servicetest"
)

var tables = []string{"agencies", "orgs", "app_profiles", "installations", "secrets", "agents", "bindings",
	"rollout_stages", "audit_events", "api_tokens", "store_generation", "import_keys",
	"installation_handoffs", "oauth_clients", "oauth_states_used", "revocations", "installation_settings", "rollout_evidence", "org_limits"}

// roundTrip runs up -> down -> up and checks the schema and the status at
// each step; count returns how many of the store's tables exist.
func roundTrip(t *testing.T, d migrate.Dialect, dsn string, count func() int) {
	ctx := context.Background()
	latest, err := migrate.Latest(d)
	if err != nil || latest == 0 {
		t.Fatalf("latest %s migration: %d, %v", d, latest, err)
	}
	st, err := migrate.Status(ctx, d, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != 0 || st.Current() {
		t.Fatalf("fresh database status: %+v", st)
	}
	for i, step := range []string{"up", "down", "up", "up"} {
		var err error
		if step == "up" {
			err = migrate.Up(ctx, d, dsn)
		} else {
			err = migrate.Down(ctx, d, dsn)
		}
		if err != nil {
			t.Fatalf("step %d %s: %v", i, step, err)
		}
		st, err := migrate.Status(ctx, d, dsn)
		if err != nil {
			t.Fatal(err)
		}
		n := count()
		switch step {
		case "up":
			if !st.Current() || st.Version != latest || n != len(tables) {
				t.Fatalf("after %s: status %+v, %d of %d tables", step, st, n, len(tables))
			}
		case "down":
			if st.Version != 0 || st.Dirty || n != 0 {
				t.Fatalf("after down: status %+v, %d tables left", st, n)
			}
		}
	}
}

func countTables(t *testing.T, db *sql.DB, query string) func() int {
	return func() int {
		n := 0
		for _, tb := range tables {
			var c int
			if err := db.QueryRow(query, tb).Scan(&c); err != nil {
				t.Fatal(err)
			}
			n += c
		}
		return n
	}
}

func TestSQLiteRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rt.db")
	db, err := sql.Open("sqlite", migrate.SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	roundTrip(t, migrate.SQLite, path, countTables(t, db, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`))
}

func TestUnknownDialect(t *testing.T) {
	err := migrate.Up(context.Background(), "mysql", "x")
	if err == nil || !strings.Contains(err.Error(), `unknown store dialect "mysql"`) {
		t.Fatalf("unknown dialect: %v", err)
	}
}

func TestPostgresRoundTrip(t *testing.T) {
	pg := servicetest.StartPostgres(t)
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	roundTrip(t, migrate.Postgres, pg.DSN, countTables(t, db,
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = $1`))
}

func TestPostgresBadDSN(t *testing.T) {
	err := migrate.Up(context.Background(), migrate.Postgres, "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("migrate up on a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error carries the password: %v", err)
	}
}

func TestMain(m *testing.M) { servicetest.Main(m) }
