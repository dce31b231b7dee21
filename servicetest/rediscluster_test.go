package servicetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTests gates the tests that start a Redis Cluster or a Sentinel
// group (several redis-servers each): `make test-cluster` sets it.
func clusterTests(t *testing.T) {
	if os.Getenv("SWITCHBOARD_CLUSTER_TESTS") == "" {
		t.Skip("set SWITCHBOARD_CLUSTER_TESTS=1 (make test-cluster) to start a Redis Cluster and a Sentinel group")
	}
}

func TestRedisClusterStartsAndFailsOver(t *testing.T) {
	clusterTests(t)
	c := StartRedisCluster(t, 3, 1)
	if m := c.Masters(); len(m) != 3 {
		t.Fatalf("%d masters, want 3", len(m))
	}
	ctx := context.Background()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rc.Close()
	if err := rc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	m := c.Masters()[0]
	c.Nodes[m].Stop()
	if err := c.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := len(c.Masters()); got != 3 {
		t.Fatalf("after killing a master: %d masters, want 3 (its replica promoted)", got)
	}
}

func TestSentinelStartsAndFailsOver(t *testing.T) {
	clusterTests(t)
	g := StartSentinel(t, 2, 3)
	first := g.Primary()
	if first != g.Data[0].Addr {
		t.Fatalf("primary %q, want %q", first, g.Data[0].Addr)
	}
	g.Data[0].Stop()
	deadline := time.Now().Add(30 * time.Second)
	for g.Primary() == first {
		if time.Now().After(deadline) {
			t.Fatal("no failover")
		}
		time.Sleep(100 * time.Millisecond)
	}
	g.WaitReplicas(t, 1, 30*time.Second)
}
