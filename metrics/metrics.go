// Package metrics holds the Prometheus pieces the processes share beyond
// what each component exports itself (the edge counts its decisions, the
// control plane its builds and NACKs):
//
//   - Hooks: requests at ingest by provider, outcome and typed reason, read
//     off the answer (ingest answers refusals with {"error":reason});
//   - QueueCollector: depth of every shard queue by task state, read from
//     Redis through asynq's Inspector at scrape time (archived = dead letters,
//     retry = events waiting for a retry), and asynq's cumulative processed /
//     failed counters;
//   - AgentTransport: delivery latency (ingest acceptance → agent's answer)
//     and agent answer time, by provider and status class, measured on the
//     worker's HTTP client.
//
// Labels are bounded: a provider outside the known set is counted as
// "other", so a client cannot grow the label space with made-up paths.
// Nothing here reads or labels with secret material.
package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/queue"
)

// providerLabel bounds the provider label to the providers the verification
// core knows (filter.ProviderSchemes); anything else is "other".
func providerLabel(p string) string {
	if _, ok := filter.ProviderSchemes[p]; ok {
		return p
	}
	return "other"
}

// register registers c, reusing an identical collector already registered
// (several components of `switchboard up` share one registry).
func register[T prometheus.Collector](r prometheus.Registerer, c T) T {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		panic(err) // a programming error: two different metrics with one name
	}
	return c
}

// Hooks counts webhook requests served by h (ingest) by provider, outcome
// (accepted, rejected, error) and reason, and their handling time. The
// provider comes from the path /v1/hooks/<provider>/…, the reason from the
// {"error":reason} body of a refusal.
func Hooks(h http.Handler, reg prometheus.Registerer, component string) http.Handler {
	requests := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "switchboard_hook_requests_total",
		Help:        "Webhook requests by provider, outcome (accepted, rejected, error) and reason.",
		ConstLabels: prometheus.Labels{"component": component},
	}, []string{"provider", "outcome", "reason"}))
	duration := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "switchboard_hook_request_duration_seconds",
		Help:        "Time to answer a webhook request (verify, normalise, enqueue).",
		ConstLabels: prometheus.Labels{"component": component},
		Buckets:     []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"provider"}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		p := "other"
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/hooks/"); ok {
			name, _, _ := strings.Cut(rest, "/")
			p = providerLabel(name)
		}
		outcome, reason := "accepted", "none"
		switch {
		case rec.status >= 500:
			outcome, reason = "error", reasonOf(rec.head.Bytes())
		case rec.status >= 400:
			outcome, reason = "rejected", reasonOf(rec.head.Bytes())
		}
		requests.WithLabelValues(p, outcome, reason).Inc()
		duration.WithLabelValues(p).Observe(time.Since(start).Seconds())
	})
}

// reasonOf reads {"error":"reason"}; reasons are short snake_case words, so
// anything else is "unknown" (never echo arbitrary text into a label).
func reasonOf(b []byte) string {
	var v struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &v) != nil || v.Error == "" || len(v.Error) > 40 {
		return "unknown"
	}
	for _, c := range v.Error {
		if !(c >= 'a' && c <= 'z' || c == '_') {
			return "unknown"
		}
	}
	return v.Error
}

// recorder keeps the status and the first bytes of an error answer.
type recorder struct {
	http.ResponseWriter
	status int
	head   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status >= 400 && r.head.Len() < 256 {
		n := min(len(b), 256-r.head.Len())
		r.head.Write(b[:n])
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// QueueCollector reports the shard queues' state at scrape time.
type QueueCollector struct {
	rdb    redis.UniversalClient
	insp   *asynq.Inspector
	shards int
	log    *slog.Logger

	tasks, latency, processed, failed, up *prometheus.Desc
	layoutShards, layoutEpoch, resharding *prometheus.Desc
}

// NewQueueCollector reads the shard queues of rdb (shards as ingest and the
// workers were given; the recorded layout's, read at each scrape, once a
// reshard recorded one).
func NewQueueCollector(rdb redis.UniversalClient, shards int, log *slog.Logger) *QueueCollector {
	if log == nil {
		log = slog.Default()
	}
	return &QueueCollector{
		rdb: rdb, insp: asynq.NewInspectorFromRedisClient(rdb), shards: shards, log: log,
		layoutShards: prometheus.NewDesc("switchboard_queue_layout_shards", "Shard count of the recorded shard layout (the --shards count while none is recorded).", nil, nil),
		layoutEpoch:  prometheus.NewDesc("switchboard_queue_layout_epoch", "Epoch of the shard layout: one more per reshard.", nil, nil),
		resharding:   prometheus.NewDesc("switchboard_queue_resharding", "1 while a reshard is under way (moved sessions' tasks still in their old queues).", nil, nil),
		tasks: prometheus.NewDesc("switchboard_queue_tasks", "Tasks in a shard queue by state (pending, active, scheduled, retry, archived = dead letters, completed = kept for deduplication).",
			[]string{"shard", "state"}, nil),
		latency: prometheus.NewDesc("switchboard_queue_latency_seconds", "Age of the oldest pending task of a shard queue.",
			[]string{"shard"}, nil),
		processed: prometheus.NewDesc("switchboard_queue_processed_total", "Tasks processed by a shard queue's consumers, cumulative (asynq), successes and failures.",
			[]string{"shard"}, nil),
		failed: prometheus.NewDesc("switchboard_queue_failed_total", "Failed processing attempts of a shard queue, cumulative (asynq): each retry and each dead letter counts once.",
			[]string{"shard"}, nil),
		up: prometheus.NewDesc("switchboard_queue_up", "1 when the queue state could be read from Redis.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.latency, c.processed, c.failed, c.up, c.layoutShards, c.layoutEpoch, c.resharding} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one QueueInfo per shard. A queue
// nothing was ever enqueued to does not exist yet and reads as empty.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ok := 1.0
	names, err := c.insp.Queues()
	if err != nil {
		c.log.Warn("list queues for metrics", "err", err)
		ok = 0
	}
	exists := map[string]bool{}
	for _, n := range names {
		exists[n] = true
	}
	shards := c.shards
	if ok == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lay, _, err := queue.ReadLayout(ctx, c.rdb, c.shards)
		cancel()
		if err != nil {
			c.log.Warn("read shard layout for metrics", "err", err)
			ok = 0
		} else {
			shards = lay.LeaseShards()
			moving := 0.0
			if lay.State == queue.Moving {
				moving = 1
			}
			ch <- prometheus.MustNewConstMetric(c.layoutShards, prometheus.GaugeValue, float64(lay.Shards))
			ch <- prometheus.MustNewConstMetric(c.layoutEpoch, prometheus.GaugeValue, float64(lay.Epoch))
			ch <- prometheus.MustNewConstMetric(c.resharding, prometheus.GaugeValue, moving)
		}
	}
	for s := 0; s < shards && ok == 1; s++ {
		label := strconv.Itoa(s)
		info := &asynq.QueueInfo{}
		var err error
		if exists[queue.QueueName(s)] {
			info, err = c.insp.GetQueueInfo(queue.QueueName(s))
		}
		if err != nil {
			c.log.Warn("read queue state for metrics", "queue", queue.QueueName(s), "err", err)
			ok = 0
			break
		}
		for _, st := range []struct {
			name string
			n    int
		}{{"pending", info.Pending}, {"active", info.Active}, {"scheduled", info.Scheduled}, {"retry", info.Retry},
			{"archived", info.Archived}, {"completed", info.Completed}} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(st.n), label, st.name)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), label)
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal), label)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal), label)
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, ok)
}

// AgentTransport wraps rt (nil: http.DefaultTransport) to measure agent
// deliveries: the time the agent took to answer, and the delivery latency
// from ingest's acceptance of the event (the envelope's received_at) to the
// agent's answer, by provider and status class (2xx, 4xx, 5xx, error).
func AgentTransport(rt http.RoundTripper, reg prometheus.Registerer) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	t := &agentTransport{next: rt,
		answer: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchboard_agent_request_duration_seconds", Help: "Time an agent took to answer a delivery.", Buckets: buckets,
		}, []string{"provider", "status"})),
		latency: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchboard_delivery_latency_seconds", Help: "From ingest accepting an event to its agent's answer (includes queueing and retries).", Buckets: buckets,
		}, []string{"provider", "status"})),
	}
	return t
}

type agentTransport struct {
	next            http.RoundTripper
	answer, latency *prometheus.HistogramVec
}

func (t *agentTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var env struct {
		Provider   string    `json:"provider"`
		ReceivedAt time.Time `json:"received_at"`
	}
	if req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			data, _ := io.ReadAll(io.LimitReader(b, 8<<20))
			b.Close()
			_ = json.Unmarshal(data, &env)
		}
	}
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	end := time.Now()
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode/100) + "xx"
	}
	p := providerLabel(env.Provider)
	t.answer.WithLabelValues(p, status).Observe(end.Sub(start).Seconds())
	if !env.ReceivedAt.IsZero() {
		t.latency.WithLabelValues(p, status).Observe(end.Sub(env.ReceivedAt).Seconds())
	}
	return resp, err
}

// Handler serves g (nil: the default registry) in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// Mux serves /metrics (and /healthz) of g (nil: the default registry).
func Mux(g prometheus.Gatherer) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(g))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	return mux
}
