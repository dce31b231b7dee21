package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
)

// countingOpener counts the opens that reach the keyring.
type countingOpener struct {
	kr    Opener
	opens int
}

func (c *countingOpener) Open(keyID string, ct []byte, aad string) ([]byte, error) {
	c.opens++
	return c.kr.Open(keyID, ct, aad)
}

func cacheKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func sealedRow(t *testing.T, kr *secrets.Keyring, id string, pt []byte) store.Secret {
	t.Helper()
	keyID, ct, err := kr.Seal(pt, id)
	if err != nil {
		t.Fatal(err)
	}
	return store.Secret{ID: id, OwnerKind: store.OwnerInstallation, OwnerID: "inst_" + id,
		Purpose: store.PurposeSigning, KeyID: keyID, Ciphertext: ct}
}

func plaintexts(secs []Secret) map[string]string {
	m := map[string]string{}
	for _, s := range secs {
		m[s.ID] = string(s.Plaintext)
	}
	return m
}

func TestOpenCache(t *testing.T) {
	kr := cacheKeyring(t)
	counter := &countingOpener{kr: kr}
	oc := newOpenCache(counter)
	rows := []store.Secret{sealedRow(t, kr, "sec_a", []byte("alpha")), sealedRow(t, kr, "sec_b", []byte("bravo")),
		sealedRow(t, kr, "sec_c", []byte("charlie"))}
	load := func(rows []store.Secret) map[string]string {
		t.Helper()
		oc.begin()
		secs, err := openSecrets(rows, oc)
		if err != nil {
			t.Fatal(err)
		}
		oc.sweep()
		return plaintexts(secs)
	}
	want := map[string]string{"sec_a": "alpha", "sec_b": "bravo", "sec_c": "charlie"}
	if got := load(rows); counter.opens != 3 || !equalMaps(got, want) {
		t.Fatalf("first load: %d opens, %v", counter.opens, got)
	}
	counter.opens = 0
	if got := load(rows); counter.opens != 0 || !equalMaps(got, want) {
		t.Fatalf("same rows again: %d opens (want 0), %v", counter.opens, got)
	}

	// Rekeyed (new envelope, same id): opened again. A replaced secret
	// under the same id gets its new plaintext, not the cached one.
	rows[0] = sealedRow(t, kr, "sec_a", []byte("alpha"))
	rows[1] = sealedRow(t, kr, "sec_b", []byte("bravo-2"))
	want["sec_b"] = "bravo-2"
	if got := load(rows); counter.opens != 2 || !equalMaps(got, want) {
		t.Fatalf("rekeyed and replaced: %d opens (want 2), %v", counter.opens, got)
	}

	// A ciphertext that no longer opens is an error, never the cached plaintext.
	bad := append([]store.Secret(nil), rows...)
	bad[2].Ciphertext = append([]byte(nil), bad[2].Ciphertext...)
	bad[2].Ciphertext[len(bad[2].Ciphertext)-1] ^= 1
	oc.begin()
	if _, err := openSecrets(bad, oc); err == nil || !strings.Contains(err.Error(), "sec_c") {
		t.Fatalf("tampered ciphertext: err = %v", err)
	}

	// A removed secret leaves the cache.
	counter.opens = 0
	if got := load(rows[:2]); counter.opens != 0 || len(got) != 2 || oc.len() != 2 {
		t.Fatalf("after removal: %d opens, %d loaded, %d cached (want 0, 2, 2)", counter.opens, len(got), oc.len())
	}
	if _, cached := oc.m["sec_c"]; cached {
		t.Fatal("removed secret sec_c is still cached")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// cacheState is benchState plus a Telegram installation (fingerprinted token).
func cacheState() *State {
	st := benchState(3)
	st.Orgs = append(st.Orgs, store.Org{ID: "org_tg"})
	st.Profiles = append(st.Profiles, store.AppProfile{ID: "prof_tg", OwnerOrgID: "org_tg", Provider: "telegram"})
	st.Installations = append(st.Installations, store.Installation{ID: "inst_tg", OrgID: "org_tg", ProfileID: "prof_tg",
		Provider: "telegram", IngressID: strings.Repeat("ab", 16)})
	st.Secrets = append(st.Secrets, Secret{Secret: store.Secret{ID: "sec_tg", OwnerKind: store.OwnerInstallation,
		OwnerID: "inst_tg", Purpose: store.PurposeSecretToken}, Plaintext: []byte("tg-token")})
	for i := range st.Secrets {
		st.Secrets[i].Plaintext = append([]byte(nil), st.Secrets[i].Plaintext...)
	}
	return st
}

func sealedOf(t *testing.T, cfg filter.Config) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, in := range cfg.Installations {
		for _, s := range in.Secrets {
			m[in.IngressID+"/"+s.ID] = s.Sealed + s.Fingerprint
		}
	}
	return m
}

func TestSealCache(t *testing.T) {
	st := cacheState()
	c := &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: testOpts}}
	build := func() (*build, int, int) {
		t.Helper()
		s0, f0 := 0, 0
		if c.sealer != nil {
			s0, f0 = c.sealer.seals, c.sealer.fings
		}
		b, err := c.Build(st, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		return b, c.sealer.seals - s0, c.sealer.fings - f0
	}
	b1, seals, fps := build()
	if seals != 3 || fps != 1 || c.sealer.len() != 4 {
		t.Fatalf("first build: %d seals, %d fingerprints, %d cached (want 3, 1, 4)", seals, fps, c.sealer.len())
	}
	// The cached build is the uncached translation, sealed values aside.
	plain, err := EdgeConfig(st, testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Version != b1.config().Version || !bytes.Equal(mustJSON(t, canonical(plain)), mustJSON(t, canonical(b1.config()))) {
		t.Fatalf("cached build differs from EdgeConfig: %s vs %s", b1.config().Version, plain.Version)
	}

	// Same state again: nothing sealed, the very same sealed values.
	b2, seals, fps := build()
	if seals != 0 || fps != 0 {
		t.Fatalf("same state: %d seals, %d fingerprints (want 0, 0)", seals, fps)
	}
	if !equalMaps(sealedOf(t, b1.config()), sealedOf(t, b2.config())) {
		t.Fatal("same state: sealed values changed")
	}

	// A secret whose plaintext changed under the same id is sealed again,
	// and the edge unseals the new plaintext.
	st.Secrets[0].Plaintext = []byte("rotated-signing-secret-0123456789")
	st.Secrets[3].Plaintext = []byte("tg-token-2")
	b3, seals, fps := build()
	if seals != 1 || fps != 1 {
		t.Fatalf("changed plaintext: %d seals, %d fingerprints (want 1, 1)", seals, fps)
	}
	if _, err := filter.Load(mustJSON(t, b3.config()), testEdgeKey); err != nil {
		t.Fatal(err)
	}
	in0 := b3.config().Installations[0]
	for _, in := range b3.config().Installations {
		if in.InstallationID == st.Installations[0].ID {
			in0 = in
		}
	}
	pt, err := filter.Unseal(testEdgeKey, in0.Secrets[0].Sealed, filter.SealAAD(in0.IngressID, in0.Secrets[0].ID))
	if err != nil || string(pt) != "rotated-signing-secret-0123456789" {
		t.Fatalf("re-sealed secret unseals to %q, %v", pt, err)
	}
	for _, in := range b3.config().Installations {
		if in.InstallationID == "inst_tg" && in.Secrets[0].Fingerprint != filter.Fingerprint(testEdgeKey, "tg-token-2") {
			t.Fatal("changed token: fingerprint not recomputed")
		}
	}

	// A rotation (new secret id beside the old one): only the new one sealed.
	st.Secrets = append(st.Secrets, Secret{Secret: store.Secret{ID: "sec_new", OwnerKind: store.OwnerProfile,
		OwnerID: st.Profiles[1].ID, Purpose: store.PurposeSigning}, Plaintext: []byte("new-signing-secret")})
	st.sort()
	if _, seals, fps = build(); seals != 1 || fps != 0 || c.sealer.len() != 5 {
		t.Fatalf("rotation: %d seals, %d fingerprints, %d cached (want 1, 0, 5)", seals, fps, c.sealer.len())
	}

	// A revoked installation and a removed secret leave the cache.
	now := fixedNow
	st.Installations[2].RevokedAt = &now
	st.Secrets = st.Secrets[:len(st.Secrets)-1] // sec_tg (sorted last)
	if _, seals, fps = build(); seals != 0 || fps != 0 || c.sealer.len() != 3 {
		t.Fatalf("revocation and removal: %d seals, %d fingerprints, %d cached (want 0, 0, 3)", seals, fps, c.sealer.len())
	}
	if _, ok := c.sealer.fps["sec_tg"]; ok {
		t.Fatal("removed secret sec_tg still cached")
	}
	for k := range c.sealer.sealed {
		if k.ingressID == st.Installations[2].IngressID {
			t.Fatalf("revoked installation's seal %v still cached", k)
		}
	}
}

func mustJSON(t *testing.T, cfg filter.Config) []byte {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// configVersionReference is ConfigVersion as first written (verbatim):
// json.Marshal of a modified copy of the whole configuration. The streaming version must
// give the same digest (versions are compared across replicas and pinned in
// golden files).
func configVersionReference(cfg filter.Config) string {
	c := cfg
	c.Version = ""
	c.Installations = make([]filter.Installation, len(cfg.Installations))
	for i, in := range cfg.Installations {
		in.Secrets = append([]filter.Secret(nil), in.Secrets...)
		for j := range in.Secrets {
			if in.Secrets[j].Sealed != "" {
				in.Secrets[j].Sealed = "id:" + in.Secrets[j].ID
			}
		}
		c.Installations[i] = in
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return "e" + hex.EncodeToString(sum[:8])
}

func TestConfigVersionMatchesFullEncoding(t *testing.T) {
	fix, err := EdgeConfig(fixture(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	big, err := EdgeConfig(cacheState(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	odd := filter.Config{Version: "ignored", Installations: []filter.Installation{
		{IngressID: "x", Provider: "slack", Secrets: nil, PublicURL: "https://a.example/<&>"},
		{IngressID: "y", Provider: "telegram", Secrets: []filter.Secret{}, Revoked: true},
	}}
	for name, cfg := range map[string]filter.Config{"fixture": fix, "cache state": big, "odd": odd,
		"nil": {}, "empty": {Installations: []filter.Installation{}}} {
		got, err := ConfigVersion(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := configVersionReference(cfg); got != want {
			t.Errorf("%s: ConfigVersion = %s, full encoding gives %s", name, got, want)
		}
	}
}

func TestEncodeCache(t *testing.T) {
	sc := newSealCache(testEdgeKey)
	enc := newEncodeCache()
	check := func(name string, entries []filter.Installation, wantEncodes int) {
		t.Helper()
		before := enc.encodes
		cfg, js, err := enc.encode(entries)
		if err != nil {
			t.Fatal(err)
		}
		enc.sweep()
		if got := enc.encodes - before; got != wantEncodes {
			t.Errorf("%s: %d entries encoded, want %d", name, got, wantEncodes)
		}
		v, err := ConfigVersion(filter.Config{Installations: entries})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Version != v {
			t.Errorf("%s: version %s, ConfigVersion gives %s", name, cfg.Version, v)
		}
		want, err := json.Marshal(filter.Config{Version: v, Installations: entries})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(js, want) {
			t.Errorf("%s: encoding differs from json.Marshal:\n got %s\nwant %s", name, js, want)
		}
		if enc.len() != len(entries) {
			t.Errorf("%s: %d cached, want %d", name, enc.len(), len(entries))
		}
	}
	entries, err := edgeEntries(fixture(), fixedNow, sc.Seal, sc.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	n := len(entries)
	check("fixture", entries, n)
	check("fixture again", entries, 0)

	// Each kind of change re-encodes exactly that entry.
	entries[0].Revoked = true
	check("revoked", entries, 1)
	entries[1].Secrets = append([]filter.Secret(nil), entries[1].Secrets...)
	entries[1].Secrets[0].NotAfter = entries[1].Secrets[0].NotBefore + 60
	check("secret window", entries, 1)
	entries[2].Secrets = nil // nil and empty encode differently
	check("secrets nil", entries, 1)
	entries[3].PublicURL = "https://hooks.example/<x>&y"
	check("public url", entries, 1)

	// A removed entry leaves the cache; an empty and a nil list encode as
	// json.Marshal does.
	check("removed", entries[1:], 0)
	check("empty", []filter.Installation{}, 0)
	check("nil", nil, 0)
}

// TestSameEntryKnowsEveryField fails when filter.Installation gains a field:
// sameEntry must compare it, or a changed entry would keep a stale encoding.
func TestSameEntryKnowsEveryField(t *testing.T) {
	known := "IngressID Provider Scheme OrgID InstallationID ProfileID Platform Revoked MaxBodyBytes ToleranceSeconds PublicURL Secrets"
	typ := reflect.TypeOf(filter.Installation{})
	var got []string
	for i := 0; i < typ.NumField(); i++ {
		got = append(got, typ.Field(i).Name)
	}
	if strings.Join(got, " ") != known {
		t.Fatalf("filter.Installation fields are now %v: update sameEntry (xds/cache.go) and this list", got)
	}
}
