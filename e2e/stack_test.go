// Package e2e runs the whole runtime as separate processes of the real
// binary (serve, edge, ingest, worker, demo-agent) beside a private
// redis-server, drives it through the binding API and the edge, and asserts
// on what the agent, the fake provider APIs and Redis actually received.
package e2e

import (
	_ "github.com/switchboard-dev/switchboard/provider/allkits" // the kits' fake provider APIs
	"github.com/switchboard-dev/switchboard/provider/conformance"

	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/demoagent"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
)

var (
	binary   string // built once in TestMain
	repoRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_, here, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(here))
	binary = filepath.Join(dir, "switchboard")
	build := exec.Command("go", "build", "-o", binary, "./cmd/switchboard")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build ./cmd/switchboard:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const shards = 4

// stack is one running runtime.
type stack struct {
	t         *testing.T
	dir       string
	api, edge string // base URLs
	edgeAdmin string
	ingest    string
	agentURL  string
	// Prometheus /metrics of each process (the edge's are on edgeAdmin).
	serveMetrics, ingestMetrics, workerMetrics string
	// secrets are every secret value the stack was given or the test
	// created; none may ever appear in a process's output.
	secrets    []string
	adminToken string
	agentKey   string // whsec_ secret of the demo agent (every agent of the test uses it)
	rdb        *redis.Client
	fake       *fakeProviders
	// kitAPI are the fake provider APIs of the providers' conformance kits
	// (Twilio, LINE, GitHub, Messenger, Instagram, a Standard Webhooks
	// receiver), by provider; the worker sends their replies there.
	kitAPI map[string]*conformance.Recorder
	procs  []*proc
	// env and redisAddr start more processes of the stack (startWorker).
	env       []string
	redisAddr string
	redis     *servicetest.Redis
	shards    int
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func key32() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// stackOption adds to what startStack runs: serveArgs are more flags of
// serve, given the stack (its addresses are known by then).
type stackOption struct {
	serveArgs func(s *stack) []string
	// shards overrides the shard count of ingest and the worker [shards];
	// workerArgs are more flags of the stack's worker.
	shards     int
	workerArgs []string
	// edgeArgs are more flags of the stack's edge.
	edgeArgs []string
}

func startStack(t *testing.T, opts ...stackOption) *stack {
	t.Helper()
	// Redis requires a password, as in production: the stack's processes get
	// it from the environment, never on a command line.
	redisPassword := strings.NewReplacer("+", "a", "/", "b", "=", "").Replace(key32())
	rs := servicetest.StartRedisWithPassword(t, redisPassword)
	s := &stack{t: t, dir: t.TempDir(), fake: newFakeProviders(t), kitAPI: map[string]*conformance.Recorder{}, redis: rs, shards: shards}
	for _, o := range opts {
		if o.shards > 0 {
			s.shards = o.shards
		}
	}
	for _, p := range []string{"twilio", "line", "github", "messenger", "instagram", "standardwebhooks"} {
		k, _ := conformance.Get(p)
		s.kitAPI[p] = conformance.Serve(t, k.(conformance.Outbound).FakeAPI())
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: rs.Addr, Password: redisPassword})
	t.Cleanup(func() { s.rdb.Close() })
	port := func() string { return "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) }
	apiAddr, xdsAddr, edgeAddr, edgeAdmin, ingestAddr, agentAddr := port(), port(), port(), port(), port(), port()
	s.api, s.edge, s.edgeAdmin, s.ingest, s.agentURL = "http://"+apiAddr, "http://"+edgeAddr, "http://"+edgeAdmin, "http://"+ingestAddr, "http://"+agentAddr+"/"
	s.adminToken = "sbt_e2e_" + strings.NewReplacer("+", "a", "/", "b", "=", "").Replace(key32())
	s.agentKey = "whsec_" + key32()
	masterKey, edgeKey, attKey, provKey := key32(), key32(), key32(), key32()
	s.secret(s.adminToken, s.agentKey, masterKey, edgeKey, attKey, provKey, redisPassword)
	s.serveMetrics, s.ingestMetrics, s.workerMetrics = "http://"+port()+"/metrics", "http://"+port()+"/metrics", "http://"+port()+"/metrics"
	env := append(os.Environ(),
		"SWITCHBOARD_MASTER_KEYS=k1:"+masterKey,
		"SWITCHBOARD_EDGE_KEY="+edgeKey,
		"SWITCHBOARD_ATTESTATION_KEY="+attKey,
		"SWITCHBOARD_PROVENANCE_KEYS=p1:"+provKey,
		"SWITCHBOARD_ADMIN_TOKEN="+s.adminToken,
		"SWITCHBOARD_DATA_DIR="+s.dir,
		"SWITCHBOARD_REDIS_PASSWORD="+redisPassword,
	)
	t.Cleanup(func() {
		// Stop in reverse order; show the logs of a failed test.
		for i := len(s.procs) - 1; i >= 0; i-- {
			s.procs[i].stop()
		}
		if t.Failed() {
			for _, p := range s.procs {
				b, _ := os.ReadFile(p.log)
				t.Logf("---- %s log (last 40 lines) ----\n%s", p.name, tail(string(b), 40))
			}
		}
	})
	sh := strconv.Itoa(s.shards)
	serveArgs := []string{"serve", "--allow-private-agent-urls", "--listen", apiAddr, "--xds-listen", xdsAddr, "--initial-stage", "on", "--metrics-listen", hostPort(s.serveMetrics),
		"--public-url", s.edge, "--edge-url", s.edge, "--api-public-url", s.api,
		"--slack-api", s.fake.srv.URL, "--telegram-api", s.fake.srv.URL, "--discord-api", s.fake.srv.URL, "--graph-api", s.fake.srv.URL}
	for _, o := range opts {
		if o.serveArgs != nil {
			serveArgs = append(serveArgs, o.serveArgs(s)...)
		}
	}
	s.run("serve", env, serveArgs...)
	s.waitFor("serve", func() bool { return dialable(apiAddr) && dialable(xdsAddr) })
	s.run("ingest", env, "ingest", "--listen", ingestAddr, "--redis", rs.Addr, "--shards", sh, "--metrics-listen", hostPort(s.ingestMetrics))
	s.env, s.redisAddr = env, rs.Addr
	var workerArgs []string
	for _, o := range opts {
		workerArgs = append(workerArgs, o.workerArgs...)
	}
	s.startWorker("worker", "e2e-worker", append([]string{"--metrics-listen", hostPort(s.workerMetrics)}, workerArgs...)...)
	// xDS over mTLS: the edge's node certificate from the CA serve made in
	// the data directory, issued the way an operator does.
	certDir := filepath.Join(s.dir, "edge-certs")
	if out, err := exec.Command(binary, "certs", "issue", "--data-dir", s.dir, "--node", "e2e-edge", "--out", certDir).CombinedOutput(); err != nil {
		t.Fatalf("certs issue: %v: %s", err, out)
	}
	edgeArgs := []string{"edge", "--listen", edgeAddr, "--admin", edgeAdmin, "--xds", xdsAddr, "--ingest", s.ingest,
		"--xds-cert", filepath.Join(certDir, "e2e-edge.crt"), "--xds-key", filepath.Join(certDir, "e2e-edge.key"), "--xds-ca", filepath.Join(certDir, "ca.crt")}
	for _, o := range opts {
		edgeArgs = append(edgeArgs, o.edgeArgs...)
	}
	s.run("edge", env, edgeArgs...)
	s.run("demo-agent", env, "demo-agent", "--listen", agentAddr, "--secret", s.agentKey, "--record")
	s.waitFor("ingest", func() bool { return dialable(ingestAddr) })
	s.waitFor("demo-agent", func() bool { return dialable(agentAddr) })
	s.waitFor("edge", func() bool { return httpStatus(s.edgeAdmin+"/ready") == 200 })
	if b, _ := os.ReadFile(filepath.Join(s.dir, "edge.log")); !strings.Contains(string(b), "(mTLS)") {
		t.Fatalf("the edge does not subscribe over mTLS:\n%s", b)
	}
	leases := queue.NewLeases(s.rdb, s.shards, 15*time.Second)
	s.waitFor("worker", func() bool {
		o, err := leases.Owners(context.Background())
		return err == nil && len(o) == s.shards
	})
	return s
}

// startWorker runs a worker process (log name, worker id) of the stack with
// more flags. Two attempts: an event whose agent keeps failing becomes a dead
// letter after one retry (2 s backoff), so the suite sees retries and dead
// letters.
func (s *stack) startWorker(name, id string, more ...string) {
	s.t.Helper()
	args := []string{"worker", "--allow-private-agent-urls", "--redis", s.redisAddr, "--shards", strconv.Itoa(s.shards), "--id", id,
		"--attempts", "2",
		"--slack-api", s.fake.srv.URL, "--telegram-api", s.fake.srv.URL, "--whatsapp-api", s.fake.srv.URL, "--discord-api", s.fake.srv.URL,
		"--twilio-api", s.kitAPI["twilio"].URL, "--line-api", s.kitAPI["line"].URL, "--github-api", s.kitAPI["github"].URL,
		"--messenger-api", s.kitAPI["messenger"].URL, "--instagram-api", s.kitAPI["instagram"].URL}
	s.run(name, s.env, append(args, more...)...)
}

func (s *stack) run(name string, env []string, args ...string) {
	s.t.Helper()
	logPath := filepath.Join(s.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, f, f, s.dir
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	s.procs = append(s.procs, p)
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (s *stack) waitFor(what string, ok func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		for _, p := range s.procs {
			select {
			case <-p.done:
				b, _ := os.ReadFile(p.log)
				s.t.Fatalf("%s exited while waiting for %s:\n%s", p.name, what, tail(string(b), 30))
			default:
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not ready after 30s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call is a binding API request as the platform admin, through the typed
// client; it fails the test unless the answer is a success (want 2xx) or a
// refusal with status want.
func (s *stack) call(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	var raw []byte
	err := s.admin().Do(context.Background(), method, path, body, &raw)
	var ce *client.Error
	switch {
	case err == nil && want/100 != 2:
		s.t.Fatalf("%s %s: succeeded, want %d", method, path, want)
	case errors.As(err, &ce) && ce.Status != want:
		s.t.Fatalf("%s %s: %v, want %d", method, path, err, want)
	case err != nil && ce == nil:
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	var out map[string]any
	json.Unmarshal(raw, &out)
	return out
}

// admin is the typed API client with the platform admin token.
func (s *stack) admin() *client.Client {
	s.t.Helper()
	c, err := client.New(s.api, s.adminToken)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// received is what the demo agent recorded.
func (s *stack) received() []demoagent.Delivery {
	s.t.Helper()
	resp, err := http.Get(s.agentURL + "received")
	if err != nil {
		s.t.Fatalf("GET agent /received: %v", err)
	}
	defer resp.Body.Close()
	var v struct {
		Received []demoagent.Delivery `json:"received"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		s.t.Fatalf("agent /received: %v", err)
	}
	return v.Received
}

// secret records values that must never appear in a process's output.
func (s *stack) secret(vals ...string) {
	for _, v := range vals {
		if v != "" {
			s.secrets = append(s.secrets, v)
		}
	}
}

// checkLogsHoldNoSecret fails the test for every recorded secret that
// appears in any process's stdout or stderr.
func (s *stack) checkLogsHoldNoSecret() {
	s.t.Helper()
	for _, p := range s.procs {
		b, err := os.ReadFile(p.log)
		if err != nil {
			s.t.Fatalf("read %s log: %v", p.name, err)
		}
		if len(b) == 0 {
			s.t.Errorf("%s wrote no log at all: the secret check would prove nothing", p.name)
		}
		for _, v := range s.secrets {
			if i := bytes.Index(b, []byte(v)); i >= 0 {
				line := string(b[max(0, bytes.LastIndexByte(b[:i], '\n')+1):i])
				s.t.Errorf("%s log holds a secret (%d bytes) after %q", p.name, len(v), tail(line, 1))
			}
		}
	}
}

func hostPort(u string) string {
	rest := strings.TrimPrefix(u, "http://")
	h, _, _ := strings.Cut(rest, "/")
	return h
}

// metricSnap is one scrape of a /metrics page: series ("name{labels}") to value.
type metricSnap map[string]float64

// scrape reads a Prometheus text page; a failed scrape fails the test.
func (s *stack) scrape(u string) metricSnap {
	s.t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		s.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	out := metricSnap{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			s.t.Fatalf("%s: bad sample line %q", u, line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		s.t.Fatalf("read %s: %v", u, err)
	}
	return out
}

// sum adds the series of metric name whose labels include every
// label="value" pair given (as "label", "value", …); found says whether any
// series matched.
func (m metricSnap) sum(name string, labels ...string) (total float64, found bool) {
	for k, v := range m {
		series, rest, _ := strings.Cut(k, "{")
		if series != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains("{"+rest, fmt.Sprintf("%s=%q", labels[i], labels[i+1])) {
				ok = false
			}
		}
		if ok {
			total += v
			found = true
		}
	}
	return total, found
}

// auditRejects returns the webhook.reject audit events visible to the
// platform admin (orgID "": all), each as its detail JSON plus org and target.
func (s *stack) auditRejects(orgID string) []map[string]any {
	s.t.Helper()
	var out []map[string]any
	after := "0"
	for {
		q := "/v1/audit?limit=1000&after=" + after
		if orgID != "" {
			q += "&org_id=" + orgID
		}
		page := s.call("GET", q, nil, 200)
		items, _ := page["items"].([]any)
		for _, it := range items {
			ev, _ := it.(map[string]any)
			if ev["action"] != "webhook.reject" {
				continue
			}
			d := map[string]any{}
			if ds, ok := ev["detail"].(string); ok {
				json.Unmarshal([]byte(ds), &d)
			} else if dm, ok := ev["detail"].(map[string]any); ok {
				d = dm
			}
			d["org_id"], d["target"] = ev["org_id"], ev["target"]
			out = append(out, d)
		}
		next, _ := page["next_after"].(float64)
		n := strconv.FormatInt(int64(next), 10)
		if next == 0 || len(items) == 0 || n == after {
			return out
		}
		after = n
	}
}

// edgeCounter reads switchboard_edge_requests_total for the label set.
func (s *stack) edgeCounter(provider, decision, reason string) float64 {
	resp, err := http.Get(s.edgeAdmin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	want := fmt.Sprintf(`switchboard_edge_requests_total{decision=%q,provider=%q,reason=%q} `, decision, provider, reason)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// taskPayloads returns the stored asynq task messages of every shard queue
// (each holds the envelope JSON as its payload).
func (s *stack) taskPayloads() map[string][]byte {
	s.t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	iter := s.rdb.Scan(ctx, 0, "asynq:{sb-shard-*}:t:*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		msg, err := s.rdb.HGet(ctx, k, "msg").Bytes()
		if err == nil {
			out[k] = msg
		}
	}
	if err := iter.Err(); err != nil {
		s.t.Fatalf("scan redis: %v", err)
	}
	return out
}

// drained reports whether no shard queue holds pending, active, scheduled or
// retrying tasks.
func (s *stack) drained() bool {
	ctx := context.Background()
	for i := 0; i < shards; i++ {
		q := queue.QueueName(i)
		for _, suffix := range []string{"pending", "active", "scheduled", "retry"} {
			var n int64
			var err error
			if suffix == "pending" || suffix == "active" {
				n, err = s.rdb.LLen(ctx, "asynq:{"+q+"}:"+suffix).Result()
			} else {
				n, err = s.rdb.ZCard(ctx, "asynq:{"+q+"}:"+suffix).Result()
			}
			if err != nil || n > 0 {
				return false
			}
		}
	}
	return true
}

// waitDrained polls until no shard queue holds unfinished work.
func (s *stack) waitDrained(within time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for !s.drained() {
		if time.Now().After(deadline) {
			s.t.Fatalf("shard queues not drained after %s", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// fakeProviders is one local server standing in for the Slack Web API, the
// Telegram Bot API, the Graph API (WhatsApp Cloud) and the Discord API,
// answering each send as the provider documents a success.
type fakeProviders struct {
	srv  *httpServer
	mu   sync.Mutex
	sent []sentMessage
}

type httpServer struct{ URL string }

type sentMessage struct {
	Provider, Auth, Path string
	Body                 string
}

func newFakeProviders(t *testing.T) *fakeProviders {
	f := &fakeProviders{}
	mux := http.NewServeMux()
	record := func(p string, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.sent = append(f.sent, sentMessage{Provider: p, Auth: r.Header.Get("Authorization"), Path: r.URL.Path, Body: string(b)})
		f.mu.Unlock()
	}
	mux.HandleFunc("POST /api/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
		record("slack", r)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1700000000.000100"}`))
	})
	mux.HandleFunc("POST /api/v10/channels/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		record("discord", r)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"1183201108930498999","channel_id":"` + r.PathValue("id") + `"}`))
	})
	mux.HandleFunc("POST /{ver}/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		record("whatsapp", r)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.e2e"}]}`))
	})
	mux.HandleFunc("POST /{bot}/sendMessage", func(w http.ResponseWriter, r *http.Request) {
		record("telegram", r)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true,"result":{"message_id":7,"date":1700000000,"chat":{"id":1,"type":"private"}}}`))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.srv = &httpServer{URL: "http://" + ln.Addr().String()}
	return f
}

func (f *fakeProviders) messages() []sentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentMessage(nil), f.sent...)
}
