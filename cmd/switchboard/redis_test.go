package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/store"
)

func noEnv(string) string { return "" }

const redisTestPassword = "Rp4ss-never-shown-0123456789"

// TestRedisPasswordIngestAndWorker runs ingest and a worker against a Redis
// that requires a password: given in the environment or in the URL they
// enqueue and deliver; without it, or with a wrong one, each command refuses
// to start with an error that says what to set. No output shows the password.
func TestRedisPasswordIngestAndWorker(t *testing.T) {
	ctx := context.Background()
	r := servicetest.StartRedisWithPassword(t, redisTestPassword)
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "switchboard.db")

	delivered := make(chan string, 4)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		delivered <- string(b)
	}))
	defer agent.Close()
	seedAgentStore(t, dataDir, dbPath, agent.URL)

	attKey := bytes.Repeat([]byte{9}, 32)
	env := func(pw string) func(string) string {
		return func(k string) string {
			switch k {
			case envAttestationKey:
				return base64.StdEncoding.EncodeToString(attKey)
			case envProvenanceKeys:
				return testProvenanceKeys
			case redisconf.EnvPassword:
				return pw
			}
			return ""
		}
	}
	var outputs []*syncBuffer
	newOut := func() *syncBuffer { b := &syncBuffer{}; outputs = append(outputs, b); return b }
	var errs []error
	defer func() {
		for _, b := range outputs {
			if strings.Contains(b.String(), redisTestPassword) {
				t.Errorf("the Redis password appears in the output:\n%s", b.String())
			}
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), redisTestPassword) {
				t.Errorf("the Redis password appears in an error: %v", err)
			}
		}
	}()
	storeArgs := []string{"--data-dir", dataDir, "--store", "sqlite:" + dbPath, "--shards", "2", "--metrics-listen", ""}
	ingestArgs := func(addr, redis string) []string {
		return append([]string{"--listen", addr, "--redis", redis}, storeArgs...)
	}
	workerArgs := func(redis string) []string {
		return append([]string{"--redis", redis, "--id", "w1", "--allow-private-agent-urls", "--lease", "3s"}, storeArgs...)
	}

	// Refused without the password and with a wrong one, by every command.
	for _, tc := range []struct{ name, redis, envPW, want string }{
		{"no password", r.Addr, "", "refused authentication (NOAUTH)"},
		{"wrong password", r.Addr, "wrong-" + redisTestPassword[:4], "refused authentication (WRONGPASS)"},
		{"wrong password in URL", "redis://:wrong-" + redisTestPassword[:4] + "@" + r.Addr, redisTestPassword, "refused authentication (WRONGPASS)"},
	} {
		addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		for cmd, run := range map[string]func() error{
			"ingest": func() error { return runIngest(cctx, ingestArgs(addr, tc.redis), env(tc.envPW), newOut(), newOut()) },
			"worker": func() error { return workerMain(cctx, workerArgs(tc.redis), env(tc.envPW), newOut()) },
			"deadletters": func() error {
				return runDeadLetters(cctx, []string{"list", "--redis", tc.redis}, env(tc.envPW), newOut(), newOut())
			},
		} {
			err := run()
			errs = append(errs, err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), redisconf.EnvPassword) {
				t.Errorf("%s, %s: got %v, want an error with %q naming %s", tc.name, cmd, err, tc.want, redisconf.EnvPassword)
			}
		}
		cancel()
	}

	// With the password: ingest (password in the URL) enqueues, the worker
	// (password in the environment) delivers.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ingestAddr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	ingestOut, ingestErr, workerErr := newOut(), newOut(), newOut()
	ended := make(chan error, 2)
	go func() {
		ended <- runIngest(runCtx, ingestArgs(ingestAddr, "redis://:"+redisTestPassword+"@"+r.Addr), env(""), ingestOut, ingestErr)
	}()
	go func() { ended <- workerMain(runCtx, workerArgs(r.Addr), env(redisTestPassword), workerErr) }()
	defer func() {
		stop()
		for range 2 {
			err := <-ended
			errs = append(errs, err)
			if err != nil {
				t.Errorf("ingest or worker ended with %v", err)
			}
		}
	}()
	if err := servicetest.WaitTCP(ingestAddr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ingestOut.String(), "redis redis://:xxxxx@"+r.Addr) {
		t.Errorf("ingest does not show the Redis address redacted: %q", ingestOut.String())
	}
	if code := postAttestedTelegram(t, ingestAddr, attKey); code != http.StatusOK {
		t.Fatalf("ingest answered %d", code)
	}
	select {
	case got := <-delivered:
		if !strings.Contains(got, `"hi"`) && !strings.Contains(got, "update_id") {
			t.Errorf("agent got %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker delivered nothing in 30 s; worker log:\n%s", workerErr.String())
	}
}

// seedAgentStore creates one Telegram installation bound to an agent at
// agentURL, with a signing secret sealed by the data directory's master key.
func seedAgentStore(t *testing.T, dataDir, dbPath, agentURL string) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(ctx, "sqlite:"+dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := loadKeyringFrom(dataDir, true)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-time.Hour)
	kid, ct, err := keys.Seal([]byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "sec_a")
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		st.CreateOrg(ctx, store.Org{ID: "org_a", Name: "a", CreatedAt: t0}),
		st.SetStage(ctx, store.RolloutStage{Provider: "telegram", Stage: store.StageOn, UpdatedAt: t0}),
		st.CreateProfile(ctx, store.AppProfile{ID: "prof_a", OwnerOrgID: "org_a", Provider: "telegram", Name: "bot", CreatedAt: t0}),
		st.CreateInstallation(ctx, store.Installation{ID: "inst_a", OrgID: "org_a", ProfileID: "prof_a", Provider: "telegram", IngressID: "ing_a", CreatedAt: t0}),
		st.CreateAgent(ctx, store.Agent{ID: "agt_a", OrgID: "org_a", Name: "a", URL: agentURL, CreatedAt: t0}),
		st.CreateBinding(ctx, store.Binding{ID: "bind_a", OrgID: "org_a", InstallationID: "inst_a", AgentID: "agt_a", CreatedAt: t0}),
		st.CreateSecret(ctx, store.Secret{ID: "sec_a", OwnerKind: store.OwnerAgent, OwnerID: "agt_a", Purpose: store.PurposeSigning,
			KeyID: kid, Ciphertext: ct, Fingerprint: keys.Fingerprint([]byte("x")), NotBefore: t0, CreatedAt: t0}),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
}

func TestRedisPasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw, err := loadOrCreateRedisPassword(dir)
	if err != nil || len(pw) < 32 {
		t.Fatalf("generated %q, %v", pw, err)
	}
	info, err := os.Stat(filepath.Join(dir, redisPasswordFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", info, err)
	}
	again, err := loadOrCreateRedisPassword(dir)
	if err != nil || again != pw {
		t.Fatalf("second load %q, %v; want the same password", again, err)
	}
	conf, err := writeRedisConfig(dir, pw)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(conf)
	info, _ = os.Stat(conf)
	if !strings.Contains(string(b), "requirepass \""+pw+"\"") || info.Mode().Perm() != 0o600 {
		t.Fatalf("redis.conf (%v):\n%s", info.Mode(), b)
	}
	if err := os.WriteFile(filepath.Join(dir, redisPasswordFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateRedisPassword(dir); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty password file: %v", err)
	}
}

// TestUpRedisServerRequiresThePassword: up's private redis-server refuses a
// client without the password, and the password is not on its command line.
func TestUpRedisServerRequiresThePassword(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	dir := t.TempDir()
	pw, err := loadOrCreateRedisPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	rs, err := startRedisServer(filepath.Join(dir, "redis"), addr, pw, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.stop(&lineMux{w: io.Discard})
	if err := servicetest.WaitTCP(addr, 10*time.Second); err != nil {
		t.Fatal(err, rs.logTail())
	}
	ctx := context.Background()
	for _, tc := range []struct {
		pw       string
		wantAuth bool // refused authentication
	}{{"", true}, {"wrong", true}, {pw, false}} {
		o, _ := redisOptions(addr, "", func(string) string { return tc.pw })
		rdb := o.NewClient()
		_, err := checkRedis(ctx, rdb, o)
		rdb.Close()
		if (err != nil) != tc.wantAuth {
			t.Errorf("password %q: %v", tc.pw, err)
		}
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(rs.cmd.Process.Pid) + "/cmdline")
	if err == nil && strings.Contains(string(cmdline), pw) {
		t.Errorf("the password is on redis-server's command line: %q", cmdline)
	}
	if strings.Contains(strings.Join(rs.cmd.Args, " "), pw) {
		t.Errorf("the password is in redis-server's arguments: %q", rs.cmd.Args)
	}
}

// TestRedisTopologyFormsRefusedAtStart: a cluster or Sentinel --redis that
// does not parse stops ingest, the worker and deadletters at start with what
// is wrong, never with the password.
func TestRedisTopologyFormsRefusedAtStart(t *testing.T) {
	ctx := context.Background()
	env := func(k string) string {
		switch k {
		case envAttestationKey:
			return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
		case envProvenanceKeys:
			return testProvenanceKeys
		}
		return ""
	}
	dataDir := t.TempDir()
	for _, tc := range []struct{ redis, want string }{
		{"redis-cluster://:" + redisTestPassword + "@h1:7000,h2", `host "h2": want host:port`},
		{"redis-sentinel://:" + redisTestPassword + "@s1:26379", "no master name"},
		{"redis-sentinel://s1:26379/m?password=" + redisTestPassword, "user information"},
		{"redis-clustr://:" + redisTestPassword + "@h1:7000", `unknown scheme "redis-clustr"`},
	} {
		for cmd, run := range map[string]func() error{
			"ingest": func() error {
				return runIngest(ctx, []string{"--listen", "127.0.0.1:0", "--redis", tc.redis, "--data-dir", dataDir, "--metrics-listen", ""}, env, io.Discard, io.Discard)
			},
			"worker": func() error {
				return workerMain(ctx, []string{"--redis", tc.redis, "--data-dir", dataDir, "--metrics-listen", ""}, env, io.Discard)
			},
			"deadletters": func() error {
				return runDeadLetters(ctx, []string{"list", "--redis", tc.redis, "--data-dir", dataDir}, env, io.Discard, io.Discard)
			},
		} {
			err := run()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--redis") {
				t.Errorf("%s --redis %s: %v, want a --redis error saying %q", cmd, redisconf.Redact(tc.redis), err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), redisTestPassword) {
				t.Errorf("%s: the password is in the error: %v", cmd, err)
			}
		}
	}
}
