// Package datadir is the layout of the local data directory (default
// ".data", $SWITCHBOARD_DATA_DIR): where `switchboard up` and `serve` keep
// the admin token, the private Redis password and the addresses of the
// running local runtime, so that the CLI and one-shot commands find them
// without flags.
package datadir

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Env is the variable naming the data directory.
const Env = "SWITCHBOARD_DATA_DIR"

// Default is the data directory when $SWITCHBOARD_DATA_DIR is unset.
const Default = ".data"

// Files in the data directory.
const (
	AdminTokenFile    = "admin.token"    // platform admin token (serve)
	RedisPasswordFile = "redis.password" // password of up's private redis-server
	RuntimeFile       = "up.json"        // addresses of the running `switchboard up`
)

// Dir is the data directory from getenv, else Default.
func Dir(getenv func(string) string) string {
	if d := getenv(Env); d != "" {
		return d
	}
	return Default
}

// Runtime is where the parts of a running `switchboard up` listen. It holds
// no secret.
type Runtime struct {
	API       string `json:"api"`        // base URL of the binding API, e.g. http://127.0.0.1:8080
	Edge      string `json:"edge"`       // base URL providers post to
	EdgeAdmin string `json:"edge_admin"` // base URL of the edge's admin address
	Ingest    string `json:"ingest"`     // base URL of ingest
	Redis     string `json:"redis"`      // host:port of the private redis-server ("" with --redis)
	PublicURL string `json:"public_url,omitempty"`
	PID       int    `json:"pid"`
}

// WriteRuntime records rt in dir (0600, replaced atomically).
func WriteRuntime(dir string, rt Runtime) error {
	b, err := json.MarshalIndent(rt, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, RuntimeFile+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", RuntimeFile, err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", RuntimeFile, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, RuntimeFile)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", RuntimeFile, err)
	}
	return nil
}

// RemoveRuntime deletes the runtime file if it still names pid (a newer up
// in the same directory keeps its own).
func RemoveRuntime(dir string, pid int) {
	if rt, err := ReadRuntime(dir); err == nil && rt.PID == pid {
		os.Remove(filepath.Join(dir, RuntimeFile))
	}
}

// ErrNoRuntime: no `switchboard up` recorded itself in the data directory.
var ErrNoRuntime = errors.New("no running `switchboard up` recorded in the data directory")

// ReadRuntime reads the runtime file of dir (ErrNoRuntime when absent).
func ReadRuntime(dir string) (Runtime, error) {
	var rt Runtime
	b, err := os.ReadFile(filepath.Join(dir, RuntimeFile))
	if errors.Is(err, fs.ErrNotExist) {
		return rt, ErrNoRuntime
	}
	if err != nil {
		return rt, fmt.Errorf("read %s: %w", filepath.Join(dir, RuntimeFile), err)
	}
	if err := json.Unmarshal(b, &rt); err != nil {
		return rt, fmt.Errorf("%s: %w", filepath.Join(dir, RuntimeFile), err)
	}
	return rt, nil
}

// ReadSecretFile reads a one-line secret file (the admin token, the Redis
// password); ok is false when the file does not exist.
func ReadSecretFile(path string) (value string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", false, fmt.Errorf("%s is empty", path)
	}
	return v, true, nil
}

// LoadOrCreateAgentSecret reads an agent signing secret (whsec_…) from
// path, or generates one into it (0600). Two processes doing this at once
// (the demo agent and `switchboard connect`) end up with the same secret:
// the file appears complete or not at all.
func LoadOrCreateAgentSecret(path string) (secret string, created bool, err error) {
	if v, ok, err := ReadSecretFile(path); err != nil || ok {
		return v, false, err
	}
	var key [32]byte
	_, _ = rand.Read(key[:])
	secret = "whsec_" + base64.StdEncoding.EncodeToString(key[:])
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", false, fmt.Errorf("agent secret: %w", err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", false, fmt.Errorf("agent secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(secret + "\n")
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return "", false, fmt.Errorf("agent secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // the other one won
			v, ok, err := ReadSecretFile(path)
			if err == nil && !ok {
				err = fmt.Errorf("agent secret %s vanished", path)
			}
			return v, false, err
		}
		return "", false, fmt.Errorf("agent secret: %w", err)
	}
	return secret, true, nil
}
