package migrate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// Migration 000005 makes stages explicit: a store that already holds
// profiles keeps serving every provider (no row used to mean on), audited;
// a new store gets no rows (serve --initial-stage states them).
func testStagesBackfill(t *testing.T, d migrate.Dialect, dsn string, db *sql.DB, now string) {
	ctx := context.Background()
	count := func(q string) int {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A new deployment: no stage rows.
	if err := migrate.Up(ctx, d, dsn); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(*) FROM rollout_stages`); n != 0 {
		t.Fatalf("new store: %d stage rows, want none", n)
	}
	if err := migrate.Down(ctx, d, dsn); err != nil {
		t.Fatal(err)
	}
	// An existing deployment: profiles, one provider set to off.
	if err := migrate.To(ctx, d, dsn, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO app_profiles (id, provider, name, created_at) VALUES ('prof_1', 'slack', 'app', ` + now + `)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO rollout_stages (provider, stage, canary_orgs, updated_at) VALUES ('discord', 'off', '[]', ` + now + `)`); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Up(ctx, d, dsn); err != nil {
		t.Fatal(err)
	}
	var stage string
	if err := db.QueryRow(`SELECT stage FROM rollout_stages WHERE provider = 'discord'`).Scan(&stage); err != nil || stage != "off" {
		t.Fatalf("discord kept %q (%v), want off", stage, err)
	}
	if n := count(`SELECT count(*) FROM rollout_stages WHERE stage = 'on'`); n != 9 {
		t.Fatalf("%d providers backfilled on, want 9", n)
	}
	if n := count(`SELECT count(*) FROM audit_events WHERE action = 'stage.set' AND actor = 'migration'`); n != 9 {
		t.Fatalf("%d backfill audit events, want 9", n)
	}
}

func TestSQLiteStagesBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bf.db")
	db, err := sql.Open("sqlite", migrate.SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testStagesBackfill(t, migrate.SQLite, path, db, `'2026-01-01T00:00:00.000000Z'`)
}

func TestPostgresStagesBackfill(t *testing.T) {
	pg := servicetest.StartPostgres(t)
	db, err := sql.Open("pgx", pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testStagesBackfill(t, migrate.Postgres, pg.DSN, db, `now()`)
}
