package worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// clusterTests gates the tests that start a Redis Cluster or a Sentinel
// group (six and five redis-servers): `make test-cluster` sets it.
func clusterTests(t *testing.T) {
	t.Helper()
	if os.Getenv("SWITCHBOARD_CLUSTER_TESTS") == "" {
		t.Skip("set SWITCHBOARD_CLUSTER_TESTS=1 (make test-cluster) to run against a Redis Cluster and a Sentinel group")
	}
}

// failoverLoad enqueues sessions × events like providers do (each session's
// events in order, an event retried until it is acknowledged: enqueued or a
// duplicate), calls failover once a third of them are acknowledged, and
// checks that every acknowledged event is delivered, each session's first
// deliveries in sequence order. Redeliveries (the agent sees an event
// again) are allowed: at-least-once, agents deduplicate by webhook-id; the
// test reports how many there were.
func failoverLoad(t *testing.T, e *env, failover func()) {
	const sessions, events = 16, 40
	var acked, refused atomic.Int64
	var once sync.Once
	failed := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for s := 0; s < sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for n := 1; n <= events; n++ {
				ev := event(fmt.Sprintf("F%02d", s), n)
				for {
					err := e.client.Enqueue(ctx, ev)
					if err == nil || errors.Is(err, queue.ErrDuplicate) {
						break
					}
					if ctx.Err() != nil {
						t.Errorf("session %d event %d never acknowledged: %v", s, n, err)
						return
					}
					refused.Add(1)
					time.Sleep(50 * time.Millisecond) // the provider's retry
				}
				if acked.Add(1) == sessions*events/3 {
					once.Do(func() {
						go func() {
							t0 := time.Now()
							failover()
							t.Logf("failover and recovery took %s", time.Since(t0).Round(time.Millisecond))
							close(failed)
						}()
					})
				}
				time.Sleep(10 * time.Millisecond) // a bounded rate: the failover happens mid-load
			}
		}(s)
	}
	wg.Wait()
	select {
	case <-failed:
	case <-ctx.Done():
		t.Fatal("the failover did not finish")
	}
	if t.Failed() {
		return
	}
	t0 := time.Now()
	waitFor(t, "every acknowledged event delivered", 2*time.Minute, func() bool { return e.agent.delivered() == sessions*events })
	t.Logf("the last acknowledged events delivered %s after the load ended", time.Since(t0).Round(time.Millisecond))
	for s := 0; s < sessions; s++ {
		sk := event(fmt.Sprintf("F%02d", s), 1).SessionKey
		if got := e.agent.seqs(sk); !ordered(got, events) {
			t.Fatalf("session F%02d: first deliveries %v, want 1..%d in order", s, got, events)
		}
	}
	e.agent.mu.Lock()
	again := 0
	for _, n := range e.agent.okByID {
		again += n - 1
	}
	e.agent.mu.Unlock()
	t.Logf("%d events acknowledged, all delivered in order; %d enqueue attempts refused during the failover (retried), %d redeliveries", acked.Load(), refused.Load(), again)
}

// TestClusterFailoverLosesNoAcknowledgedEvent: a 3-master Redis Cluster
// with a replica each; a master is killed (SIGKILL) during the load, its
// replica takes over, the killed node comes back as a replica. Ingest's
// enqueue waits for one replica (the default on a cluster), so no
// acknowledged event is lost.
func TestClusterFailoverLosesNoAcknowledgedEvent(t *testing.T) {
	clusterTests(t)
	c := servicetest.StartRedisCluster(t, 3, 1)
	conn, err := redisconf.ParseConn(c.URL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	rc := conn.NewClient()
	t.Cleanup(func() { rc.Close() })
	e := newEnvOn(t, rc, 8, queue.WithWaitReplicas(1, time.Second))
	for i := 0; i < 2; i++ {
		run(t, e.pool(fmt.Sprintf("w%d", i), nil))
	}
	failoverLoad(t, e, func() {
		m := c.Masters()[0]
		c.Nodes[m].Stop()
		if err := c.WaitOK(60 * time.Second); err != nil {
			t.Error(err)
			return
		}
		c.Nodes[m].Start() // rejoins as a replica of the promoted node
		if err := c.WaitOK(60 * time.Second); err != nil {
			t.Error(err)
		}
	})
}

// TestSentinelFailoverLosesNoAcknowledgedEvent: a primary with two
// replicas under three Sentinels; the primary is killed during the load,
// the Sentinels promote a replica, the other follows it, the killed node
// comes back as a replica.
func TestSentinelFailoverLosesNoAcknowledgedEvent(t *testing.T) {
	clusterTests(t)
	g := servicetest.StartSentinel(t, 2, 3)
	conn, err := redisconf.ParseConn(g.URL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	rc := conn.NewClient()
	t.Cleanup(func() { rc.Close() })
	e := newEnvOn(t, rc, 8, queue.WithWaitReplicas(1, time.Second))
	for i := 0; i < 2; i++ {
		run(t, e.pool(fmt.Sprintf("w%d", i), nil))
	}
	failoverLoad(t, e, func() {
		first := g.Primary()
		old := g.DataNode(first)
		old.Stop()
		deadline := time.Now().Add(60 * time.Second)
		for g.Primary() == first {
			if time.Now().After(deadline) {
				t.Error("the Sentinels did not promote a replica")
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		old.Start() // the Sentinels make it a replica of the new primary
		g.WaitReplicas(t, 1, 60*time.Second)
	})
}

var _ = envelope.Envelope{}
