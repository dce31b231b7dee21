// Package servicetest starts real services (redis-server, PostgreSQL) for tests:
// each on a free loopback port with its data in the test's temporary directory,
// stopped when the test ends. No test relies on a service that happens to run.
package servicetest

import (
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	return p
}

// freePort picks a random free loopback port below the kernel's ephemeral
// range. A port the kernel hands out for ":0" is inside that range, where the
// many outgoing connections a starting process opens may take it before its
// listener binds it ("address already in use" now and then); random choice
// and a per-binary record keep test binaries running in parallel apart.
func freePort() (int, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	const base = 10000
	portsMu.Lock()
	defer portsMu.Unlock()
	for i := 0; i < 500 && lo > base+1000; i++ {
		p := base + mrand.IntN(lo-base)
		if portsUsed[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		portsUsed[p] = true
		return p, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var (
	portsMu   sync.Mutex
	portsUsed = map[int]bool{} // handed out by this test binary
)

// WaitTCP waits until addr accepts TCP connections.
func WaitTCP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %s: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Redis is a private redis-server. Stop and Start let tests simulate an outage;
// the data directory (and so the AOF) survives a restart.
type Redis struct {
	Addr string
	// Password is the one the server requires (StartRedisWithPassword);
	// empty for StartRedis.
	Password string
	dir      string
	port     int
	cmd      *exec.Cmd
	t        testing.TB
	args     []string // extra redis-server arguments (cluster mode, replicaof)
	conf     string   // extra configuration file lines (secrets stay out of the process listing)
	sentinel bool     // run as a Sentinel (redis-server CONF --sentinel)
}

// StartRedis starts redis-server from PATH, or skips the test with a clear
// message when it is missing outside CI (in CI it fails: `make deps` installs it).
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	return startRedis(t, "")
}

// StartRedisWithPassword is StartRedis with a server that requires password
// (given in its configuration file, so it stays out of the process listing).
func StartRedisWithPassword(t testing.TB, password string) *Redis {
	t.Helper()
	if password == "" {
		t.Fatal("StartRedisWithPassword: empty password")
	}
	return startRedis(t, password)
}

// StartRedisWith is StartRedis with extra redis-server arguments, which
// override the defaults (e.g. "--appendfsync", "everysec").
func StartRedisWith(t testing.TB, args ...string) *Redis {
	t.Helper()
	return startRedis(t, "", args...)
}

// StartRedisReplica starts a redis-server replicating primary (no
// password), with extra arguments, and waits until its link is up and the
// primary sees it online. Give the primary "--repl-diskless-sync-delay 0"
// or every full synchronisation waits 5 s for more replicas.
func StartRedisReplica(t testing.TB, primary *Redis, args ...string) *Redis {
	t.Helper()
	r := startRedis(t, "", append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := Cli(r.Addr, "info", "replication")
		pout, _ := Cli(primary.Addr, "info", "replication")
		// Up on both sides: the primary counts the replica in WAIT once online.
		if strings.Contains(out, "master_link_status:up") && strings.Contains(pout, "port="+strconv.Itoa(r.port)+",state=online") {
			// After a diskless full synchronisation the primary streams
			// writes only from the replica's first acknowledgement (up to a
			// second later): wait until a write is acknowledged.
			cmd := exec.Command("redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port))
			cmd.Stdin = strings.NewReader("SET servicetest:replica " + r.Addr + "\nWAIT 1 200\n")
			if b, err := cmd.Output(); err == nil && strings.HasSuffix(strings.TrimSpace(string(b)), "1") {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s of %s not synchronised: %s", r.Addr, primary.Addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startRedis(t testing.TB, password string, args ...string) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server", "apt-get install redis-server (or run `make deps`)")
	}
	r := &Redis{dir: t.TempDir(), port: FreePort(t), t: t, Password: password, args: args}
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// appendfsync is the servers' AOF sync policy: "always" (nothing
// acknowledged may be lost), or SWITCHBOARD_TEST_REDIS_APPENDFSYNC
// ("everysec", "no") for benchmarks that compare CPU and round trips
// without the disk's sync time, which on a shared machine varies tenfold.
func appendfsync() string {
	switch v := os.Getenv("SWITCHBOARD_TEST_REDIS_APPENDFSYNC"); v {
	case "everysec", "no":
		return v
	}
	return "always"
}

// Pid is the running server's process id (0 when stopped): the load
// ladder reads its CPU time.
func (r *Redis) Pid() int {
	if r.cmd == nil || r.cmd.Process == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// Start (re)starts the server on the same port and data directory.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		return
	}
	var args []string
	if r.Password != "" || r.conf != "" {
		content := r.conf
		if r.Password != "" {
			content += "requirepass \"" + r.Password + "\"\n"
		}
		conf := filepath.Join(r.dir, "redis.conf")
		if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
			r.t.Fatalf("redis-server configuration: %v", err)
		}
		args = append(args, conf)
	}
	common := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log")}
	if r.sentinel {
		args = append(append(args, "--sentinel", "--protected-mode", "no"), common...)
	} else {
		args = append(append(args, common...), "--appendonly", "yes", "--appendfsync", appendfsync(), "--save", "", "--protected-mode", "yes")
	}
	args = append(args, r.args...) // last: they override the defaults above
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	err := WaitTCP(r.Addr, 10*time.Second)
	if err == nil {
		err = r.waitLoaded(10 * time.Second)
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
		r.Stop()
		r.t.Fatalf("redis-server: %v\n%s", err, log)
	}
}

// waitLoaded waits until the server answers PING with PONG: after a restart
// it accepts connections while it replays its append-only file and answers
// -LOADING until done, which a test would take for an outage.
func (r *Redis) waitLoaded(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	cmds := "PING\r\n"
	if r.Password != "" {
		cmds = "AUTH \"" + r.Password + "\"\r\nPING\r\n"
	}
	last := ""
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(cmds))
			buf := make([]byte, 256)
			got := ""
			for !strings.Contains(got, "PONG") && !strings.Contains(got, "-LOADING") && !strings.Contains(got, "-ERR") {
				n, err := c.Read(buf)
				got += string(buf[:n])
				if err != nil {
					break
				}
			}
			c.Close()
			if strings.Contains(got, "+PONG") {
				return nil
			}
			last = strings.TrimSpace(got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s (last answer %q)", timeout, last)
}

// Stop kills the server (SIGKILL: an outage, not a clean shutdown) and waits.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func missing(t testing.TB, what, how string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed: %s", what, how)
	}
	t.Skipf("%s is not installed, skipping: %s", what, how)
}
