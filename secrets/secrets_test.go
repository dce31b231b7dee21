package secrets_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func ring(t *testing.T, spec string) *secrets.Keyring {
	t.Helper()
	k, err := secrets.ParseKeys(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := ring(t, "k1:"+key(1)+", k0:"+key(0))
	if k.Primary() != "k1" || strings.Join(k.IDs(), ",") != "k1,k0" || !k.Has("k0") || k.Has("k2") {
		t.Fatalf("keyring: primary %q ids %v", k.Primary(), k.IDs())
	}
	pt := []byte("xoxb-very-secret")
	id, ct, err := k.Seal(pt, "sec_a")
	if err != nil {
		t.Fatal(err)
	}
	if id != "k1" {
		t.Fatalf("sealed under %q, want primary k1", id)
	}
	if bytes.Contains(ct, pt) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := k.Open(id, ct, "sec_a")
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %q, %v", got, err)
	}
	// Two seals of one plaintext differ (fresh data key and nonces).
	_, ct2, _ := k.Seal(pt, "sec_a")
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals are identical")
	}

	cases := []struct {
		name  string
		keyID string
		ct    []byte
		aad   string
		want  string
	}{
		{"other secret id", "k1", ct, "sec_b", "data key does not open"},
		{"edited key id", "k0", ct, "sec_a", "data key does not open under master key \"k0\""},
		{"unknown key id", "k9", ct, "sec_a", "unknown master key id \"k9\" (keyring has k0, k1)"},
		{"truncated", "k1", ct[:40], "sec_a", "shorter than an envelope"},
		{"flipped data byte", "k1", flip(ct, len(ct)-1), "sec_a", "fails authentication"},
		{"flipped wrap byte", "k1", flip(ct, 20), "sec_a", "data key does not open"},
		{"bad version", "k1", flip(ct, 0), "sec_a", "unknown envelope version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := k.Open(c.keyID, c.ct, c.aad)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), string(pt)) {
				t.Fatal("error carries the plaintext")
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func TestRewrap(t *testing.T) {
	old := ring(t, "k0:"+key(0))
	_, ct, err := old.Seal([]byte("s3cret"), "sec_a")
	if err != nil {
		t.Fatal(err)
	}
	both := ring(t, "k1:"+key(1)+",k0:"+key(0))
	id, ct2, err := both.Rewrap("k0", ct, "sec_a")
	if err != nil || id != "k1" {
		t.Fatalf("rewrap: %q, %v", id, err)
	}
	got, err := ring(t, "k1:"+key(1)).Open(id, ct2, "sec_a")
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("open rewrapped with the new key alone: %q, %v", got, err)
	}
	// Already under the primary: unchanged.
	id3, ct3, err := both.Rewrap(id, ct2, "sec_a")
	if err != nil || id3 != "k1" || !bytes.Equal(ct3, ct2) {
		t.Fatalf("rewrap under primary changed it: %q, %v", id3, err)
	}
	if _, _, err := both.Rewrap("k0", ct, "sec_other"); err == nil {
		t.Fatal("rewrap with a wrong aad succeeded")
	}
}

func TestParseErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	cases := []struct{ spec, want string }{
		{"", "no master keys given"},
		{"k1", "entry 1: want id:base64key, found no ':'"},
		{":" + key(1), "entry 1: empty master key id"},
		{"k1:" + key(1) + ",k1:" + key(2), "entry 2: duplicate master key id \"k1\""},
		{"k1:not base64!", "entry 1: master key \"k1\" is not valid base64"},
		{"k1:" + short, "entry 1: master key \"k1\" is 16 bytes, want 32"},
		{"k 1:" + key(1), "only letters, digits"},
	}
	for _, c := range cases {
		_, err := secrets.ParseKeys(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseKeys(%q): %v, want error containing %q", c.spec, err, c.want)
		}
		if err != nil && strings.Contains(c.spec, ":") && len(c.spec) > 10 && strings.Contains(err.Error(), c.spec[strings.Index(c.spec, ":")+1:]) {
			t.Errorf("ParseKeys error carries the key: %v", err)
		}
	}
	_, err := secrets.ParseKeyFile([]byte("# keys\n\nk1:" + key(1) + "\nk2:" + short + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 4: master key \"k2\" is 16 bytes") {
		t.Fatalf("key file error: %v", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(secrets.EnvKeys, "")
	t.Setenv(secrets.EnvKeyFile, "")
	if _, err := secrets.FromEnv(); err != secrets.ErrNoKeys {
		t.Fatalf("neither set: %v", err)
	}
	t.Setenv(secrets.EnvKeys, "a:"+key(1)+",b:"+key(2))
	k, err := secrets.FromEnv()
	if err != nil || k.Primary() != "a" {
		t.Fatalf("from %s: %v", secrets.EnvKeys, err)
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(secrets.FormatKey("f2", secrets.NewKey())+"\n"+secrets.FormatKey("f1", secrets.NewKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(secrets.EnvKeyFile, file)
	if _, err := secrets.FromEnv(); err == nil || !strings.Contains(err.Error(), "set only one") {
		t.Fatalf("both set: %v", err)
	}
	t.Setenv(secrets.EnvKeys, "")
	k, err = secrets.FromEnv()
	if err != nil || k.Primary() != "f2" || len(k.IDs()) != 2 {
		t.Fatalf("from file: %v", err)
	}
	t.Setenv(secrets.EnvKeyFile, filepath.Join(t.TempDir(), "missing"))
	if _, err := secrets.FromEnv(); err == nil || !strings.Contains(err.Error(), secrets.EnvKeyFile) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	k := ring(t, "k1:"+key(1))
	fp := k.Fingerprint([]byte("abc"))
	if !strings.HasPrefix(fp, "hmac:") || len(fp) != len("hmac:")+16 {
		t.Fatalf("fingerprint %q", fp)
	}
	if fp == k.Fingerprint([]byte("abd")) || fp != k.Fingerprint([]byte("abc")) {
		t.Fatal("fingerprint not a function of the plaintext")
	}
	// Keyed: another primary key gives another fingerprint, and it is not the
	// bare SHA-256 prefix of "abc" (ba7816bf8f01cfea).
	if fp == ring(t, "k2:"+key(2)).Fingerprint([]byte("abc")) {
		t.Fatal("fingerprint does not depend on the master key")
	}
	if strings.HasSuffix(fp, "ba7816bf8f01cfea") {
		t.Fatal("fingerprint is the bare SHA-256")
	}
	// Only the primary key decides (older keys only open).
	if fp != ring(t, "k1:"+key(1)+",k0:"+key(0)).Fingerprint([]byte("abc")) {
		t.Fatal("fingerprint depends on non-primary keys")
	}
}

// TestNoPlaintextInDatabase seals secrets through the keyring, stores them,
// rotates and rekeys, and proves no plaintext byte string is in the SQLite
// file, its WAL or its shared-memory file.
func TestNoPlaintextInDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k := ring(t, "k0:"+key(7))
	plain := []string{"PLAINTEXT-signing-8f3a9c", "xoxb-PLAINTEXT-bot-token-77", "whsec_PLAINTEXT_c2VjcmV0"}
	now := time.Now().UTC()
	for i, p := range plain {
		id := "sec_" + string(rune('a'+i))
		keyID, ct, err := k.Seal([]byte(p), id)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSecret(ctx, store.Secret{ID: id, OwnerKind: store.OwnerInstallation, OwnerID: "inst_x",
			Purpose: store.PurposeSigning, KeyID: keyID, Ciphertext: ct, Fingerprint: k.Fingerprint([]byte(p)),
			NotBefore: now, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	k2 := ring(t, "k1:"+key(8)+",k0:"+key(7))
	if n, err := secrets.Rekey(ctx, st, k2, nil); err != nil || n != 3 {
		t.Fatalf("rekey: %d, %v", n, err)
	}
	// The test would be void if the file held nothing: prove the secrets are there.
	all, err := st.ListAllSecrets(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("secrets: %d, %v", len(all), err)
	}
	for i, s := range all {
		got, err := k2.Open(s.KeyID, s.Ciphertext, s.ID)
		if err != nil || string(got) != plain[i] {
			t.Fatalf("secret %s: %q, %v", s.ID, got, err)
		}
	}
	checkFiles := func(when string) {
		t.Helper()
		var total int
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			data, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			total += len(data)
			for _, p := range plain {
				if bytes.Contains(data, []byte(p)) || bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString([]byte(p)))) {
					t.Fatalf("%s: %s holds plaintext %q", when, filepath.Base(f), p)
				}
			}
		}
		if total == 0 {
			t.Fatalf("%s: no database bytes to search", when)
		}
	}
	checkFiles("before checkpoint")
	if _, err := st.SQL().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	checkFiles("after checkpoint")
	// Sanity check of the search itself: the fingerprint text is in the file.
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(all[0].Fingerprint)) {
		t.Fatal("search finds nothing: fingerprint not in the checkpointed file")
	}
}

func TestRekeyStore(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := ring(t, "k0:"+key(0))
	now := time.Now().UTC()
	for i := 0; i < 5; i++ {
		id := "sec_" + string(rune('a'+i))
		keyID, ct, _ := old.Seal([]byte("v"+id), id)
		if err := st.CreateSecret(ctx, store.Secret{ID: id, OwnerKind: store.OwnerAgent, OwnerID: "agt_x",
			Purpose: store.PurposeSigning, KeyID: keyID, Ciphertext: ct, Fingerprint: "fp", NotBefore: now, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	both := ring(t, "k1:"+key(1)+",k0:"+key(0))
	var seen []int
	n, err := secrets.Rekey(ctx, st, both, func(done, total int) {
		if total != 5 {
			t.Errorf("total %d, want 5", total)
		}
		seen = append(seen, done)
		// Mid-run every secret opens with the keyring that holds both keys.
		all, _ := st.ListAllSecrets(ctx)
		for _, s := range all {
			if _, err := both.Open(s.KeyID, s.Ciphertext, s.ID); err != nil {
				t.Errorf("mid-run open %s: %v", s.ID, err)
			}
		}
	})
	if err != nil || n != 5 || len(seen) != 5 || seen[4] != 5 {
		t.Fatalf("rekey: %d %v %v", n, seen, err)
	}
	// Idempotent: nothing left to do.
	if n, err := secrets.Rekey(ctx, st, both, nil); err != nil || n != 0 {
		t.Fatalf("second rekey: %d, %v", n, err)
	}
	newOnly := ring(t, "k1:"+key(1))
	all, _ := st.ListAllSecrets(ctx)
	for _, s := range all {
		if got, err := newOnly.Open(s.KeyID, s.Ciphertext, s.ID); err != nil || string(got) != "v"+s.ID {
			t.Fatalf("after rekey %s: %q, %v", s.ID, got, err)
		}
	}
	ev, _ := st.ListAudit(ctx, store.AuditFilter{})
	if len(ev) != 1 || ev[0].Action != "secret.rekey" {
		t.Fatalf("audit: %+v", ev)
	}
	// A keyring missing the old key stops with a clear error naming the id.
	if _, err := secrets.Rekey(ctx, st, ring(t, "k2:"+key(2)), nil); err == nil || !strings.Contains(err.Error(), `unknown master key id "k1"`) {
		t.Fatalf("rekey without the old key: %v", err)
	}
}

func FuzzParseKeys(f *testing.F) {
	f.Add("k1:" + key(1) + ",k0:" + key(0))
	f.Add("k1")
	f.Add(":,:")
	f.Add("a:" + key(1) + ",a:" + key(1))
	f.Fuzz(func(t *testing.T, spec string) {
		k, err := secrets.ParseKeys(spec)
		if err != nil {
			return
		}
		id, ct, err := k.Seal([]byte("x"), "s")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(id, ct, "s"); err != nil || string(got) != "x" {
			t.Fatalf("round trip: %q %v", got, err)
		}
	})
}

func TestDerive(t *testing.T) {
	a, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + ",k0:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
	c, _ := secrets.ParseKeys("k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
	if len(a.Derive("x")) != 32 || !bytes.Equal(a.Derive("x"), b.Derive("x")) {
		t.Error("same primary key derives different keys")
	}
	if bytes.Equal(a.Derive("x"), a.Derive("y")) || bytes.Equal(a.Derive("x"), c.Derive("x")) {
		t.Error("derived keys collide across purposes or master keys")
	}
	if bytes.Contains(a.Derive("x"), bytes.Repeat([]byte{1}, 8)) {
		t.Error("derived key shows the master key")
	}
}

// TestStateKey: derived from the primary key (same keys, same state key;
// another primary, another key).
func TestStateKey(t *testing.T) {
	a, _ := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)) + ",k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
	b, _ := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	c, _ := secrets.ParseKeys("k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)))
	if len(a.StateKey()) != 32 || !bytes.Equal(a.StateKey(), b.StateKey()) || bytes.Equal(a.StateKey(), c.StateKey()) {
		t.Fatal("state key derivation")
	}
}
