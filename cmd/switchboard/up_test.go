package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestUpStartsEverythingAndStopsCleanly(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	dir := filepath.Join(t.TempDir(), "data")
	port := func() string { return "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) }
	api, edgeAdmin := port(), port()
	redisListen := port()
	args := []string{"--data-dir", dir, "--api", api, "--xds", port(), "--edge", port(), "--edge-admin", edgeAdmin,
		"--ingest", port(), "--redis-listen", redisListen, "--metrics-listen", port(), "--shards", "2"}
	env := func(name string) string {
		if strings.HasPrefix(name, "SWITCHBOARD_") {
			return "" // generated into the data directory
		}
		return os.Getenv(name)
	}
	for _, k := range []string{"SWITCHBOARD_MASTER_KEYS", "SWITCHBOARD_MASTER_KEY_FILE", "SWITCHBOARD_ADMIN_TOKEN"} {
		t.Setenv(k, "")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- up(ctx, args, env, out, errOut) }()

	deadline := time.Now().Add(60 * time.Second)
	// The banner's last line: the admin token line comes after "switchboard
	// is up", so waiting for that one raced with it.
	for !strings.Contains(out.String(), "  next: ") {
		select {
		case err := <-done:
			t.Fatalf("up returned early: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("up not ready after 60s\nstdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One progress line per part, in start order.
	text := out.String()
	last := -1
	for _, part := range []string{"✓ redis", "✓ api", "✓ xds", "✓ metrics", "✓ ingest", "✓ worker", "✓ edge"} {
		i := strings.Index(text, part)
		if i < 0 || i < last {
			t.Fatalf("progress line %q missing or out of order:\n%s", part, text)
		}
		last = i
	}
	// Keys generated once, private to the owner.
	for _, f := range []string{"master.keys", "edge.key", "attestation.key", "provenance.keys", "admin.token"} {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, info.Mode().Perm())
		}
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	if !strings.Contains(text, "admin token: "+strings.TrimSpace(string(tok))) {
		t.Errorf("admin token not printed:\n%s", text)
	}
	req, _ := http.NewRequest("GET", "http://"+api+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami with the printed token: %v %v", err, resp)
	}
	resp.Body.Close()
	if code := httpGetStatus("http://" + edgeAdmin + "/ready"); code != 200 {
		t.Errorf("edge /ready: %d", code)
	}

	// The private redis-server is supervised: killed, it is started again
	// (a new process answers on the same address, with the same password)
	// and the restart is logged.
	pw, err := os.ReadFile(filepath.Join(dir, redisPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: redisListen, Password: strings.TrimSpace(string(pw)), MaxRetries: -1})
	defer rc.Close()
	pid := func() int {
		info, err := rc.Info(context.Background(), "server").Result()
		if err != nil {
			return 0
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "process_id:"); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		return 0
	}
	first := pid()
	if first == 0 {
		t.Fatal("no process_id from the private redis-server")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for p := pid(); p == 0 || p == first; p = pid() {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("redis-server not restarted after being killed\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(errOut.String(), "redis-server restarted") {
		t.Errorf("restart not logged:\n%s", errOut.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("up stopped with an error: %v\n%s", err, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not stop within 30s of ctx's end")
	}
	if dialable(api) {
		t.Error("API still listening after up returned")
	}
	if !strings.Contains(errOut.String(), "redis-server stopped") {
		t.Errorf("redis-server not stopped:\n%s", errOut.String())
	}
}

func TestUpWithoutRedisSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server on it
	err := up(context.Background(), []string{"--data-dir", t.TempDir(), "--metrics-listen", ""}, func(string) string { return "" }, &syncBuffer{}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Fatalf("err = %v, want the install hint", err)
	}
}

func httpGetStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A taken address is refused before anything starts, naming the flag: up's
// readiness checks dial each address, which another program listening there
// would pass (it then failed on a missing admin token file).
func TestUpRefusesATakenAddressNamingItsFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := func() string { return "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) }
	for _, flag := range []string{"--api", "--xds", "--edge", "--edge-admin", "--ingest", "--metrics-listen"} {
		t.Run(flag, func(t *testing.T) {
			addrs := map[string]string{"--api": port(), "--xds": port(), "--edge": port(), "--edge-admin": port(),
				"--ingest": port(), "--metrics-listen": port()}
			addrs[flag] = taken.Addr().String()
			args := []string{"--data-dir", t.TempDir(), "--redis", "127.0.0.1:1"}
			for f, a := range addrs {
				args = append(args, f, a)
			}
			err := up(context.Background(), args, func(string) string { return "" }, &syncBuffer{}, &syncBuffer{})
			want := flag + " " + taken.Addr().String() + ": address already in use"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
		})
	}
	t.Run("same address twice", func(t *testing.T) {
		a := port()
		err := up(context.Background(), []string{"--data-dir", t.TempDir(), "--redis", "127.0.0.1:1", "--api", port(), "--xds", port(),
			"--edge", a, "--edge-admin", a, "--ingest", port(), "--metrics-listen", port()}, func(string) string { return "" }, &syncBuffer{}, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), "--edge-admin "+a+": the same address as --edge") {
			t.Fatalf("err = %v, want the duplicate named", err)
		}
	})
}
