package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is written by serve and read by the test concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listenLine = regexp.MustCompile(`binding API listening on (http://[0-9.:]+)/v1`)

// startServe runs serve until the returned stop is called; it returns the
// API base URL and serve's output so far.
func startServe(t *testing.T, args ...string) (base string, out *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	// hermetic: no fixed port (a later flag in args overrides these)
	args = append([]string{"--metrics-listen", "127.0.0.1:0", "--xds-listen", "127.0.0.1:0"}, args...)
	go func() { done <- serve(ctx, args, out, &syncBuffer{}) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listenLine.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended before listening: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop within 15s of cancellation")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return base, out, stop
}

func serveGet(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeDefaults: with nothing but a data directory, serve runs the API
// on SQLite, generates the master key and an admin token (printed once,
// saved 0600), keeps both across restarts and shuts down on cancellation.
func TestServeDefaults(t *testing.T) {
	t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
	t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
	t.Setenv("SWITCHBOARD_STORE", "")
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", "")
	dir := filepath.Join(t.TempDir(), "data")
	base, out, stop := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir)

	m := regexp.MustCompile(`admin token \(generated, saved to (.+)\): (sbt_\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no generated admin token printed:\n%s", out.String())
	}
	tokenFile, token := m[1], m[2]
	data, err := os.ReadFile(tokenFile)
	if err != nil || strings.TrimSpace(string(data)) != token {
		t.Fatalf("admin token file: %q, %v", data, err)
	}
	for _, f := range []string{tokenFile, filepath.Join(dir, "master.keys")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if s := serveGet(t, base+"/v1/whoami", token); s != 200 {
		t.Fatalf("whoami with admin token: %d", s)
	}
	if s := serveGet(t, base+"/v1/whoami", "sbt_wrong"); s != 401 {
		t.Fatalf("whoami with wrong token: %d", s)
	}
	// The web console is at / (its sign-in form), beside the API under /v1.
	if !strings.Contains(out.String(), "web console on "+base+"/") {
		t.Fatalf("serve does not print the console's address:\n%s", out.String())
	}
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != 200 || resp.Request.URL.Path != "/signin" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / of serve: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if s := serveGet(t, base+"/v1/nothing", token); s != 404 {
		t.Fatalf("an unknown /v1 route answers %d, want the API's 404", s)
	}
	// Create something that needs the master key, so a restart proves the
	// generated key file is reused.
	req, _ := http.NewRequest("POST", base+"/v1/orgs", strings.NewReader(`{"name":"Acme"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create org: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v on shutdown", err)
	}
	if _, err := http.Get(base + "/v1/whoami"); err == nil {
		t.Fatal("API still answering after shutdown")
	}

	// Restart on the same data directory: the token is not printed again and
	// still works; the organisation is still there.
	base2, out2, stop2 := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir)
	if strings.Contains(out2.String(), token) {
		t.Fatalf("admin token printed again on restart:\n%s", out2.String())
	}
	if !strings.Contains(out2.String(), "admin token: in "+tokenFile) {
		t.Errorf("restart does not say where the token is:\n%s", out2.String())
	}
	if s := serveGet(t, base2+"/v1/orgs", token); s != 200 {
		t.Fatalf("list orgs after restart: %d", s)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

func TestServeAdminTokenFromEnv(t *testing.T) {
	t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
	t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
	t.Setenv("SWITCHBOARD_STORE", "")
	const tok = "env-admin-token-0123456789abcdef"
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", tok)
	dir := t.TempDir()
	base, out, stop := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir, "--store", "sqlite:"+filepath.Join(dir, "other.db"))
	if strings.Contains(out.String(), tok) {
		t.Fatal("env admin token echoed")
	}
	if _, err := os.Stat(filepath.Join(dir, "other.db")); err != nil {
		t.Fatalf("--store ignored: %v", err)
	}
	if s := serveGet(t, base+"/v1/whoami", tok); s != 200 {
		t.Fatalf("whoami: %d", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.token")); err == nil {
		t.Error("admin.token written although the token came from the environment")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestServeBadFlags(t *testing.T) {
	err := serve(context.Background(), []string{"--nope"}, &syncBuffer{}, &syncBuffer{})
	if e, ok := err.(exitError); !ok || e.code != 2 {
		t.Fatalf("unknown flag: %v", err)
	}
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", "")
	err = serve(context.Background(), []string{"--data-dir", t.TempDir(), "--listen", "256.0.0.1:bad", "--xds-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, &syncBuffer{}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("bad listen address: %v", err)
	}
}

// TestPublicURLFlag: serve and up refuse a public URL that is not https
// (unless its host is loopback), naming the flag, before starting anything.
func TestPublicURLFlag(t *testing.T) {
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", "")
	for _, bad := range []string{"http://hooks.example.com", "ftp://x", "hooks.example.com", "https://u:p@hooks.example.com", "https://hooks.example.com/?a=b"} {
		err := serve(context.Background(), []string{"--data-dir", t.TempDir(), "--public-url", bad}, &syncBuffer{}, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), "--public-url") {
			t.Errorf("serve --public-url %s: %v, want a refusal naming the flag", bad, err)
		}
		err = up(context.Background(), []string{"--data-dir", t.TempDir(), "--redis", "127.0.0.1:1", "--public-url", bad}, func(string) string { return "" }, &syncBuffer{}, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), "--public-url") {
			t.Errorf("up --public-url %s: %v, want a refusal naming the flag", bad, err)
		}
	}
}

// TestConsoleSecureCookies: the console's cookies are Secure by default when
// the API's public URL is https; the flag, when given, decides.
func TestConsoleSecureCookies(t *testing.T) {
	for _, c := range []struct {
		set, value bool
		url        string
		want       bool
	}{
		{false, false, "", false},
		{false, false, "http://127.0.0.1:8080", false},
		{false, false, "https://switchboard.example.com", true},
		{true, false, "https://switchboard.example.com", false},
		{true, true, "", true},
		{true, true, "http://127.0.0.1:8080", true},
	} {
		if got := consoleSecureCookies(c.set, c.value, c.url); got != c.want {
			t.Errorf("consoleSecureCookies(set=%v, %v, %q) = %v, want %v", c.set, c.value, c.url, got, c.want)
		}
	}
}
