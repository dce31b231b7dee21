package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestDeadLettersFindsUpsRedis: without --redis, deadletters reads the
// private redis-server `switchboard up` recorded in the data directory and
// its generated password (no SWITCHBOARD_REDIS_PASSWORD), instead of
// dialling 127.0.0.1:6379.
func TestDeadLettersFindsUpsRedis(t *testing.T) {
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
	if err := datadir.WriteRuntime(dir, datadir.Runtime{Redis: addr, PID: 1}); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == datadir.Env {
			return dir
		}
		return ""
	}
	var out, errOut bytes.Buffer
	if err := runDeadLetters(context.Background(), []string{"list", "--shards", "4"}, env, &out, &errOut); err != nil {
		t.Fatalf("deadletters list on up's data dir: %v\n%s%s", err, out.String(), errOut.String())
	}
	// The same with --data-dir and no environment.
	out.Reset()
	if err := runDeadLetters(context.Background(), []string{"list", "--data-dir", dir, "--shards", "4"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("deadletters list --data-dir: %v\n%s", err, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), pw) {
		t.Fatal("deadletters printed the Redis password")
	}
}

// TestDeadLettersUnreachableRedisQuiet: an unreachable Redis is one error
// naming the address; go-redis's own pool log lines (its logger writes to
// the process's stderr as it was at start) are not printed. The command runs
// in a child process of this test binary so that its real stderr is seen.
func TestDeadLettersUnreachableRedisQuiet(t *testing.T) {
	if addr := os.Getenv("SB_TEST_DEADLETTERS_ADDR"); addr != "" {
		err := runDeadLetters(context.Background(), []string{"list", "--redis", addr, "--data-dir", t.TempDir()}, func(string) string { return "" }, os.Stdout, os.Stderr)
		fmt.Fprintf(os.Stderr, "RESULT: %v\n", err)
		return
	}
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t)) // nothing listens
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeadLettersUnreachableRedisQuiet$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SB_TEST_DEADLETTERS_ADDR="+addr)
	outB, _ := cmd.CombinedOutput()
	out := string(outB)
	if !strings.Contains(out, "RESULT: redis at "+addr) {
		t.Fatalf("unreachable redis not reported naming its address:\n%s", out)
	}
	if strings.Contains(out, "connection pool") || strings.Contains(out, "pool.go") {
		t.Fatalf("go-redis log lines printed:\n%s", out)
	}
}

// TestRedisOptionsFromDataDir: how --redis resolves, table-driven.
func TestRedisOptionsFromDataDir(t *testing.T) {
	up := t.TempDir()
	if err := datadir.WriteRuntime(up, datadir.Runtime{Redis: "127.0.0.1:6390", PID: 1}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(up, redisPasswordFile), []byte("filepw\n"), 0o600)
	external := t.TempDir() // up ran with --redis: no private redis recorded
	datadir.WriteRuntime(external, datadir.Runtime{PID: 1})
	for _, c := range []struct {
		name, setting, dir, envPW string
		addr, pw                  string
	}{
		{"up's private redis and its password", "", up, "", "127.0.0.1:6390", "filepw"},
		{"the environment's password wins", "", up, "envpw", "127.0.0.1:6390", "envpw"},
		{"--redis wins over the data dir", "10.0.0.1:6379", up, "", "10.0.0.1:6379", ""},
		{"no up recorded", "", t.TempDir(), "", defaultRedis, ""},
		{"up with an external redis", "", external, "", defaultRedis, ""},
		{"no data dir", "", "", "", defaultRedis, ""},
	} {
		o, err := redisOptions(c.setting, c.dir, func(k string) string {
			if k == "SWITCHBOARD_REDIS_PASSWORD" {
				return c.envPW
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if o.Single.Addr != c.addr || o.Single.Password != c.pw {
			t.Errorf("%s: addr %q, right password %v; want addr %q", c.name, o.Single.Addr, o.Single.Password == c.pw, c.addr)
		}
	}
}
