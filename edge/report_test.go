package edge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/edge"
	"github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// reportSink stands in for ingest's report endpoint: it checks the
// signature and the batch exactly as ingest does, and keeps what it got.
type reportSink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	batches []rejection.Batch
	bad     int
	status  int           // answer (0: 204)
	hold    chan struct{} // when set, requests wait on it
}

func newReportSink(t *testing.T, attKey []byte) *reportSink {
	s := &reportSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hold, status := s.hold, s.status
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		body, _ := io.ReadAll(r.Body)
		err := filter.VerifyReport(attKey, r.Header.Get(filter.HeaderReportSignature), body, time.Now().Unix(), 60)
		b, perr := rejection.Parse(body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != rejection.Path || err != nil || perr != nil {
			s.bad++
			w.WriteHeader(400)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		s.batches = append(s.batches, *b)
		w.WriteHeader(204)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// rows sums the rows received so far by (org, installation, reason).
func (s *reportSink) rows() (map[string]int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int64{}
	for _, b := range s.batches {
		for _, r := range b.Rows {
			m[r.Org+"/"+r.Installation+"/"+r.Provider+"/"+r.Reason] += r.Count
		}
	}
	return m, s.bad
}

func startReportingEdge(t *testing.T, cpAddr string, edgeKey, attKey []byte, ingestURL, reportURL string) (*edge.Host, *httptest.Server, context.CancelFunc, chan struct{}) {
	t.Helper()
	in, _ := url.Parse(ingestURL)
	rep, _ := url.Parse(reportURL)
	h, err := edge.New(edge.Config{ControlPlane: cpAddr, NodeID: "edge-report-test", EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: in, ReportURL: rep, ReportInterval: 50 * time.Millisecond, ReportQueue: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	return h, srv, cancel, done
}

func metric(h *edge.Host, line string) bool {
	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Contains(rec.Body.String(), line)
}

func TestEdgeReportsTenantRefusals(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	orgA, orgB := env.Org(t), env.Org(t)
	a := env.Installation(t, orgA, "slack", store.PurposeSigning, []byte("secret-a"))
	b := env.Installation(t, orgB, "slack", store.PurposeSigning, []byte("secret-b"))
	cp := startCP(t, env, edgeKey, "")
	ing := newIngest(t, attKey)
	sink := newReportSink(t, attKey)
	h, srv, cancel, done := startReportingEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, sink.srv.URL+rejection.Path)

	for i := 0; i < 3; i++ {
		if code, _ := do(t, slackRequest(t, srv.URL, a.IngressID, "wrong", false)); code != 401 {
			t.Fatalf("forged: %d", code)
		}
	}
	if code, _ := do(t, slackRequest(t, srv.URL, b.IngressID, "secret-a", false)); code != 401 {
		t.Fatalf("org A's secret on org B's path: %d", code)
	}
	if code, _ := do(t, slackRequest(t, srv.URL, xdstest.IngressID(), "secret-a", false)); code != 404 {
		t.Fatalf("unknown ingress: %d", code)
	}
	if code, _ := do(t, slackRequest(t, srv.URL, a.IngressID, "secret-a", false)); code != 200 {
		t.Fatalf("signed: %d", code)
	}
	want := map[string]int64{
		orgA + "/" + a.ID + "/slack/bad_signature": 3,
		orgB + "/" + b.ID + "/slack/bad_signature": 1,
	}
	eventually(t, 5*time.Second, "refusals reported", func() string {
		got, bad := sink.rows()
		if bad != 0 {
			t.Fatalf("%d report batches failed the sink's checks", bad)
		}
		for k, n := range want {
			if got[k] != n {
				return "got " + strings.Join(keys(got), ", ")
			}
		}
		if len(got) != len(want) {
			return "extra rows: " + strings.Join(keys(got), ", ")
		}
		return ""
	})
	sink.mu.Lock()
	if sink.batches[0].Edge != "edge-report-test" {
		t.Errorf("batch edge %q", sink.batches[0].Edge)
	}
	sink.mu.Unlock()

	// Stopping the edge flushes the last window.
	do(t, slackRequest(t, srv.URL, a.IngressID, "wrong-again", false))
	cancel()
	<-done
	if got, _ := sink.rows(); got[orgA+"/"+a.ID+"/slack/bad_signature"] != 4 {
		t.Errorf("last window not flushed on stop: %v", got)
	}
	if !metric(h, "switchboard_edge_reports_dropped_total 0\n") {
		t.Errorf("refusals dropped although ingest took every batch")
	}
}

func keys(m map[string]int64) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+strconv.FormatInt(v, 10))
	}
	return out
}

// Ingest refusing or not answering: requests are still answered at once,
// the batches are dropped and their refusals counted.
func TestEdgeReportDropsWhenIngestUnavailable(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	a := env.Installation(t, org, "slack", store.PurposeSigning, []byte("secret-a"))
	cp := startCP(t, env, edgeKey, "")
	ing := newIngest(t, attKey)

	t.Run("ingest answers 503", func(t *testing.T) {
		sink := newReportSink(t, attKey)
		sink.status = 503
		h, srv, _, _ := startReportingEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, sink.srv.URL+rejection.Path)
		for i := 0; i < 5; i++ {
			do(t, slackRequest(t, srv.URL, a.IngressID, "wrong", false))
		}
		eventually(t, 5*time.Second, "dropped refusals counted", func() string {
			if metric(h, "switchboard_edge_reports_dropped_total 5\n") && metric(h, `switchboard_edge_reports_total{result="failed"}`) {
				return ""
			}
			return "not yet"
		})
	})

	t.Run("ingest hangs", func(t *testing.T) {
		sink := newReportSink(t, attKey)
		sink.hold = make(chan struct{})
		defer close(sink.hold)
		h, srv, _, _ := startReportingEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, sink.srv.URL+rejection.Path)
		// One batch in flight, two queued: later windows find the queue full.
		eventually(t, 10*time.Second, "queue full", func() string {
			if code, _ := do(t, slackRequest(t, srv.URL, a.IngressID, "wrong", false)); code != 401 {
				t.Fatalf("forged request answered %d while ingest hangs", code)
			}
			if metric(h, `switchboard_edge_reports_total{result="queue_full"}`) {
				return ""
			}
			return "queue never full"
		})
		if metric(h, "switchboard_edge_reports_dropped_total 0\n") {
			t.Errorf("queue-full batches not counted as dropped")
		}
	})
}
