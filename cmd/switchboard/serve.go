package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/console"
	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/provider/telegram"
	"github.com/switchboard-dev/switchboard/provider/whatsapp"
	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
)

func init() {
	register(command{name: "serve", usage: "run the control plane (binding API on SQLite by default)", run: func(ctx context.Context, args []string) error {
		return serve(ctx, args, os.Stdout, os.Stderr)
	}})
}

// serveEnv is what serve hands to the parts it runs beside the API.
type serveEnv struct {
	Store   store.Store
	Keyring *secrets.Keyring
	API     *api.Server
	DataDir string
	Log     *slog.Logger
	Out     io.Writer // operator-facing lines (where things listen)
	// analysis reports the canary analysis (set by the analysis part).
	analysis func(provider string) *api.AnalysisState
}

func (e *serveEnv) analysisState(provider string) *api.AnalysisState {
	if e.analysis == nil {
		return nil
	}
	return e.analysis(provider)
}

// servePart is one more thing `serve` runs beside the binding API (the xDS
// server registers itself here from its own file). flags adds the part's
// flags; start prepares it (listen, etc.) and returns run, which blocks
// until ctx ends.
type servePart struct {
	name  string
	flags func(fs *flag.FlagSet)
	start func(ctx context.Context, env *serveEnv) (run func(ctx context.Context) error, err error)
}

var serveParts []servePart

func registerServePart(p servePart) { serveParts = append(serveParts, p) }

const (
	defaultListen  = "127.0.0.1:8080"
	adminTokenFile = "admin.token"
	shutdownGrace  = 10 * time.Second
)

func serve(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", defaultListen, "address of the binding API (HTTP) and the web console (at /)")
	consoleSecure := fs.Bool("console-secure-cookies", false, "mark the console's cookies Secure (default: on when --api-public-url is https, as the console is served on the API's address; a request that arrives over TLS always gets them; =false turns the default off)")
	so := addStoreFlags(fs) // --data-dir (also holds admin.token) and --store
	apiURL := fs.String("api-public-url", "", "the binding API's public base URL (https; http only for a loopback host), e.g. https://switchboard.example.com: OAuth redirect URLs and Add-to-Slack links in setup packets")
	publicURL := fs.String("public-url", "", "the edge's public base URL providers call (https; http only for a loopback host), e.g. https://hooks.example.com: answers then carry webhook_url and setup packets name it")
	allowPrivate := fs.Bool("allow-private-agent-urls", false, "accept agent URLs that name loopback, private, link-local or metadata addresses (local development; by default the API refuses them when an agent is created or updated, and the worker refuses them when it connects)")
	edgeURL := fs.String("edge-url", "", "the edge's base URL as this host reaches it, for the health check's signed self-test (default --public-url)")
	slackAPI := fs.String("slack-api", slack.DefaultAPIBase, "Slack Web API origin (registration checks, OAuth)")
	telegramAPI := fs.String("telegram-api", telegram.DefaultAPIBase, "Telegram Bot API origin (registration)")
	discordAPI := fs.String("discord-api", discord.DefaultAPIBase, "Discord API origin (registration, OAuth)")
	graphAPI := fs.String("graph-api", whatsapp.DefaultAPIBase, "Meta Graph API origin (WhatsApp, Messenger, Instagram registration)")
	maxEvidenceAge := fs.Duration("max-evidence-age", rollout.DefaultMaxAge, "how old a matrix report or load result may be for `switchboard rollout promote`")
	initialStage := fs.String("initial-stage", "", "rollout stage (off or on) recorded for every provider that has none yet; without it such providers are not served until `switchboard rollout` sets a stage")
	for _, p := range serveParts {
		if p.flags != nil {
			p.flags(fs)
		}
	}
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	pub, err := api.ParsePublicURL(*publicURL)
	if err != nil {
		return fmt.Errorf("--public-url %q: %w", *publicURL, err)
	}
	apiPub, err := api.ParsePublicURL(*apiURL)
	if err != nil {
		return fmt.Errorf("--api-public-url %q: %w", *apiURL, err)
	}
	log := slog.New(slog.NewTextHandler(errOut, nil))
	dataDir := &so.DataDir
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}

	keys, err := loadKeyring(*dataDir)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, so.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(out, "store: %s; master key %s seals\n", so.DSN(), keys.Primary())

	if err := ensureServeAdmin(ctx, st, *dataDir, out); err != nil {
		return err
	}
	if err := ensureStages(ctx, st, *initialStage, time.Now, out); err != nil {
		return err
	}

	if *maxEvidenceAge <= 0 {
		return fmt.Errorf("--max-evidence-age must be positive")
	}
	env := &serveEnv{Store: st, Keyring: keys, DataDir: *dataDir, Log: log, Out: out}
	apiSrv := api.New(api.Config{Store: st, Keyring: keys, Logger: log, PublicURL: pub, APIURL: apiPub, AllowPrivateAgentURLs: *allowPrivate, EdgeURL: strings.TrimRight(*edgeURL, "/"),
		ProviderAPIs: api.ProviderAPIs{Base: map[string]string{"slack": *slackAPI, "telegram": *telegramAPI, "discord": *discordAPI,
			"whatsapp": *graphAPI, "messenger": *graphAPI, "instagram": *graphAPI}},
		EvidenceKey:    ed25519.NewKeyFromSeed(keys.Derive("rollout evidence signing")),
		MaxEvidenceAge: *maxEvidenceAge, Version: binaryVersion(),
		Analysis: env.analysisState})
	env.API = apiSrv

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Parts start before the API handler is served so that they can mount
	// routes (HandlePlatform) first.
	type running struct {
		name string
		run  func(ctx context.Context) error
	}
	var runs []running
	for _, p := range serveParts {
		run, err := p.start(ctx, env)
		if err != nil {
			return fmt.Errorf("start %s: %w", p.name, err)
		}
		runs = append(runs, running{p.name, run})
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	ln = limitConns(ln, connLimit())
	secureSet := false
	fs.Visit(func(f *flag.Flag) { secureSet = secureSet || f.Name == "console-secure-cookies" })
	con, err := console.New(console.Config{API: apiSrv.Handler(), Secure: consoleSecureCookies(secureSet, *consoleSecure, apiPub), Logger: log})
	if err != nil {
		return err
	}
	httpSrv := newHTTPServer(console.Mount(apiSrv.Handler(), con.Handler()), log)
	runs = append(runs, running{"api", func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- httpSrv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer scancel()
		if err := httpSrv.Shutdown(sctx); err != nil {
			return err
		}
		<-errc // http.ErrServerClosed
		return nil
	}})
	// The console's line first: tests and scripts wait for the API's.
	fmt.Fprintf(out, "web console on http://%s/\n", ln.Addr())
	fmt.Fprintf(out, "binding API listening on http://%s/v1\n", ln.Addr())

	// Run everything; the first failure (or ctx's end) stops all.
	var wg sync.WaitGroup
	errs := make(chan error, len(runs))
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", r.name, err)
				cancel()
			}
		}()
	}
	<-ctx.Done()
	log.Info("shutting down")
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// ensureStages records initial (off or on) for every provider without a
// rollout stage, audited; with initial "" it only says which providers are
// not served for want of a stage. Stages are explicit: no row, no traffic.
func ensureStages(ctx context.Context, st store.Store, initial string, now func() time.Time, out io.Writer) error {
	if initial != "" && initial != store.StageOff && initial != store.StageOn {
		return fmt.Errorf("--initial-stage %q: off or on (a canary names its organisations: `switchboard rollout canary`)", initial)
	}
	stages, err := st.ListStages(ctx)
	if err != nil {
		return fmt.Errorf("list rollout stages: %w", err)
	}
	have := map[string]bool{}
	for _, s := range stages {
		have[s.Provider] = true
	}
	var missing []string
	for _, p := range api.Providers {
		if !have[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if initial == "" {
		fmt.Fprintf(out, "rollout: %s have no stage and are not served (start with --initial-stage on|off, or `switchboard rollout canary`)\n", strings.Join(missing, ", "))
		return nil
	}
	err = st.InTx(ctx, func(q store.Queries) error {
		at := now().UTC()
		for _, p := range missing {
			if _, err := q.GetStage(ctx, p); err == nil {
				continue // set meanwhile by another replica
			}
			if err := q.SetStage(ctx, store.RolloutStage{Provider: p, Stage: initial, UpdatedAt: at}); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]any{"stage": initial, "previous": "", "reason": "serve --initial-stage"})
			if _, err := q.AppendAudit(ctx, store.AuditEvent{At: at, Actor: "system", Action: "stage.set", Target: p, Detail: string(detail)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record initial rollout stages: %w", err)
	}
	fmt.Fprintf(out, "rollout: initial stage %s recorded for %s\n", initial, strings.Join(missing, ", "))
	return nil
}

// ensureServeAdmin makes sure a platform admin token exists: from
// SWITCHBOARD_ADMIN_TOKEN, else <dataDir>/admin.token, else a new one that is
// printed once and written (0600) to that file. The store keeps only its hash.
func ensureServeAdmin(ctx context.Context, st store.Store, dataDir string, out io.Writer) error {
	if v := os.Getenv("SWITCHBOARD_ADMIN_TOKEN"); v != "" {
		if _, _, err := api.EnsureAdminToken(ctx, st, v); err != nil {
			return fmt.Errorf("SWITCHBOARD_ADMIN_TOKEN: %w", err)
		}
		fmt.Fprintln(out, "admin token: from SWITCHBOARD_ADMIN_TOKEN")
		return nil
	}
	path := filepath.Join(dataDir, adminTokenFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if _, _, err := api.EnsureAdminToken(ctx, st, strings.TrimSpace(string(data))); err != nil {
			if errors.Is(err, api.ErrAdminTokenRevoked) {
				return fmt.Errorf("the admin token in %s was revoked: remove the file to generate a new one", path)
			}
			return fmt.Errorf("admin token in %s: %w", path, err)
		}
		fmt.Fprintf(out, "admin token: in %s\n", path)
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read admin token: %w", err)
	}
	tok := api.NewToken()
	if err := writeFileExcl(path, []byte(tok+"\n")); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	if _, _, err := api.EnsureAdminToken(ctx, st, tok); err != nil {
		os.Remove(path)
		return err
	}
	fmt.Fprintf(out, "admin token (generated, saved to %s): %s\n", path, tok)
	return nil
}

// writeFileExcl creates path with mode 0600, failing if it exists.
func writeFileExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// defaultDataDir matches addStoreFlags' default (without $SWITCHBOARD_DATA_DIR).
const defaultDataDir = ".data"

// openServeStore is kept for callers written before store.go landed (ingest):
// dsn, else SQLite in dataDir. New code uses addStoreFlags + openStore.
func openServeStore(ctx context.Context, dsn, dataDir string) (store.Store, error) {
	o := storeOptions{DataDir: dataDir, Store: dsn}
	return openStore(ctx, o.DSN())
}

// consoleSecureCookies decides whether the console's cookies are Secure: as
// --console-secure-cookies says when it was given, else when the API's public
// URL (where the console is served) is https.
func consoleSecureCookies(flagSet, flagValue bool, apiPublicURL string) bool {
	if flagSet {
		return flagValue
	}
	return strings.HasPrefix(apiPublicURL, "https://")
}
