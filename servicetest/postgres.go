package servicetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a fresh database on the test binary's private PostgreSQL server.
type Postgres struct {
	DSN      string // postgres://postgres@127.0.0.1:PORT/DATABASE?sslmode=disable
	Database string
	Addr     string // 127.0.0.1:PORT
	// AdminDSN reaches the maintenance database "postgres" as superuser
	// (e.g. to create more databases).
	AdminDSN string
}

// Main runs a package's tests and stops the PostgreSQL server (if one was
// started) afterwards. Use it from TestMain so that every test of the binary
// shares one server:
//
//	func TestMain(m *testing.M) { servicetest.Main(m) }
//
// Without it, the server lives while at least one test that asked for a
// database runs, and stops when the last one ends.
func Main(m *testing.M) {
	keepServer.Store(true)
	code := m.Run()
	pg.mu.Lock()
	pg.stopLocked()
	pg.mu.Unlock()
	os.Exit(code)
}

var keepServer atomic.Bool

// pgServer is the one server per test binary, started lazily.
type pgServer struct {
	mu     sync.Mutex
	users  int
	cmd    *exec.Cmd
	exited chan struct{}
	dir    string
	addr   string
	admin  string
	seq    int
}

var pg pgServer

// StartPostgres gives the test a new, empty database on the binary's private
// PostgreSQL server (started on first use: initdb in a temporary directory,
// listening on 127.0.0.1 on a free port, socket inside that directory). The
// database is dropped when the test ends. Outside CI a missing PostgreSQL skips
// the test; in CI (env CI set) it fails.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		missing(t, "PostgreSQL (initdb, postgres)", "apt-get install postgresql (or run `make deps`)")
	}
	pg.mu.Lock()
	if pg.cmd == nil {
		if err := pg.startLocked(bin); err != nil {
			pg.mu.Unlock()
			t.Fatalf("start PostgreSQL: %v", err)
		}
	}
	pg.users++
	pg.seq++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), pg.seq)
	addr, admin := pg.addr, pg.admin
	pg.mu.Unlock()

	release := func() {
		pg.mu.Lock()
		defer pg.mu.Unlock()
		pg.users--
		if pg.users == 0 && !keepServer.Load() {
			pg.stopLocked()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := adminExec(ctx, admin, "CREATE DATABASE "+name); err != nil {
		release()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE: a test that leaked a connection must not keep its database.
		if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
		release()
	})
	return &Postgres{
		DSN:      "postgres://postgres@" + addr + "/" + name + "?sslmode=disable",
		Database: name,
		Addr:     addr,
		AdminDSN: admin,
	}
}

func adminExec(ctx context.Context, dsn, sql string) error {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// postgresBinDir finds the directory holding initdb and postgres: PATH first
// (following a symlink to the real installation), then the newest
// /usr/lib/postgresql/*/bin.
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
		if _, err := exec.LookPath("postgres"); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb not found on PATH or in /usr/lib/postgresql/*/bin")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func binary(dir, name string) string {
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return p
}

// startLocked runs initdb and postgres. As root (CI), both run as the
// unprivileged user "nobody", because initdb and postgres refuse root.
func (s *pgServer) startLocked(bin string) error {
	var cred *syscall.Credential
	tmpParent := ""
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			return fmt.Errorf("running as root needs the user nobody to run PostgreSQL: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
		tmpParent = "/tmp" // a TMPDIR under /root would not be reachable by nobody
	}
	dir, err := os.MkdirTemp(tmpParent, "switchboard-pg-")
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return err
		}
	}
	data := filepath.Join(dir, "data")
	env := []string{"LC_ALL=C", "LANG=C", "PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC"}
	initdb := exec.Command(binary(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"--no-sync", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.Env = env
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "postgres.log")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		cmd := exec.Command(binary(bin, "postgres"), "-D", data,
			"-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1",
			// A throwaway server: durability off, speed on.
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=300", "-c", "TimeZone=UTC")
		cmd.Dir = dir
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = logf, logf
		// Pdeathsig: if the test binary dies, the server shuts down (SIGQUIT =
		// immediate shutdown) instead of living on.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
		if err := cmd.Start(); err != nil {
			logf.Close()
			os.RemoveAll(dir)
			return fmt.Errorf("postgres: %w", err)
		}
		logf.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		admin := "postgres://postgres@" + addr + "/postgres?sslmode=disable"
		if err := waitPostgres(admin, exited, 30*time.Second); err != nil {
			_ = cmd.Process.Kill()
			<-exited
			log, _ := os.ReadFile(logPath)
			lastErr = fmt.Errorf("%v\n%s", err, log)
			if strings.Contains(string(log), "could not bind") || strings.Contains(string(log), "already in use") {
				continue // lost the race for the port: try another
			}
			break
		}
		s.cmd, s.exited, s.dir, s.addr, s.admin = cmd, exited, dir, addr, admin
		return nil
	}
	os.RemoveAll(dir)
	return lastErr
}

func waitPostgres(dsn string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-exited:
			return errors.New("postgres exited during start")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, dsn)
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopLocked shuts the server down (SIGINT: fast shutdown) and removes its
// directory.
func (s *pgServer) stopLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
	s.cmd, s.exited, s.dir, s.addr, s.admin = nil, nil, "", "", ""
}
