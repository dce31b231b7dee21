package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestIngestAndWorkerOnRedisCluster and TestIngestAndWorkerOnSentinel run
// the ingest and worker commands with a redis-cluster:// and a
// redis-sentinel:// --redis (make test-cluster): ingest says it waits for one
// replica, an attested webhook is answered 200 and delivered by the worker.
func TestIngestAndWorkerOnRedisCluster(t *testing.T) {
	clusterTests(t)
	c := servicetest.StartRedisCluster(t, 3, 1)
	runOnTopology(t, c.URL())
}

func TestIngestAndWorkerOnSentinel(t *testing.T) {
	clusterTests(t)
	g := servicetest.StartSentinel(t, 1, 3)
	runOnTopology(t, g.URL())
}

func clusterTests(t *testing.T) {
	t.Helper()
	if os.Getenv("SWITCHBOARD_CLUSTER_TESTS") == "" {
		t.Skip("set SWITCHBOARD_CLUSTER_TESTS=1 (make test-cluster) to run against a Redis Cluster and a Sentinel group")
	}
}

func runOnTopology(t *testing.T, redisURL string) {
	t.Helper()
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
	env := func(k string) string {
		switch k {
		case envAttestationKey:
			return base64.StdEncoding.EncodeToString(attKey)
		case envProvenanceKeys:
			return testProvenanceKeys
		}
		return ""
	}
	storeArgs := []string{"--data-dir", dataDir, "--store", "sqlite:" + dbPath, "--shards", "4", "--metrics-listen", ""}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ingestAddr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	ingestOut, ingestErr, workerErr := &syncBuffer{}, &syncBuffer{}, &syncBuffer{}
	ended := make(chan error, 2)
	go func() {
		ended <- runIngest(ctx, append([]string{"--listen", ingestAddr, "--redis", redisURL}, storeArgs...), env, ingestOut, ingestErr)
	}()
	go func() {
		ended <- workerMain(ctx, append([]string{"--redis", redisURL, "--id", "w1", "--allow-private-agent-urls", "--lease", "3s"}, storeArgs...), env, workerErr)
	}()
	defer func() {
		stop()
		for range 2 {
			if err := <-ended; err != nil {
				t.Errorf("ingest or worker ended with %v", err)
			}
		}
	}()
	if err := servicetest.WaitTCP(ingestAddr, 20*time.Second); err != nil {
		t.Fatal(err, ingestErr.String())
	}
	if out := ingestOut.String(); !strings.Contains(out, "redis "+redisURL+",") || !strings.Contains(out, "waits for 1 replicas") {
		t.Errorf("ingest's start line %q: want the --redis form and 1 replica waited for", out)
	}
	var code int
	for deadline := time.Now().Add(30 * time.Second); ; {
		// The first enqueues may be refused while a new replica's first
		// acknowledgement is pending (503): the provider would retry.
		if code = postAttestedTelegram(t, ingestAddr, attKey); code == http.StatusOK || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != http.StatusOK {
		t.Fatalf("ingest answered %d; ingest log:\n%s", code, ingestErr.String())
	}
	select {
	case got := <-delivered:
		if !strings.Contains(got, "update_id") && !strings.Contains(got, `"hi"`) {
			t.Errorf("agent got %q", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the worker delivered nothing in 60 s; worker log:\n%s", workerErr.String())
	}
}
