package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/xds"
)

func init() {
	register(command{name: "up", usage: "run the whole runtime locally: API + xDS, edge, ingest, workers and a private redis-server", run: func(ctx context.Context, args []string) error {
		return up(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	}})
}

// attestationKeyFile holds the generated attestation key when
// SWITCHBOARD_ATTESTATION_KEY is unset.
const attestationKeyFile = "attestation.key"

// upReadyTimeout bounds how long one component may take to become ready.
const upReadyTimeout = 60 * time.Second

type upConfig struct {
	api, xds, edge, edgeAdmin, ingest, redisListen, redisAddr, metrics string
	publicURL, apiURL                                                  string
	shards                                                             int
}

// up runs every part of the runtime in this process (by their own run
// functions, with the flags an operator would give them) beside a private
// redis-server, prints where each listens as it becomes ready, and stops
// everything on ctx's end: the edge first (no new traffic), then ingest, the
// workers and the control plane, Redis last.
func up(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fset := flag.NewFlagSet("up", flag.ContinueOnError)
	fset.SetOutput(errOut)
	so := addStoreFlags(fset)
	var c upConfig
	fset.StringVar(&c.api, "api", defaultListen, "binding API address")
	fset.StringVar(&c.xds, "xds", defaultXDSListen, "xDS (ADS) server address (Envoy nodes and the edge subscribe here)")
	fset.StringVar(&c.edge, "edge", "127.0.0.1:8443", "edge address: providers POST to http://<edge>/v1/hooks/<provider>/<ingress-id>")
	fset.StringVar(&c.edgeAdmin, "edge-admin", "127.0.0.1:9902", "edge admin address (/ready, edge /metrics, /config)")
	fset.StringVar(&c.ingest, "ingest", defaultIngestListen, "ingest address (only the edge talks to it)")
	fset.StringVar(&c.redisListen, "redis-listen", "127.0.0.1:6390", "address of the private redis-server started by up")
	fset.StringVar(&c.redisAddr, "redis", "", "use this running Redis instead of starting a private redis-server: "+redisconf.Syntax+"; password from $"+redisconf.EnvPassword+" when the URL has none")
	fset.StringVar(&c.metrics, "metrics-listen", "127.0.0.1:9100", "Prometheus /metrics of the control plane, ingest and workers (the edge's are on --edge-admin)")
	fset.StringVar(&c.publicURL, "public-url", "", "the edge's public base URL providers call (https; http only for a loopback host), e.g. a tunnel's https://….example; default http://<--edge>, which only this machine reaches")
	fset.StringVar(&c.apiURL, "api-public-url", "", "the binding API's public base URL for OAuth redirects (https; http only for a loopback host); default http://<--api>")
	shardsFlag(fset, &c.shards)
	initialStage := fset.String("initial-stage", "on", "rollout stage recorded for providers that have none (local development starts at on; off for a canary-first walk)")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return exitError{code: 2}
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fset.Args())
	}
	if err := checkShards(c.shards); err != nil {
		return err
	}
	if c.publicURL == "" {
		c.publicURL = "http://" + c.edge
	}
	if _, err := api.ParsePublicURL(c.publicURL); err != nil {
		return fmt.Errorf("--public-url %q: %w", c.publicURL, err)
	}
	if c.apiURL == "" {
		c.apiURL = "http://" + c.api
	}
	if _, err := api.ParsePublicURL(c.apiURL); err != nil {
		return fmt.Errorf("--api-public-url %q: %w", c.apiURL, err)
	}
	if c.redisAddr == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return errRedisServerMissing
		}
	}
	// Readiness is checked by dialling each address, which another program
	// already listening there would pass: refuse taken addresses up front,
	// naming the flag that moves them.
	if err := c.checkListenAddrs(); err != nil {
		return err
	}
	dataDir := so.DataDir
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	logs := &lineMux{w: errOut}
	// Progress goes to out, one line per part as it becomes ready; the
	// parts' own logs go to errOut, prefixed with the part's name.
	progress := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	// Keys: from the environment, else generated once into the data
	// directory (0600) and reused on every start.
	keys, err := loadKeyring(dataDir)
	if err != nil {
		return err
	}
	edgeKey, edgeFrom, err := loadOrCreateEdgeKey(dataDir, getenv)
	if err != nil {
		return err
	}
	attKey, attFrom, err := loadOrCreateAttestationKey(dataDir, getenv)
	if err != nil {
		return err
	}
	provSpec, provFrom, err := loadOrCreateProvenanceKeys(dataDir, getenv)
	if err != nil {
		return err
	}
	progress("keys: master key %s, edge key %s, attestation key %s, provenance key %s", keys.Primary(), edgeFrom, attFrom, provFrom)
	env := func(name string) string {
		switch name {
		case envProvenanceKeys:
			return provSpec
		case envProvenanceKeyFile:
			return ""
		case xds.EnvEdgeKey:
			return base64.StdEncoding.EncodeToString(edgeKey)
		case envAttestationKey:
			return base64.StdEncoding.EncodeToString(attKey)
		}
		return getenv(name)
	}

	// Redis first: ingest and the workers need it. It lives on its own
	// context so that it stops last.
	// The private one has a generated password (<data dir>/redis.password),
	// handed to ingest and the workers as their $SWITCHBOARD_REDIS_PASSWORD.
	redisAddr := c.redisAddr
	var rs *redisServer
	var sup *redisSupervisor // restarts the private redis-server once it is up
	if redisAddr == "" {
		pw, err := loadOrCreateRedisPassword(dataDir)
		if err != nil {
			return err
		}
		startRS := func() (*redisServer, error) {
			return startRedisServer(filepath.Join(dataDir, "redis"), c.redisListen, pw, logs.writer("redis"))
		}
		rs, err = startRS()
		if err != nil {
			return err
		}
		sup = newRedisSupervisor(rs, startRS, logs)
		defer sup.stop()
		redisAddr = c.redisListen
		userEnv := env
		env = func(name string) string {
			if name == redisconf.EnvPassword {
				return pw
			}
			return userEnv(name)
		}
	}
	redisOpts, err := redisOptions(redisAddr, "", env)
	if err != nil {
		return err
	}
	rdb := redisOpts.NewClient()
	defer rdb.Close()
	// Ready when it answers, even with a refusal: checkRedis then says why.
	if err := waitUntil(ctx, upReadyTimeout, rs.exited(), func(ctx context.Context) bool {
		if !dialable(redisOpts.Addrs()[0]) {
			return false
		}
		err := rdb.Ping(ctx).Err()
		return err == nil || isAuthError(err)
	}); err != nil {
		return fmt.Errorf("redis at %s: %w%s", redisOpts.Display(), err, rs.logTail())
	}
	if _, err := checkRedis(ctx, rdb, redisOpts); err != nil {
		return err
	}
	if sup != nil {
		go sup.run()
	}
	if rs != nil {
		progress("✓ redis      %s (private redis-server, data in %s, password in %s)", redisOpts.Addrs()[0], rs.dir, filepath.Join(dataDir, redisPasswordFile))
	} else {
		progress("✓ redis      %s", redisOpts.Display())
	}

	// The parts, each on the run function of its own command.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g := &group{cancel: cancel}
	defer g.wait()
	storeArgs := []string{"--data-dir", dataDir}
	if so.Store != "" {
		storeArgs = append(storeArgs, "--store", so.Store)
	}

	// Control plane: binding API + xDS.
	cpDone := g.start(runCtx, "serve", func(ctx context.Context) error {
		return serve(ctx, append([]string{"--listen", c.api, "--xds-listen", c.xds, "--envoy-ingest", c.ingest,
			"--metrics-listen", "", "--public-url", c.publicURL, "--api-public-url", c.apiURL, "--allow-private-agent-urls", "--initial-stage", *initialStage}, storeArgs...), logs.writer("serve"), logs.writer("serve"))
	})
	if err := waitUntil(runCtx, upReadyTimeout, cpDone, func(context.Context) bool { return dialable(c.api) && dialable(c.xds) }); err != nil {
		return g.fail("control plane", err)
	}
	token, tokenFrom, err := adminToken(dataDir, getenv)
	if err != nil {
		return g.fail("control plane", err)
	}
	progress("✓ api        http://%s/v1   (admin token %s)", c.api, tokenFrom)
	progress("✓ xds        %s", c.xds)

	// Shared /metrics of the parts in this process.
	if c.metrics != "" {
		ln, err := net.Listen("tcp", c.metrics)
		if err != nil {
			return g.fail("metrics", fmt.Errorf("listen %s: %w", c.metrics, err))
		}
		g.start(runCtx, "metrics", func(ctx context.Context) error { return serveMetrics(ctx, ln) })
		progress("✓ metrics    http://%s/metrics (edge: http://%s/metrics)", ln.Addr(), c.edgeAdmin)
	}

	ingestDone := g.start(runCtx, "ingest", func(ctx context.Context) error {
		return runIngest(ctx, append([]string{"--listen", c.ingest, "--redis", redisAddr, "--shards", strconv.Itoa(c.shards),
			"--metrics-listen", ""}, storeArgs...), env, logs.writer("ingest"), logs.writer("ingest"))
	})
	if err := waitUntil(runCtx, upReadyTimeout, ingestDone, func(context.Context) bool { return dialable(c.ingest) }); err != nil {
		return g.fail("ingest", err)
	}
	progress("✓ ingest     http://%s", c.ingest)

	host, _ := os.Hostname()
	workerID := fmt.Sprintf("up-%s-%d", host, os.Getpid())
	workerDone := g.start(runCtx, "worker", func(ctx context.Context) error {
		return workerMain(ctx, append([]string{"--redis", redisAddr, "--shards", strconv.Itoa(c.shards), "--id", workerID,
			"--metrics-listen", "", "--allow-private-agent-urls"}, storeArgs...), env, logs.writer("worker"))
	})
	leases := queue.NewLeases(rdb, c.shards, 15*time.Second)
	owned := 0
	if err := waitUntil(runCtx, upReadyTimeout, workerDone, func(ctx context.Context) bool {
		owners, err := leases.Owners(ctx)
		if err != nil {
			return false
		}
		owned = 0
		for _, tok := range owners {
			if queue.TokenWorker(tok) == workerID {
				owned++
			}
		}
		return owned > 0 && len(owners) == c.shards
	}); err != nil {
		return g.fail("worker", err)
	}
	progress("✓ worker     %s owns %d of %d shard queues", workerID, owned, c.shards)

	// The edge's node certificate, from the private CA serve created in
	// the data directory: xDS runs over mTLS.
	edgeID := "edge-" + nodeIDPart(host)
	nodeDir := filepath.Join(dataDir, pkiDir, "nodes")
	if err := certsMain([]string{"issue", "--data-dir", dataDir, "--node", edgeID, "--out", nodeDir}, io.Discard, logs.writer("certs")); err != nil {
		return g.fail("edge certificate", err)
	}
	edgeDone := g.start(runCtx, "edge", func(ctx context.Context) error {
		return runEdge(ctx, []string{"--listen", c.edge, "--admin", c.edgeAdmin, "--xds", c.xds,
			"--ingest", "http://" + c.ingest,
			"--xds-cert", filepath.Join(nodeDir, edgeID+".crt"), "--xds-key", filepath.Join(nodeDir, edgeID+".key"),
			"--xds-ca", filepath.Join(nodeDir, pki.CACertFile)}, env, logs.writer("edge"), logs.writer("edge"))
	})
	if err := waitUntil(runCtx, upReadyTimeout, edgeDone, func(ctx context.Context) bool { return httpOK(ctx, "http://"+c.edgeAdmin+"/ready") }); err != nil {
		return g.fail("edge", err)
	}
	progress("✓ edge       http://%s/v1/hooks/<provider>/<ingress-id> (configuration received over xDS)", c.edge)

	// Where everything listens, for the CLI and one-shot commands run in
	// this directory (no secret in it; removed when up stops).
	rt := datadir.Runtime{API: "http://" + c.api, Edge: "http://" + c.edge, EdgeAdmin: "http://" + c.edgeAdmin,
		Ingest: "http://" + c.ingest, PublicURL: c.publicURL, PID: os.Getpid()}
	if rs != nil {
		rt.Redis = c.redisListen
	}
	if err := datadir.WriteRuntime(dataDir, rt); err != nil {
		return g.fail("up", err)
	}
	defer datadir.RemoveRuntime(dataDir, rt.PID)

	fmt.Fprintf(out, "\nswitchboard is up (data in %s). Ctrl-C stops everything.\n", dataDir)
	fmt.Fprintf(out, "  web console: http://%s/ (sign in with the admin token)\n", c.api)
	if token != "" {
		fmt.Fprintf(out, "  admin token: %s\n", token)
	}
	fmt.Fprintln(out, "  try:  switchboard tokens whoami        (the CLI finds this API and its admin token in the data directory)")
	fmt.Fprintln(out, "  next: switchboard connect slack --help (connect a provider; the README's quickstart walks through it)")

	select {
	case <-ctx.Done():
		progress("stopping…")
	case <-runCtx.Done(): // a part failed
	}
	cancel()
	if err := g.wait(); err != nil {
		return err
	}
	progress("stopped")
	return nil
}

// loadOrCreateAttestationKey reads SWITCHBOARD_ATTESTATION_KEY, else
// <dataDir>/attestation.key, else generates that file (0600).
func loadOrCreateAttestationKey(dataDir string, getenv func(string) string) ([]byte, string, error) {
	if getenv(envAttestationKey) != "" {
		k, err := readAttestationKey(getenv)
		return k, "from " + envAttestationKey, err
	}
	path := filepath.Join(dataDir, attestationKeyFile)
	fromFile := func(path string) ([]byte, string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("attestation key: %w", err)
		}
		k, err := readAttestationKey(func(string) string { return string(b) })
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return k, "in " + path, nil
	}
	if _, err := os.Stat(path); err == nil {
		return fromFile(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("attestation key file: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	if err := writeFileExcl(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fromFile(path)
		}
		return nil, "", fmt.Errorf("create attestation key file: %w", err)
	}
	return key, "generated in " + path, nil
}

// adminToken is the platform admin token serve set up: from the environment
// or the token file in the data directory.
func adminToken(dataDir string, getenv func(string) string) (token, from string, err error) {
	if v := getenv("SWITCHBOARD_ADMIN_TOKEN"); v != "" {
		return v, "from SWITCHBOARD_ADMIN_TOKEN", nil
	}
	path := filepath.Join(dataDir, adminTokenFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), "in " + path, nil
}

// group runs the parts and collects their ends.
type group struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   []error
	waited bool
	result error
}

// start runs fn; the returned channel closes when it returns. A part that
// returns while the others run (an error or not) stops them all.
func (g *group) start(ctx context.Context, name string, fn func(ctx context.Context) error) <-chan struct{} {
	done := make(chan struct{})
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(done)
		err := fn(ctx)
		if ctx.Err() == nil {
			if err == nil {
				err = errors.New("stopped unexpectedly")
			}
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
			g.cancel()
		} else if err != nil && !errors.Is(err, context.Canceled) {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s (stopping): %w", name, err))
			g.mu.Unlock()
		}
	}()
	return done
}

// fail stops everything and returns err for part name, with the parts' own
// errors (the cause is often there).
func (g *group) fail(name string, err error) error {
	g.cancel()
	werr := g.wait()
	return errors.Join(fmt.Errorf("%s did not become ready: %w", name, err), werr)
}

// wait stops nothing by itself: it waits for every part to return (callers
// cancel first) and returns their errors, once.
func (g *group) wait() error {
	g.cancel()
	g.wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.waited {
		g.waited = true
		g.result = errors.Join(g.errs...)
	}
	return g.result
}

// waitUntil polls ok until it is true, ctx ends, the part ends (done) or
// timeout passes.
func waitUntil(ctx context.Context, timeout time.Duration, done <-chan struct{}, ok func(context.Context) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		good := ok(cctx)
		cancel()
		if good {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return errors.New("exited while starting (see its log lines above)")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func httpOK(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var errRedisServerMissing = errors.New("redis-server is not installed (not on PATH). Install it with:\n" +
	"    sudo apt-get install redis-server     # Debian / Ubuntu\n" +
	"then run `switchboard up` again (or pass --redis HOST:PORT to use a Redis you already run)")

// checkListenAddrs refuses to start when an address up would listen on is
// already taken (or invalid), naming the flag and address.
func (c *upConfig) checkListenAddrs() error {
	addrs := []struct{ flag, addr string }{
		{"--api", c.api}, {"--xds", c.xds}, {"--metrics-listen", c.metrics},
		{"--ingest", c.ingest}, {"--edge", c.edge}, {"--edge-admin", c.edgeAdmin},
	}
	if c.redisAddr == "" {
		addrs = append(addrs, struct{ flag, addr string }{"--redis-listen", c.redisListen})
	}
	seen := map[string]string{}
	for _, a := range addrs {
		if a.addr == "" {
			continue // a part that is switched off
		}
		if other, dup := seen[a.addr]; dup {
			return fmt.Errorf("%s %s: the same address as %s; give each part its own address", a.flag, a.addr, other)
		}
		seen[a.addr] = a.flag
		if a.flag == "--redis-listen" && dialable(a.addr) {
			return fmt.Errorf("--redis-listen %s: something already listens there (another `switchboard up`?); pick another address or pass --redis %s to use it", a.addr, a.addr)
		}
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%s %s: address already in use (another `switchboard up` or another program listens there); stop it or pick another address with %s", a.flag, a.addr, a.flag)
			}
			return fmt.Errorf("%s %s: cannot listen there: %w", a.flag, a.addr, err)
		}
		ln.Close()
	}
	return nil
}

// redisServer is the private redis-server of `up`.
type redisServer struct {
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startRedisServer starts redis-server from PATH with its data (append-only
// file) in dir, listening on addr (loopback).
func startRedisServer(dir, addr, password string, logw io.Writer) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errRedisServerMissing
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--redis-listen %q: %w", addr, err)
	}
	if dialable(addr) {
		return nil, fmt.Errorf("--redis-listen %s: something already listens there (another `switchboard up`?); pick another address or pass --redis %s to use it", addr, addr)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis data directory: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil { // redis-server chdirs into --dir
		return nil, fmt.Errorf("redis data directory: %w", err)
	}
	conf, err := writeRedisConfig(dir, password)
	if err != nil {
		return nil, err
	}
	// Durable enough for a local runtime: an acknowledged webhook must
	// survive a restart of `up`. The server is bound to loopback, protected
	// mode on, requires the password (from its configuration file, not the
	// command line) and never daemonises (we own its lifetime).
	cmd := exec.Command(bin, conf, "--bind", host, "--port", port, "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--daemonize", "no", "--protected-mode", "yes", "--logfile", filepath.Join(dir, "redis.log"))
	cmd.Stdout, cmd.Stderr = logw, logw
	// Its own process group: Ctrl-C in the terminal reaches up, which stops
	// redis after everything that uses it.
	cmd.SysProcAttr = redisProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	rs := &redisServer{dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { rs.err = cmd.Wait(); close(rs.done) }()
	return rs, nil
}

func (rs *redisServer) exited() <-chan struct{} {
	if rs == nil {
		return nil
	}
	return rs.done
}

func (rs *redisServer) logTail() string {
	if rs == nil {
		return ""
	}
	select {
	case <-rs.done:
		b, _ := os.ReadFile(filepath.Join(rs.dir, "redis.log"))
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		return fmt.Sprintf(" (redis-server exited: %v; end of %s:\n%s)", rs.err, filepath.Join(rs.dir, "redis.log"), strings.Join(lines, "\n"))
	default:
		return ""
	}
}

// stop asks redis-server to shut down (SIGTERM: it flushes its append-only
// file) and waits for it, killing it after 10 s.
func (rs *redisServer) stop(logs *lineMux) {
	select {
	case <-rs.done:
		return
	default:
	}
	_ = rs.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-rs.done:
	case <-time.After(10 * time.Second):
		_ = rs.cmd.Process.Kill()
		<-rs.done
	}
	logs.line("up", "redis-server stopped")
}

// lineMux writes whole lines from several parts to one writer, each line
// prefixed with its part's name, so concurrent logs stay readable.
type lineMux struct {
	mu sync.Mutex
	w  io.Writer
}

func (m *lineMux) line(name, s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.w, "%-7s| %s\n", name, s)
}

func (m *lineMux) writer(name string) io.Writer { return &prefixWriter{m: m, name: name} }

type prefixWriter struct {
	m    *lineMux
	name string
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		data := p.buf.Bytes()
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		p.m.line(p.name, string(data[:i]))
		p.buf.Next(i + 1)
	}
	return len(b), nil
}

// nodeIDPart keeps the characters a node id may hold (pki.CheckNodeID).
func nodeIDPart(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}
