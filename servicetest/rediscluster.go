package servicetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a private Redis Cluster: masters masters, each with
// replicas replicas, every node a redis-server on a free loopback port with
// its data (append-only file, nodes.conf) in the test's temporary directory.
// Nodes can be stopped (SIGKILL) and started again to cause failovers.
type RedisCluster struct {
	Nodes   []*Redis
	masters int
	t       testing.TB
}

// StartRedisCluster starts the nodes in cluster mode, joins them with
// `redis-cli --cluster create … --cluster-replicas replicas` and waits
// until every node reports cluster_state:ok. The node timeout is short
// (1 s) so that a killed master's replica takes over within seconds.
func StartRedisCluster(t testing.TB, masters, replicas int) *RedisCluster {
	t.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing(t, bin, "apt-get install redis-server redis-tools (or run `make deps`)")
		}
	}
	c := &RedisCluster{t: t, masters: masters}
	n := masters * (1 + replicas)
	for i := 0; i < n; i++ {
		r := &Redis{dir: t.TempDir(), port: clusterPort(t), t: t}
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
		r.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no", "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0"}
		r.Start()
		t.Cleanup(r.Stop)
		c.Nodes = append(c.Nodes, r)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	// A replica takes over only once it has synchronised with its master.
	deadline := time.Now().Add(30 * time.Second)
	for i := range c.Nodes {
		for c.Role(i) != "master" {
			out, _ := Cli(c.Nodes[i].Addr, "info", "replication")
			if strings.Contains(out, "master_link_status:up") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %s not synchronised: %s", c.Nodes[i].Addr, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c
}

// clusterPort is a free port whose cluster bus port (port + 10000) is free
// too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		p := FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		l.Close()
		portsMu.Lock()
		taken := portsUsed[p+10000]
		portsUsed[p+10000] = true
		portsMu.Unlock()
		if !taken {
			return p
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// Addrs is every node's address.
func (c *RedisCluster) Addrs() []string {
	var a []string
	for _, r := range c.Nodes {
		a = append(a, r.Addr)
	}
	return a
}

// URL is the cluster as a --redis setting naming every node.
func (c *RedisCluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Cli runs redis-cli against node addr and returns its output.
func Cli(addr string, args ...string) (string, error) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	return string(bytes.TrimSpace(out)), err
}

// WaitOK waits until every running node reports cluster_state:ok and as
// many running nodes are masters as the cluster was created with (after a
// stopped master, until its replica took over).
func (c *RedisCluster) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok := true
		for _, r := range c.Nodes {
			if r.cmd == nil {
				continue
			}
			out, err := Cli(r.Addr, "cluster", "info")
			if err != nil || !strings.Contains(out, "cluster_state:ok") {
				ok, last = false, r.Addr+": "+out
				break
			}
		}
		if ok && len(c.Masters()) == c.masters {
			return nil
		}
		if ok {
			last = "waiting for a replica to take over a stopped master"
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("redis cluster not ok after %s (last: %s)", timeout, last)
}

// Role is "master" or "slave" as node i sees itself (ROLE).
func (c *RedisCluster) Role(i int) string {
	out, err := Cli(c.Nodes[i].Addr, "role")
	if err != nil {
		return ""
	}
	role, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(role)
}

// Masters is the indexes of the running nodes that are masters.
func (c *RedisCluster) Masters() []int {
	var m []int
	for i, r := range c.Nodes {
		if r.cmd != nil && c.Role(i) == "master" {
			m = append(m, i)
		}
	}
	return m
}

// Sentinel is a private Redis Sentinel group: one primary with replicas
// replicas and sentinels Sentinels monitoring it as Master, with a quorum
// of a majority and a down-after of 1 s, so that killing the primary
// promotes a replica within seconds.
type Sentinel struct {
	Master    string
	Data      []*Redis // Data[0] starts as the primary
	Sentinels []*Redis
}

// StartSentinel starts the group and waits until every Sentinel knows the
// primary and its replicas.
func StartSentinel(t testing.TB, replicas, sentinels int) *Sentinel {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server", "apt-get install redis-server (or run `make deps`)")
	}
	g := &Sentinel{Master: "mymaster"}
	for i := 0; i <= replicas; i++ {
		r := &Redis{dir: t.TempDir(), port: FreePort(t), t: t}
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
		if i > 0 {
			r.args = []string{"--replicaof", "127.0.0.1", strconv.Itoa(g.Data[0].port)}
		}
		r.args = append(r.args, "--appendfsync", "everysec", "--repl-diskless-sync-delay", "0")
		r.Start()
		t.Cleanup(r.Stop)
		g.Data = append(g.Data, r)
	}
	quorum := sentinels/2 + 1
	for i := 0; i < sentinels; i++ {
		r := &Redis{dir: t.TempDir(), port: FreePort(t), t: t}
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
		// Sentinel rewrites its configuration file: it must be its own.
		r.conf = "sentinel monitor " + g.Master + " 127.0.0.1 " + strconv.Itoa(g.Data[0].port) + " " + strconv.Itoa(quorum) + "\n" +
			"sentinel down-after-milliseconds " + g.Master + " 1000\n" +
			"sentinel failover-timeout " + g.Master + " 5000\n" +
			"sentinel parallel-syncs " + g.Master + " 1\n"
		r.sentinel = true
		r.Start()
		t.Cleanup(r.Stop)
		g.Sentinels = append(g.Sentinels, r)
	}
	if err := g.waitReplicas(replicas, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return g
}

// URL is the group as a --redis setting naming every Sentinel.
func (g *Sentinel) URL() string {
	var a []string
	for _, s := range g.Sentinels {
		a = append(a, s.Addr)
	}
	return "redis-sentinel://" + strings.Join(a, ",") + "/" + g.Master
}

// Primary is the address the first Sentinel names as the primary.
func (g *Sentinel) Primary() string {
	for _, s := range g.Sentinels {
		if s.cmd == nil {
			continue
		}
		out, err := Cli(s.Addr, "sentinel", "get-master-addr-by-name", g.Master)
		if err != nil {
			continue
		}
		f := strings.Fields(out)
		if len(f) == 2 {
			return f[0] + ":" + f[1]
		}
	}
	return ""
}

// DataNode is the data node at addr, or nil.
func (g *Sentinel) DataNode(addr string) *Redis {
	for _, r := range g.Data {
		if r.Addr == addr {
			return r
		}
	}
	return nil
}

// waitReplicas waits until every running Sentinel sees at least n replicas
// of the primary that are up.
func (g *Sentinel) waitReplicas(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, s := range g.Sentinels {
		if s.cmd == nil {
			continue
		}
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
		for {
			reps, err := sc.Replicas(context.Background(), g.Master).Result()
			up := 0
			for _, r := range reps {
				if !strings.Contains(r["flags"], "down") && !strings.Contains(r["flags"], "disconnected") {
					up++
				}
			}
			if err == nil && up >= n {
				break
			}
			if time.Now().After(deadline) {
				sc.Close()
				return fmt.Errorf("sentinel %s sees %d of %d replicas up after %s (%v)", s.Addr, up, n, timeout, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		sc.Close()
	}
	return nil
}

// WaitReplicas waits until every running Sentinel sees at least n replicas
// of the primary that are up (after a failover, the other replicas follow
// the new primary).
func (g *Sentinel) WaitReplicas(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	if err := g.waitReplicas(n, timeout); err != nil {
		t.Fatal(err)
	}
}
