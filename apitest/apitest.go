// Package apitest serves the real binding API (api.Server on a fresh SQLite
// store in a temporary directory) for the tests of its clients: the client
// package, the CLI.
package apitest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

// Server is a running API with a platform admin token.
type Server struct {
	URL     string // base URL, without /v1
	Admin   string // platform admin token
	API     *api.Server
	Store   store.Store
	Keyring *secrets.Keyring

	mu   sync.Mutex
	logs bytes.Buffer
	seen []string // "METHOD /path" of every request, in order
}

// Options change what New serves.
type Options struct {
	// Mount is called before serving, to mount more routes (HandlePlatform).
	Mount func(s *api.Server, st store.Store, keys *secrets.Keyring)
	// PublicAgentURLsOnly refuses agent URLs on loopback and private
	// addresses, as a production API does (default: allowed, as under
	// `switchboard up`, whose agents run on this machine).
	PublicAgentURLsOnly bool
	// PublicURL is the edge's public base URL (api.Config.PublicURL).
	PublicURL string
	// APIURL is the API's public base URL (OAuth redirect URLs).
	APIURL string
	// ProviderAPIs point registration, health and OAuth at fake provider APIs.
	ProviderAPIs api.ProviderAPIs
}

// New serves the API until the test ends.
func New(t testing.TB, opts ...Options) *Server {
	t.Helper()
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	// Every provider starts on, as under `switchboard up` (serve
	// --initial-stage on): stages are explicit, no row is not served.
	for _, p := range api.Providers {
		if err := raw.SetStage(ctx, store.RolloutStage{Provider: p, Stage: store.StageOn, UpdatedAt: time.Now().UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := secrets.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Store: raw, Keyring: keys, Admin: api.NewToken()}
	cfg := api.Config{Store: raw, Keyring: keys, Logger: slog.New(slog.NewTextHandler(lockedWriter{s}, nil)), AllowPrivateAgentURLs: true}
	for _, o := range opts {
		if o.PublicAgentURLsOnly {
			cfg.AllowPrivateAgentURLs = false
		}
		if o.PublicURL != "" {
			cfg.PublicURL = o.PublicURL
		}
		if o.APIURL != "" {
			cfg.APIURL = o.APIURL
		}
		if o.ProviderAPIs.Base != nil {
			cfg.ProviderAPIs = o.ProviderAPIs
		}
	}
	cfg.EvidenceKey, cfg.Version = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)), "apitest"
	s.API = api.New(cfg)
	for _, o := range opts {
		if o.Mount != nil {
			o.Mount(s.API, raw, keys)
		}
	}
	if _, _, err := api.EnsureAdminToken(ctx, raw, s.Admin); err != nil {
		t.Fatal(err)
	}
	h := s.API.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Requests lists "METHOD /path" of every request served so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// Logs is what the API logged so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(p)
}
