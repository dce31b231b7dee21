package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
)

// TestImportCommand: dry run writes nothing; a real run wants somewhere for
// generated agent secrets, writes them 0600, and a rerun changes nothing; an
// OpenClaw file with a conflict exits 1 and writes nothing.
func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "sb.db")
	t.Setenv(secrets.EnvKeyFile, "")
	t.Setenv(secrets.EnvKeys, secrets.FormatKey("k1", secrets.NewKey()))
	keys, err := secrets.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateOrg(ctx, store.Org{ID: "org_acme", Name: "Acme", CreatedAt: now}))
	must(st.CreateProfile(ctx, store.AppProfile{ID: "prof_plat", Provider: "slack", Name: "shared", IngressID: "0123456789abcdef0123456789abcdef", CreatedAt: now}))
	kid, ct, err := keys.Seal([]byte("8f742231b10e8888abcd99yyyzzz85a5"), "sec_plat")
	must(err)
	must(st.CreateSecret(ctx, store.Secret{ID: "sec_plat", OwnerKind: store.OwnerProfile, OwnerID: "prof_plat", Purpose: store.PurposeSigning,
		KeyID: kid, Ciphertext: ct, Fingerprint: keys.Fingerprint([]byte("8f742231b10e8888abcd99yyyzzz85a5")), NotBefore: now, CreatedAt: now}))
	st.Close()
	legacy := filepath.Join("..", "..", "importer", "testdata", "legacy.json")
	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runImport(ctx, append(args, "--store", dsn, "--data-dir", dir), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	agents := func() int {
		st, err := openStore(ctx, dsn)
		must(err)
		defer st.Close()
		as, err := st.ListAgents(ctx, "org_acme")
		must(err)
		return len(as)
	}

	out, _, err := run("legacy", "--org", "org_acme", "--from", legacy, "--dry-run")
	if err != nil || !strings.Contains(out, "summary: 9 create, 1 unchanged, 0 conflict, 0 unsupported") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if n := agents(); n != 0 {
		t.Fatalf("dry run wrote %d agents", n)
	}
	if _, _, err := run("legacy", "--org", "org_acme", "--from", legacy); err == nil || !strings.Contains(err.Error(), "--agent-secrets") {
		t.Fatalf("run without --agent-secrets: %v", err)
	}
	if n := agents(); n != 0 {
		t.Fatalf("refused run wrote %d agents", n)
	}
	secretsFile := filepath.Join(dir, "agent-secrets.json")
	out, errOut, err := run("legacy", "--org", "org_acme", "--from", legacy, "--agent-secrets", secretsFile)
	if err != nil || !strings.Contains(errOut, "created 9 objects") {
		t.Fatalf("import: %v\n%s%s", err, out, errOut)
	}
	info, err := os.Stat(secretsFile)
	must(err)
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("agent secrets file mode %v", info.Mode().Perm())
	}
	b, err := os.ReadFile(secretsFile)
	must(err)
	var gen map[string]string
	must(json.Unmarshal(b, &gen))
	if len(gen) != 1 {
		t.Fatalf("agent secrets file: %d entries", len(gen))
	}
	for id, s := range gen {
		if !strings.HasPrefix(id, "agt_") || !strings.HasPrefix(s, "whsec_") {
			t.Fatalf("agent secrets file entry %q", id)
		}
		if strings.Contains(out+errOut, s) {
			t.Fatal("the generated secret was printed")
		}
	}
	second := filepath.Join(dir, "again.json")
	out, errOut, err = run("legacy", "--org", "org_acme", "--from", legacy, "--agent-secrets", second)
	if err != nil || !strings.Contains(errOut, "nothing to change") || !strings.Contains(out, "0 create, 10 unchanged") {
		t.Fatalf("rerun: %v\n%s%s", err, out, errOut)
	}
	if _, err := os.Stat(second); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rerun wrote an agent secrets file: %v", err)
	}
	oc := filepath.Join("..", "..", "importer", "testdata", "openclaw.json5")
	before := agents()
	out, _, err = run("openclaw", "--org", "org_acme", "--from", oc, "--agent-base", "https://agents.example", "--agent-secrets", filepath.Join(dir, "oc.json"))
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "conflict (missing_secret)") {
		t.Fatalf("openclaw with a conflict: %v\n%s", err, out)
	}
	if agents() != before {
		t.Fatal("a run with conflicts wrote agents")
	}
	if _, err := os.Stat(filepath.Join(dir, "oc.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused run left an agent secrets file: %v", err)
	}
}
