package migrate_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/migrate"
)

// TestIdenticalBindingsResolvedOnUpgrade: a database from before 000006 may
// hold identical active bindings; the upgrade keeps the newest of each set
// (the one routing used), revokes the older ones and then refuses new ones.
func TestIdenticalBindingsResolvedOnUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dups.db")
	if err := migrate.CreateSQLiteFile(path); err != nil {
		t.Fatal(err)
	}
	if err := migrate.To(ctx, migrate.SQLite, path, 1); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", migrate.SQLiteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO orgs (id, name, created_at) VALUES ('org_1', 'o', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO app_profiles (id, owner_org_id, provider, name, created_at) VALUES ('prof_1', 'org_1', 'slack', 'p', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO installations (id, org_id, profile_id, provider, external_id, ingress_id, created_at) VALUES ('inst_1', 'org_1', 'prof_1', 'slack', 'T1', 'ing1', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO agents (id, org_id, name, url, created_at) VALUES ('agt_1', 'org_1', 'a', 'https://a.example/', '2026-01-01T00:00:00.000000Z')`,
		`INSERT INTO bindings (id, org_id, installation_id, sel_channel, agent_id, created_at) VALUES ('bind_old', 'org_1', 'inst_1', 'C1', 'agt_1', '2026-01-01T00:00:01.000000Z')`,
		`INSERT INTO bindings (id, org_id, installation_id, sel_channel, agent_id, created_at) VALUES ('bind_mid', 'org_1', 'inst_1', 'C1', 'agt_1', '2026-01-01T00:00:02.000000Z')`,
		`INSERT INTO bindings (id, org_id, installation_id, sel_channel, agent_id, created_at) VALUES ('bind_new', 'org_1', 'inst_1', 'C1', 'agt_1', '2026-01-01T00:00:03.000000Z')`,
		`INSERT INTO bindings (id, org_id, installation_id, sel_channel, agent_id, priority, created_at) VALUES ('bind_other', 'org_1', 'inst_1', 'C1', 'agt_1', 5, '2026-01-01T00:00:01.000000Z')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := migrate.Up(ctx, migrate.SQLite, path); err != nil {
		t.Fatalf("up: %v", err)
	}
	want := map[string]string{"bind_old": "2026-01-01T00:00:03.000000Z", "bind_mid": "2026-01-01T00:00:03.000000Z", "bind_new": "", "bind_other": ""}
	for id, revoked := range want {
		var got sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT revoked_at FROM bindings WHERE id = ?`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got.String != revoked {
			t.Errorf("%s: revoked_at %q, want %q", id, got.String, revoked)
		}
	}
	var gen int64
	if err := db.QueryRowContext(ctx, `SELECT value FROM store_generation WHERE id = 1`).Scan(&gen); err != nil || gen != 1 {
		t.Errorf("generation %d (%v), want 1: replicas must notice the revocations", gen, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO bindings (id, org_id, installation_id, sel_channel, agent_id, created_at) VALUES ('bind_again', 'org_1', 'inst_1', 'C1', 'agt_1', '2026-01-01T00:00:04.000000Z')`); err == nil {
		t.Fatal("identical active binding inserted after the upgrade")
	}
}
