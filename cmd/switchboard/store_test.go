package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/migrate"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
)

func TestParseStoreDSN(t *testing.T) {
	cases := []struct {
		in      string
		dialect migrate.Dialect
		dsn     string
		err     string
	}{
		{"sqlite:/var/lib/sb.db", migrate.SQLite, "/var/lib/sb.db", ""},
		{"sqlite://rel/sb.db", migrate.SQLite, "rel/sb.db", ""},
		{"./x.db", migrate.SQLite, "./x.db", ""},
		{"postgres://u@h/db", migrate.Postgres, "postgres://u@h/db", ""},
		{"postgresql://u@h/db", migrate.Postgres, "postgresql://u@h/db", ""},
		{"", "", "", "empty store"},
		{"sqlite:", "", "", "no database file"},
		{"mysql://h/db", "", "", `unknown scheme "mysql"`},
		{"host=db.internal dbname=sb user=sb", "", "", "PostgreSQL key=value"},
		{"dbname=sb", "", "", "PostgreSQL key=value"},
		{"sqlite:host=x", migrate.SQLite, "host=x", ""},
		{"./a=b.db", migrate.SQLite, "./a=b.db", ""},
	}
	for _, c := range cases {
		d, dsn, err := parseStoreDSN(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || d != c.dialect || dsn != c.dsn {
			t.Errorf("%q: %q %q %v, want %q %q", c.in, d, dsn, err, c.dialect, c.dsn)
		}
	}
}

func TestStoreFlagsDefaults(t *testing.T) {
	t.Setenv(envDataDir, "")
	t.Setenv(envStore, "")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	o := addStoreFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if got := o.DSN(); got != "sqlite:.data/switchboard.db" {
		t.Fatalf("default store %q", got)
	}
	t.Setenv(envDataDir, "/srv/sb")
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	o = addStoreFlags(fs)
	_ = fs.Parse(nil)
	if got := o.DSN(); got != "sqlite:/srv/sb/switchboard.db" {
		t.Fatalf("store from %s: %q", envDataDir, got)
	}
	t.Setenv(envStore, "postgres://db/sb")
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	o = addStoreFlags(fs)
	_ = fs.Parse([]string{"--data-dir", "/elsewhere"})
	if got := o.DSN(); got != "postgres://db/sb" {
		t.Fatalf("store from %s: %q", envStore, got)
	}
}

func TestLoadKeyringCreatesFile(t *testing.T) {
	t.Setenv(secrets.EnvKeys, "")
	t.Setenv(secrets.EnvKeyFile, "")
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := loadKeyringFrom(dir, false); err == nil {
		t.Fatal("no keys and create=false: no error")
	}
	k1, err := loadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, keyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode %v, want 0600", info.Mode().Perm())
	}
	k2, err := loadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	id, ct, err := k1.Seal([]byte("x"), "sec_1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k2.Open(id, ct, "sec_1"); err != nil {
		t.Fatalf("second load is a different key: %v", err)
	}
	// The environment wins over the file.
	t.Setenv(secrets.EnvKeys, secrets.FormatKey("env", secrets.NewKey()))
	k3, err := loadKeyring(dir)
	if err != nil || k3.Primary() != "env" {
		t.Fatalf("keyring from env: %v", err)
	}
	t.Setenv(secrets.EnvKeys, "env:short")
	if _, err := loadKeyring(dir); err == nil || !strings.Contains(err.Error(), secrets.EnvKeys) {
		t.Fatalf("bad env key: %v", err)
	}
}

func TestMigrateCommandSQLite(t *testing.T) {
	testMigrateCommand(t, "sqlite:"+filepath.Join(t.TempDir(), "m.db"), "sqlite")
}

func TestMigrateCommandPostgres(t *testing.T) {
	testMigrateCommand(t, servicetest.StartPostgres(t).DSN, "postgres")
}

func testMigrateCommand(t *testing.T, dsn, dialect string) {
	ctx := context.Background()
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runMigrate(ctx, args, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	latest, _ := migrate.Latest(migrate.Dialect(dialect))
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"status", "--store", dsn}, "version 0 of"},
		{[]string{"up", "--store", dsn}, "(current)"},
		{[]string{"--store", dsn, "status"}, "(current)"},
		{[]string{"down", "--store", dsn, "--yes"}, "version 0 of"},
		{[]string{"up", "--store", dsn}, "(current)"},
	}
	for _, s := range steps {
		out, err := run(s.args...)
		if err != nil || !strings.Contains(out, s.want) || !strings.HasPrefix(out, dialect+" store:") {
			t.Fatalf("migrate %v: %q %v, want %q", s.args, out, err, s.want)
		}
	}
	if out, _ := run("status", "--store", dsn); !strings.Contains(out, fmt.Sprintf("version %d of %d", latest, latest)) {
		t.Fatalf("status: %q", out)
	}
	if _, err := run("down", "--store", dsn); err == nil || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("down without --yes: %v", err)
	}
	if _, err := run("sideways", "--store", dsn); err == nil || !strings.Contains(err.Error(), `unknown action "sideways"`) {
		t.Fatalf("unknown action: %v", err)
	}
}

func TestSecretsRekeyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "sb.db")
	oldKey, newKey := secrets.NewKey(), secrets.NewKey()
	t.Setenv(secrets.EnvKeyFile, "")
	t.Setenv(secrets.EnvKeys, secrets.FormatKey("old", oldKey))
	old, err := secrets.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, id := range []string{"sec_a", "sec_b", "sec_c"} {
		kid, ct, err := old.Seal([]byte("plain-"+id), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSecret(ctx, store.Secret{ID: id, OwnerKind: store.OwnerInstallation, OwnerID: "inst_x",
			Purpose: store.PurposeSigning, KeyID: kid, Ciphertext: ct, Fingerprint: "fp", NotBefore: now, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	// Rotation: the new key first, the old one still there.
	t.Setenv(secrets.EnvKeys, secrets.FormatKey("new", newKey)+","+secrets.FormatKey("old", oldKey))
	var out bytes.Buffer
	if err := runSecrets(ctx, []string{"rekey", "--store", dsn}, &out, &out); err != nil {
		t.Fatalf("rekey: %v\n%s", err, out.String())
	}
	for _, want := range []string{"rekeyed 1/3\n", "rekeyed 3/3\n", "done: 3 secrets now under primary key new"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("rekey output %q lacks %q", out.String(), want)
		}
	}
	out.Reset()
	if err := runSecrets(ctx, []string{"rekey", "--store", dsn}, &out, &out); err != nil || !strings.Contains(out.String(), "already under primary key new") {
		t.Fatalf("second rekey: %v %q", err, out.String())
	}

	// The old key can go: every secret opens with the new one alone.
	t.Setenv(secrets.EnvKeys, secrets.FormatKey("new", newKey))
	onlyNew, _ := secrets.FromEnv()
	st, err = openStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	all, err := st.ListAllSecrets(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("secrets: %d %v", len(all), err)
	}
	for _, s := range all {
		if p, err := onlyNew.Open(s.KeyID, s.Ciphertext, s.ID); err != nil || string(p) != "plain-"+s.ID {
			t.Fatalf("%s after rekey: %q %v", s.ID, p, err)
		}
	}
	if err := runSecrets(ctx, []string{"rotate"}, &out, &out); err == nil {
		t.Fatal("unknown secrets action accepted")
	}
}

// TestLoadKeyringConcurrentFirstStart: processes starting at once on an
// empty data directory all end up with the one key written, never a
// half-written file.
func TestLoadKeyringConcurrentFirstStart(t *testing.T) {
	t.Setenv(secrets.EnvKeys, "")
	t.Setenv(secrets.EnvKeyFile, "")
	dir := filepath.Join(t.TempDir(), "data")
	const n = 8
	rings := make([]*secrets.Keyring, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rings[i], errs[i] = loadKeyring(dir)
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
	}
	id, ct, err := rings[0].Seal([]byte("x"), "sec_1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		if _, err := rings[i].Open(id, ct, "sec_1"); err != nil {
			t.Fatalf("start %d has another key: %v", i, err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, keyFileName+".tmp-*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
