// Package console is the web console: server-rendered pages (html/template,
// every asset embedded) for org owners, agencies and the platform admin.
//
// The console is one more adapter over the binding API, never a second
// permission model: a signed-in browser has a server-side session holding
// the API token it signed in with, and every page reads and changes data by
// calling the API's own http.Handler in process with that token. What the
// API refuses, the console shows as refused, with the API's status and
// message.
package console

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultSessionTTL is how long a sign-in lasts (server-side).
const DefaultSessionTTL = 8 * time.Hour

// Config wires a console Server.
type Config struct {
	// API is the binding API's handler; the console calls it in process.
	API http.Handler
	// Secure marks cookies Secure (set it when the console is served over
	// https behind a proxy; a request that arrived over TLS always gets
	// Secure cookies).
	Secure     bool
	SessionTTL time.Duration    // 0: DefaultSessionTTL
	Logger     *slog.Logger     // nil: slog.Default()
	Now        func() time.Time // nil: time.Now
	// PollInterval is how often the "waiting for the first verified event"
	// panel asks again (0: 2 s).
	PollInterval time.Duration
}

// Server serves the console.
type Server struct {
	cfg      Config
	api      *http.Client
	sessions *sessions
	log      *slog.Logger
	now      func() time.Time
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New builds the console.
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, errors.New("console: no API handler")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	s := &Server{cfg: cfg, api: &http.Client{Transport: handlerTransport{cfg.API}, CheckRedirect: noRedirect},
		log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.sessions = newSessions(cfg.SessionTTL, s.now)
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Handler serves the console's pages and assets (mount it at "/").
func (s *Server) Handler() http.Handler { return securityHeaders(s.mux) }

// Mount returns a handler that serves the API under /v1/ and the console
// everywhere else: what `serve` listens with.
func Mount(apiHandler, console http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", apiHandler)
	mux.Handle("/", console)
	return mux
}

func (s *Server) parseTemplates() error {
	s.pages = map[string]*template.Template{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("console templates: %w", err)
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("console template %s: %w", base, err)
		}
		s.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

// csp allows only the console's own scripts, styles and images: no inline
// script, no third-party origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) secure(r *http.Request) bool { return s.cfg.Secure || r.TLS != nil }
