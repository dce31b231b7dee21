package servicetest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/switchboard-dev/switchboard/servicetest"
)

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostgresDatabasePerTest(t *testing.T) {
	ctx := context.Background()
	a := servicetest.StartPostgres(t)
	b := servicetest.StartPostgres(t)
	if a.Database == b.Database || a.Addr != b.Addr {
		t.Fatalf("want two databases on one server: %+v %+v", a, b)
	}
	ca, cb := connect(t, a.DSN), connect(t, b.DSN)
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("databases are not separate")
	}
	var listen string
	if err := ca.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, want loopback only", listen)
	}
}

func TestPostgresSharedServer(t *testing.T) {
	// Runs after the test above in the same binary: same server (TestMain keeps
	// it), new database.
	p := servicetest.StartPostgres(t)
	var one int
	if err := connect(t, p.DSN).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %d %v", one, err)
	}
}

func TestMain(m *testing.M) { servicetest.Main(m) }
