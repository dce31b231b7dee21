package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/demoagent"
	"github.com/switchboard-dev/switchboard/loadtest"
	"github.com/switchboard-dev/switchboard/loadtest/engine"
	"github.com/switchboard-dev/switchboard/probe"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestLoadLadder is the end-to-end ladder (make loadtest-ladder): the
// runtime as separate processes (serve, edge, ingest, one worker with
// queue.DefaultShards shards, redis-server) and the minimal single-process
// pipeline (loadtest/minimal on its own redis-server) take the same signed
// Slack traffic (200 conversations, 4 tenants, open loop) at each rate of
// SWITCHBOARD_LOADTEST_LADDER ("250,500,1000"), back to back, one step of
// SWITCHBOARD_LOADTEST_STEP [20s] each plus a 2 s ramp, drained for up to
// SWITCHBOARD_LOADTEST_DRAIN [5s]. For each it prints the offered and
// achieved rate, the share answered 2xx, end-to-end p50/p99, delivered of
// accepted, how long after the last send the last delivery came, and the
// CPU seconds its processes used (from /proc) per 1000 delivered events;
// the table goes to SWITCHBOARD_LADDER_OUT too. SWITCHBOARD_LADDER_SHARDS
// sets the shard count, SWITCHBOARD_LADDER_ONLY=runtime|minimal runs one
// side. It measures; it asserts only that traffic was sent and delivered.
func TestLoadLadder(t *testing.T) {
	spec := os.Getenv("SWITCHBOARD_LOADTEST_LADDER")
	if spec == "" {
		t.Skip("set SWITCHBOARD_LOADTEST_LADDER (make loadtest-ladder)")
	}
	var rates []float64
	for _, f := range strings.Split(spec, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			t.Fatalf("SWITCHBOARD_LOADTEST_LADDER: %q is not a rate", f)
		}
		rates = append(rates, r)
	}
	dur := func(name string, def time.Duration) time.Duration {
		if v := os.Getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return d
		}
		return def
	}
	step, drain := dur("SWITCHBOARD_LOADTEST_STEP", 20*time.Second), dur("SWITCHBOARD_LOADTEST_DRAIN", 5*time.Second)
	nShards := queue.DefaultShards
	if v := os.Getenv("SWITCHBOARD_LADDER_SHARDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("SWITCHBOARD_LADDER_SHARDS: %q", v)
		}
		nShards = n
	}
	only := os.Getenv("SWITCHBOARD_LADDER_ONLY")
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	var sides []*ladderSide

	if only == "" || only == "runtime" {
		s := startStack(t, stackOption{shards: nShards, workerArgs: []string{"--attempts", "8"}})
		h, err := probe.Setup(ctx, probe.Config{API: s.admin(), Provider: "slack", Edge: s.edge, Tenants: 4, Name: "ladder", Logger: quiet})
		if h != nil {
			t.Cleanup(func() { h.Cleanup(context.Background()) })
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := h.WaitReady(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		rt := &ladderSide{name: "runtime", base: s.edge, h: h, pids: map[string]int{"redis": s.redis.Pid()}}
		for _, p := range s.procs {
			if p.name != "demo-agent" {
				rt.pids[p.name] = p.cmd.Process.Pid
				rt.names = append(rt.names, p.name)
			}
		}
		rt.names = append(rt.names, "redis")
		sides = append(sides, rt)
	}
	if only == "" || only == "minimal" {
		sides = append(sides, startMinimal(t, quiet))
	}

	var table bytes.Buffer
	fmt.Fprintf(&table, "ladder: %s steps of %s (+2s ramp), drain up to %s, %d shards, slack only, 200 conversations, 4 tenants\n", spec, step, drain, nShards)
	fmt.Fprintf(&table, "%-8s %8s %8s %8s %9s %9s %15s %8s %12s %10s\n",
		"pipeline", "offered", "achieved", "2xx %", "e2e p50", "e2e p99", "delivered", "tail", "CPU s/1k", "load avg")
	// What each side burns with no traffic (pollers, heartbeats), over 10 s.
	for _, sd := range sides {
		c0 := cpuOf(sd.pids)
		time.Sleep(10 * time.Second)
		c1 := cpuOf(sd.pids)
		var idle float64
		for _, n := range sd.names {
			idle += c1[n] - c0[n]
		}
		fmt.Fprintf(&table, "idle: %s %.3f CPU-s per s (load avg %s)\n", sd.name, idle/10, loadAvg())
	}
	ratio := map[float64]map[string]float64{}
	for _, r := range rates {
		ratio[r] = map[string]float64{}
		for _, sd := range sides {
			sc := loadtest.Scenario{Name: fmt.Sprintf("ladder-%s-%g", sd.name, r), Providers: map[string]float64{"slack": 1},
				Stages:        []loadtest.Stage{{Rate: r, Ramp: loadtest.Duration(2 * time.Second), Duration: loadtest.Duration(step)}},
				Conversations: 200, Tenants: 4, Drain: loadtest.Duration(drain),
				// The ladder reports; these only satisfy the scenario's checks.
				Thresholds: loadtest.Thresholds{EdgeP99: loadtest.Duration(time.Second), E2EP99: loadtest.Duration(time.Second)}}
			if err := sc.Validate(nil); err != nil {
				t.Fatal(err)
			}
			load := loadAvg()
			cpu0, self0 := cpuOf(sd.pids), cpuSeconds(os.Getpid())
			start := time.Now()
			f, err := engine.Run(ctx, engine.Config{Scenario: sc, Harnesses: map[string]*probe.Harness{"slack": sd.h}, Edge: sd.base})
			if err != nil {
				t.Fatalf("%s at %g/s: %v", sd.name, r, err)
			}
			cpu1, self1 := cpuOf(sd.pids), cpuSeconds(os.Getpid())
			var last time.Time
			for _, d := range sd.h.Agent.Received() {
				if d.At.After(start) && d.At.After(last) {
					last = d.At
				}
			}
			sendEnd := start.Add(f.Duration)
			tail := last.Sub(sendEnd)
			if last.IsZero() {
				tail = 0
			}
			valid, ok2xx := f.Sent[loadtest.KindValid], f.Accepted[loadtest.KindValid]
			var used float64
			var parts []string
			for _, n := range sd.names {
				d := cpu1[n] - cpu0[n]
				used += d
				parts = append(parts, fmt.Sprintf("%s %.1f", n, d))
			}
			per1k := 0.0
			if f.Delivered > 0 {
				per1k = used / float64(f.Delivered) * 1000
			}
			ratio[r][sd.name] = per1k
			fmt.Fprintf(&table, "%-8s %8g %8.0f %8.2f %7.0fms %7.0fms %7d/%-7d %7.1fs %12.2f %10s\n",
				sd.name, r, f.Rate, 100*float64(ok2xx)/float64(max(valid, 1)),
				loadtest.Quantile(f.E2EMs, 0.5), loadtest.Quantile(f.E2EMs, 0.99), f.Delivered, ok2xx, tail.Seconds(), per1k, load)
			var other []string
			for code, n := range f.ValidStatus {
				if code/100 != 2 {
					other = append(other, fmt.Sprintf("%d×%d", n, code))
				}
			}
			sort.Strings(other)
			answers := ""
			if len(other) > 0 {
				answers = "; not 2xx: " + strings.Join(other, ", ") + " (0 = no answer)"
			}
			fmt.Fprintf(&table, "         CPU s: %s (load generator and sinks: %.1f)%s\n", strings.Join(parts, ", "), self1-self0, answers)
			if f.Requests == 0 {
				t.Errorf("%s at %g/s: nothing sent", sd.name, r)
			}
		}
		if a, b := ratio[r]["runtime"], ratio[r]["minimal"]; a > 0 && b > 0 {
			fmt.Fprintf(&table, "         at %g/s: runtime CPU per delivered event = %.2f x minimal\n", r, a/b)
		}
	}
	t.Log("\n" + table.String())
	fmt.Fprint(os.Stdout, table.String())
	if out := os.Getenv("SWITCHBOARD_LADDER_OUT"); out != "" {
		if err := os.WriteFile(out, table.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// ladderSide is one pipeline of the ladder: where its traffic goes, its
// probe harness, and the processes whose CPU it is charged.
type ladderSide struct {
	name  string
	base  string
	h     *probe.Harness
	pids  map[string]int
	names []string // in the order of the breakdown
}

// startMinimal builds loadtest/minimal and runs it on its own redis-server
// (password required, like the stack's) with a sink in this process.
func startMinimal(t *testing.T, quiet *slog.Logger) *ladderSide {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "minimal")
	build := exec.Command("go", "build", "-o", bin, "./loadtest/minimal")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build loadtest/minimal: %v\n%s", err, out)
	}
	pw := strings.NewReplacer("+", "a", "/", "b", "=", "").Replace(key32())
	rs := servicetest.StartRedisWithPassword(t, pw)
	sinkSecret := "whsec_" + key32()
	agent, err := demoagent.New(demoagent.Config{Secrets: []string{sinkSecret}, Keep: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &http.Server{Handler: agent}
	go sink.Serve(ln)
	t.Cleanup(func() { sink.Close() })
	sec := struct {
		SlackSigning map[string]string `json:"slack_signing"`
		Sink         string            `json:"sink"`
	}{SlackSigning: map[string]string{}, Sink: sinkSecret}
	h := &probe.Harness{Agent: agent}
	for i := 0; i < 4; i++ {
		in := probe.Install{Provider: "slack", Ingress: fmt.Sprintf("min%d", i+1), Account: fmt.Sprintf("T0MIN%d", i+1),
			AppID: fmt.Sprintf("A0MIN%d", i+1), Cred: testevent.Credentials{Secret: strings.ReplaceAll(key32(), "=", "")}}
		sec.SlackSigning[in.Ingress] = in.Cred.Secret
		h.Installs = append(h.Installs, in)
	}
	raw, _ := json.Marshal(sec)
	secFile := filepath.Join(dir, "secrets.json")
	if err := os.WriteFile(secFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	logf, err := os.Create(filepath.Join(dir, "minimal.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--listen", addr, "--redis", rs.Addr, "--sink", "http://"+ln.Addr().String()+"/", "--secrets", secFile)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_REDIS_PASSWORD="+pw)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	if err := servicetest.WaitTCP(addr, 20*time.Second); err != nil {
		t.Fatalf("minimal pipeline: %v", err)
	}
	return &ladderSide{name: "minimal", base: "http://" + addr, h: h, pids: map[string]int{"minimal": cmd.Process.Pid, "redis": rs.Pid()}, names: []string{"minimal", "redis"}}
}

// cpuSeconds is a process's user + system CPU time so far, from
// /proc/PID/stat (Linux clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

func cpuOf(pids map[string]int) map[string]float64 {
	out := map[string]float64{}
	for n, p := range pids {
		out[n] = cpuSeconds(p)
	}
	return out
}

// loadAvg is the 1-minute load average (the conditions of a step).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
