package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/secrets"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
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
	defaultDataDir = "switchboard-data"
	adminTokenFile = "admin.token"
	masterKeyFile  = "master.keys"
	shutdownGrace  = 10 * time.Second
)

func serve(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", defaultListen, "address of the binding API (HTTP)")
	dataDir := fs.String("data-dir", defaultDataDir, "directory for the SQLite store, the generated master key and admin token")
	storeDSN := fs.String("store", "", "store: sqlite:PATH or a file path (default <data-dir>/switchboard.db)")
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
	log := slog.New(slog.NewTextHandler(errOut, nil))
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}

	st, err := openServeStore(ctx, *storeDSN, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, keySource, err := loadServeKeyring(*dataDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "master keys: %s (primary %s)\n", keySource, keys.Primary())

	if err := ensureServeAdmin(ctx, st, *dataDir, out); err != nil {
		return err
	}

	apiSrv := api.New(api.Config{Store: st, Keyring: keys, Logger: log})
	env := &serveEnv{Store: st, Keyring: keys, API: apiSrv, DataDir: *dataDir, Log: log, Out: out}

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
	httpSrv := &http.Server{Handler: apiSrv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
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

// openServeStore opens the store named by dsn (default: SQLite in dataDir).
// TODO(reconcile): replace with the store helper's openStore once
// cmd/switchboard/store.go lands.
func openServeStore(ctx context.Context, dsn, dataDir string) (store.Store, error) {
	if dsn == "" {
		dsn = filepath.Join(dataDir, "switchboard.db")
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, errors.New("--store: the PostgreSQL backend is not wired into serve yet; use sqlite:PATH")
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// loadServeKeyring takes the master keys from the environment; without
// them it uses (creating on first start) <dataDir>/master.keys so that the
// defaults work with nothing else set up.
// TODO(reconcile): replace with the store helper's loadKeyring.
func loadServeKeyring(dataDir string) (*secrets.Keyring, string, error) {
	k, err := secrets.FromEnv()
	if err == nil {
		return k, "from environment", nil
	}
	if !errors.Is(err, secrets.ErrNoKeys) {
		return nil, "", err
	}
	path := filepath.Join(dataDir, masterKeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		line := secrets.FormatKey("k"+time.Now().UTC().Format("20060102"), secrets.NewKey()) + "\n"
		if err := writeFileExcl(path, []byte(line)); err != nil {
			return nil, "", fmt.Errorf("create master key file: %w", err)
		}
		k, err := secrets.LoadFile(path)
		return k, "generated " + path + " (set " + secrets.EnvKeys + " or " + secrets.EnvKeyFile + " in production)", err
	}
	k, err = secrets.LoadFile(path)
	return k, path, err
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
	fmt.Fprintf(out, "admin token (generated, shown once, saved to %s): %s\n", path, tok)
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
