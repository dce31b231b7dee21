package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-dev/switchboard/provenance"
)

// The provenance keys ingest seals tasks with and workers verify them with.
const (
	envProvenanceKeys    = "SWITCHBOARD_PROVENANCE_KEYS"
	envProvenanceKeyFile = "SWITCHBOARD_PROVENANCE_KEY_FILE"
	provenanceKeyFile    = "provenance.keys"
)

// readProvenanceKeys takes the keys from SWITCHBOARD_PROVENANCE_KEYS
// ("id:base64,…") or the file SWITCHBOARD_PROVENANCE_KEY_FILE names; neither
// set is an error naming both (ingest and workers must share the keys).
func readProvenanceKeys(getenv func(string) string) (*provenance.Keys, error) {
	if v := strings.TrimSpace(getenv(envProvenanceKeys)); v != "" {
		k, err := provenance.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envProvenanceKeys, err)
		}
		return k, nil
	}
	if p := getenv(envProvenanceKeyFile); p != "" {
		return provenance.LoadFile(p)
	}
	return nil, fmt.Errorf("no provenance keys: set %s (id:base64 of 32 bytes, the same for ingest and every worker) or %s; `switchboard up` generates %s in its data directory",
		envProvenanceKeys, envProvenanceKeyFile, provenanceKeyFile)
}

// loadOrCreateProvenanceKeys is up's: the environment's keys, else
// <dataDir>/provenance.keys, else that file generated (0600). It returns the
// key file line(s) to hand to ingest and the workers.
func loadOrCreateProvenanceKeys(dataDir string, getenv func(string) string) (spec, from string, err error) {
	if getenv(envProvenanceKeys) != "" || getenv(envProvenanceKeyFile) != "" {
		k, err := readProvenanceKeys(getenv)
		if err != nil {
			return "", "", err
		}
		if v := getenv(envProvenanceKeys); v != "" {
			return v, "from " + envProvenanceKeys + " (" + k.Primary() + ")", nil
		}
		b, err := os.ReadFile(getenv(envProvenanceKeyFile))
		return keyFileSpec(b), "from " + envProvenanceKeyFile + " (" + k.Primary() + ")", err
	}
	path := filepath.Join(dataDir, provenanceKeyFile)
	fromFile := func() (string, string, error) {
		k, err := provenance.LoadFile(path)
		if err != nil {
			return "", "", err
		}
		b, _ := os.ReadFile(path)
		return keyFileSpec(b), k.Primary() + " in " + path, nil
	}
	if _, err := os.Stat(path); err == nil {
		return fromFile()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("provenance key file: %w", err)
	}
	line := provenance.Generate("p1")
	if err := writeFileExcl(path, []byte("# provenance keys: ingest seals tasks with the first, workers verify with any\n"+line+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fromFile()
		}
		return "", "", fmt.Errorf("create provenance key file: %w", err)
	}
	return line, "p1 generated in " + path, nil
}

// keyFileSpec turns a key file into the comma-separated form.
func keyFileSpec(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, ",")
}
