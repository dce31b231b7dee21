package main

import (
	"strings"
	"testing"
)

// testProvenanceKeys is the provenance key the command tests hand ingest and
// workers (not a real key).
const testProvenanceKeys = "p1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func TestReadProvenanceKeys(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := readProvenanceKeys(env(nil)); err == nil || !strings.Contains(err.Error(), envProvenanceKeys) {
		t.Fatalf("no keys: %v, want an error naming %s", err, envProvenanceKeys)
	}
	if _, err := readProvenanceKeys(env(map[string]string{envProvenanceKeys: "p1:short"})); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("bad key: %v", err)
	}
	k, err := readProvenanceKeys(env(map[string]string{envProvenanceKeys: testProvenanceKeys}))
	if err != nil || k.Primary() != "p1" {
		t.Fatalf("keys: %v %v", k, err)
	}
	// up generates the file once (0600) and reuses it.
	dir := t.TempDir()
	spec, from, err := loadOrCreateProvenanceKeys(dir, env(nil))
	if err != nil || !strings.Contains(from, "generated") {
		t.Fatalf("generate: %q %v", from, err)
	}
	spec2, from2, err := loadOrCreateProvenanceKeys(dir, env(nil))
	if err != nil || spec2 != spec || strings.Contains(from2, "generated") {
		t.Fatalf("second start: %q %q %v", spec2, from2, err)
	}
	if strings.Contains(from, spec) {
		t.Fatalf("the key appears in the progress line: %q", from)
	}
}
