package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/filter"
)

// Refusal reporting defaults.
const (
	DefaultReportInterval = 5 * time.Second
	DefaultReportQueue    = 8
	// reportTimeout bounds one POST of a batch to ingest.
	reportTimeout = 5 * time.Second
	// finalFlushTimeout bounds the last flush when the edge stops.
	finalFlushTimeout = 2 * time.Second
)

// reporter aggregates the refusals that concern a tenant and sends them to
// ingest as signed batches (filter.ReportAggregator, filter.EncodeReport:
// the same code the Envoy Wasm plugin uses), off the request path: a request
// only takes a lock to bump a counter; a ticker closes the window into a
// bounded queue, and one sender posts. When ingest is unreachable or
// the queue is full the batch is dropped and its refusals counted in
// switchboard_edge_reports_dropped_total (they stay in the edge's request
// counter and logs).
type reporter struct {
	h        *Host
	url      string
	client   *http.Client
	interval time.Duration

	mu  sync.Mutex
	agg *filter.ReportAggregator

	queue   chan filter.ReportBatch
	dropped prometheus.Counter
	sent    *prometheus.CounterVec
}

func newReporter(h *Host, cfg Config, tr http.RoundTripper) (*reporter, error) {
	u := cfg.ReportURL
	if u == nil {
		u = cfg.Ingest.JoinPath(filter.ReportPath)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("edge: report URL %q: want an http(s) URL", u.Redacted())
	}
	r := &reporter{
		h:        h,
		url:      u.String(),
		client:   &http.Client{Transport: tr, Timeout: reportTimeout},
		interval: cfg.ReportInterval,
		agg:      filter.NewReportAggregator(cfg.ReportMaxKeys),
		queue:    make(chan filter.ReportBatch, max(cfg.ReportQueue, 1)),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_edge_reports_dropped_total",
			Help: "Refusals concerning a tenant that the edge could not report to ingest for the audit log (ingest unreachable or refused the batch, queue full).",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_edge_reports_total",
			Help: "Refusal report batches by result (sent, failed, queue_full).",
		}, []string{"result"}),
	}
	if r.interval <= 0 {
		r.interval = DefaultReportInterval
	}
	return r, nil
}

// note counts d if it concerns a tenant; it never blocks on I/O.
func (r *reporter) note(d filter.Decision) {
	if !filter.Reportable(d) {
		return
	}
	now := r.h.cfg.Now().Unix()
	r.mu.Lock()
	r.agg.Add(d, now)
	r.mu.Unlock()
}

// noteQuarantine counts a quarantine of id's ingress started at now that
// lasts until until (unix seconds), if id concerns a tenant.
func (r *reporter) noteQuarantine(id filter.Identity, now, until int64) {
	r.mu.Lock()
	r.agg.AddQuarantine(id, now, until)
	r.mu.Unlock()
}

// flush closes the window into the queue; a full queue drops the batch.
func (r *reporter) flush() {
	r.mu.Lock()
	rows := r.agg.Take()
	r.mu.Unlock()
	if len(rows) == 0 {
		return
	}
	b := filter.ReportBatch{Version: filter.ReportVersion, ID: filter.NewReportBatchID(), Edge: r.h.cfg.NodeID, Rows: rows}
	select {
	case r.queue <- b:
	default:
		r.sent.WithLabelValues("queue_full").Inc()
		r.dropped.Add(float64(b.Refusals()))
		r.h.log.Warn("refusal report dropped: queue full", "rows", len(rows), "refusals", b.Refusals())
	}
}

// run flushes every interval and sends until ctx ends, then flushes once
// more and sends what is queued within finalFlushTimeout.
func (r *reporter) run(ctx context.Context) {
	done := make(chan struct{})
	sendCtx, stopSend := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSend()
	go func() {
		defer close(done)
		for {
			select {
			case b, ok := <-r.queue:
				if !ok {
					return
				}
				r.send(sendCtx, b)
			case <-sendCtx.Done():
				return
			}
		}
	}()
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.flush()
		case <-ctx.Done():
			r.flush()
			close(r.queue)
			select {
			case <-done:
			case <-time.After(finalFlushTimeout):
				stopSend()
				<-done
			}
			for b := range r.queue { // what the sender did not get to
				r.dropped.Add(float64(b.Refusals()))
			}
			return
		}
	}
}

func (r *reporter) send(ctx context.Context, b filter.ReportBatch) {
	err := r.post(ctx, b)
	if err == nil {
		r.sent.WithLabelValues("sent").Inc()
		return
	}
	r.sent.WithLabelValues("failed").Inc()
	r.dropped.Add(float64(b.Refusals()))
	r.h.log.Warn("refusal report dropped", "rows", len(b.Rows), "refusals", b.Refusals(), "err", err)
}

func (r *reporter) post(ctx context.Context, b filter.ReportBatch) error {
	body := filter.EncodeReport(b)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(filter.HeaderReportSignature, filter.SignReport(r.h.cfg.AttestationKey, body, r.h.cfg.Now().Unix()))
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ingest answered %d %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// reportURL is where batches go (for the start-up line).
func (h *Host) ReportURL() string { return h.rep.url }
