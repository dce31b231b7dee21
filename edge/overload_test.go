package edge_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/edge"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// barrierIngest is an ingest that holds every request until n are in flight
// at once, then answers them all, and counts the connections it accepted.
type barrierIngest struct {
	srv   *httptest.Server
	mu    sync.Mutex
	conns int
	n     int
	in    int
	gate  chan struct{}
}

func newBarrierIngest(t *testing.T, n int) *barrierIngest {
	b := &barrierIngest{n: n, gate: make(chan struct{})}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		gate := b.gate
		b.in++
		if b.in == b.n {
			close(b.gate)
			b.in, b.gate = 0, make(chan struct{})
		}
		b.mu.Unlock()
		<-gate
		w.WriteHeader(http.StatusOK)
	}))
	b.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.mu.Lock()
			b.conns++
			b.mu.Unlock()
		}
	}
	b.srv.Start()
	t.Cleanup(b.srv.Close)
	return b
}

func startEdgeWith(t *testing.T, cpAddr string, edgeKey, attKey []byte, ingestURL string, mod func(*edge.Config)) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(ingestURL)
	cfg := edge.Config{ControlPlane: cpAddr, NodeID: "edge-" + xdstest.ID("n"), EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mod(&cfg)
	h, err := edge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(context.Background(), wait)
	defer wcancel()
	if err := h.WaitVersion(wctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestForwardsReuseConnections: three rounds of 8 concurrent accepted
// requests reach ingest over at most 8 connections: the edge keeps its
// connections to ingest (http.DefaultTransport keeps 2 idle ones per host, so
// each later round would dial 6 anew).
func TestForwardsReuseConnections(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCP(t, env, edgeKey, "")
	const n = 8
	ing := newBarrierIngest(t, n)
	srv := startEdgeWith(t, cp.addr, edgeKey, attKey, ing.srv.URL, func(*edge.Config) {})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		codes := make([]int, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Do(slackRequest(t, srv.URL, inst.IngressID, "slack-secret-1", false))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		for _, c := range codes {
			if c != 200 {
				t.Fatalf("round %d: statuses %v", round, codes)
			}
		}
	}
	ing.mu.Lock()
	defer ing.mu.Unlock()
	if ing.conns > n {
		t.Fatalf("ingest accepted %d connections for 3 rounds of %d concurrent forwards, want at most %d", ing.conns, n, n)
	}
}

// TestEdgeShedsOverMaxInFlight: with MaxInFlight requests being forwarded, the
// next one is answered 503 with Retry-After at once, and never reaches ingest.
func TestEdgeShedsOverMaxInFlight(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCP(t, env, edgeKey, "")
	ing := newBarrierIngest(t, 2) // holds the first request until a second arrives
	srv := startEdgeWith(t, cp.addr, edgeKey, attKey, ing.srv.URL, func(c *edge.Config) { c.MaxInFlight = 1 })
	first := make(chan int)
	go func() {
		code, _ := do(t, slackRequest(t, srv.URL, inst.IngressID, "slack-secret-1", false))
		first <- code
	}()
	// Wait until the first request is held at ingest.
	eventually(t, wait, "first request at ingest", func() string {
		ing.mu.Lock()
		defer ing.mu.Unlock()
		if ing.in == 1 {
			return ""
		}
		return "not yet"
	})
	resp, err := http.DefaultClient.Do(slackRequest(t, srv.URL, inst.IngressID, "slack-secret-1", false))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request: %d %q %s, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Release the first: a direct request makes the barrier's second.
	r, err := http.Post(ing.srv.URL+"/x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
}
