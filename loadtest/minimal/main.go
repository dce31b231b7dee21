// Command minimal is the yardstick of the end-to-end ladder (make
// loadtest-ladder): the least a single process can do to take a Slack
// webhook to an agent. It verifies the Slack signature (HMAC-SHA256 of
// v0:timestamp:body, timestamp within 5 minutes), enqueues one Asynq task
// with the event id as task id (a redelivery is a duplicate) on a real
// Redis, and Asynq workers in the same process POST each task to the sink
// signed with Standard Webhooks. Nothing else: no attestation hop, no
// store, no per-conversation order, no provenance seal. Its CPU per
// delivered event, measured in the same run as the runtime's, shows what
// the runtime's extra hops and guarantees cost.
//
// Usage:
//
//	minimal --listen 127.0.0.1:8080 --redis 127.0.0.1:6379 --sink http://127.0.0.1:9000/ --secrets FILE
//
// FILE is JSON: {"slack_signing": {"INGRESS": "secret", …}, "sink": "whsec_…"}.
// The Redis password is read from SWITCHBOARD_REDIS_PASSWORD.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/filter/sign"
)

// taskType is the one kind of task the pipeline runs.
const taskType = "deliver"

// Secrets are the pipeline's keys.
type Secrets struct {
	SlackSigning map[string]string `json:"slack_signing"` // by ingress id
	Sink         string            `json:"sink"`          // whsec_ secret of the sink
}

// Config is one pipeline.
type Config struct {
	Redis     asynq.RedisClientOpt
	Sink      string
	Secrets   Secrets
	Workers   int           // asynq concurrency [16]
	Retention time.Duration // completed tasks kept [1h]
	Logger    *slog.Logger
}

// Pipeline is the ingress handler and the asynq server.
type Pipeline struct {
	cfg    Config
	client *asynq.Client
	srv    *asynq.Server
	http   *http.Client
}

// New returns a pipeline; Start starts its workers.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Sink == "" || cfg.Secrets.Sink == "" || len(cfg.Secrets.SlackSigning) == 0 {
		return nil, errors.New("minimal: sink, sink secret and at least one Slack signing secret are required")
	}
	if _, err := sign.StandardWebhooksKey(cfg.Secrets.Sink); err != nil {
		return nil, fmt.Errorf("minimal: sink secret: %w", err)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Retention <= 0 {
		cfg.Retention = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pipeline{cfg: cfg, client: asynq.NewClient(cfg.Redis)}
	p.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
	}}
	p.srv = asynq.NewServer(cfg.Redis, asynq.Config{
		Concurrency: cfg.Workers,
		Queues:      map[string]int{"default": 1},
		// The runtime's worker polls an idle queue every 100 ms too
		// (asynq's default is 1 s, which would add up to a second of
		// latency whenever the queue runs empty).
		TaskCheckInterval: 100 * time.Millisecond,
		LogLevel:          asynq.WarnLevel,
	})
	return p, nil
}

// Start runs the workers.
func (p *Pipeline) Start() error {
	mux := asynq.NewServeMux()
	mux.HandleFunc(taskType, p.deliver)
	return p.srv.Start(mux)
}

// Stop stops the workers and closes the client.
func (p *Pipeline) Stop() {
	p.srv.Shutdown()
	p.client.Close()
}

// slackEvent is what the pipeline reads of a Slack Events API body.
type slackEvent struct {
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	TeamID  string `json:"team_id"`
	Event   struct {
		Channel string `json:"channel"`
		User    string `json:"user"`
		Text    string `json:"text"`
		TS      string `json:"ts"`
	} `json:"event"`
}

// delivery is the body the sink gets (the fields of the runtime's envelope
// the sink reads).
type delivery struct {
	ID           string          `json:"id"`
	Provider     string          `json:"provider"`
	Conversation string          `json:"conversation"`
	Sender       string          `json:"sender"`
	Text         string          `json:"text"`
	EventID      string          `json:"event_id"`
	ReceivedAt   time.Time       `json:"received_at"`
	Raw          json.RawMessage `json:"raw"`
}

// verifySlack checks Slack's v0 signature of body.
func verifySlack(secret string, h http.Header, body []byte, now time.Time) error {
	ts, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad timestamp")
	}
	if d := now.Unix() - t; d > 300 || d < -300 {
		return errors.New("stale timestamp")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":"))
	m.Write(body)
	want := make([]byte, 3, 3+64)
	copy(want, "v0=")
	want = hex.AppendEncode(want, m.Sum(nil))
	if !hmac.Equal(want, []byte(sig)) {
		return errors.New("bad signature")
	}
	return nil
}

// ServeHTTP takes POST /v1/hooks/slack/{ingress}.
func (p *Pipeline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/v1/hooks/slack/"
	if r.Method != http.MethodPost || len(r.URL.Path) <= len(prefix) || r.URL.Path[:len(prefix)] != prefix {
		http.Error(w, `{"error":"not_found"}`, http.StatusNotFound)
		return
	}
	secret, ok := p.cfg.Secrets.SlackSigning[r.URL.Path[len(prefix):]]
	if !ok {
		http.Error(w, `{"error":"unknown_ingress"}`, http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, `{"error":"body_too_large"}`, http.StatusRequestEntityTooLarge)
		return
	}
	now := time.Now()
	if err := verifySlack(secret, r.Header, body, now); err != nil {
		http.Error(w, `{"error":"bad_signature"}`, http.StatusUnauthorized)
		return
	}
	var ev slackEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.EventID == "" {
		http.Error(w, `{"error":"malformed_payload"}`, http.StatusBadRequest)
		return
	}
	if ev.Type == "url_verification" {
		w.WriteHeader(http.StatusOK)
		return
	}
	payload, _ := json.Marshal(delivery{ID: "slack:" + ev.EventID, Provider: "slack", Conversation: ev.Event.Channel,
		Sender: ev.Event.User, Text: ev.Event.Text, EventID: ev.EventID, ReceivedAt: now.UTC(), Raw: body})
	_, err = p.client.EnqueueContext(r.Context(), asynq.NewTask(taskType, payload),
		asynq.TaskID("slack:"+ev.EventID), asynq.Retention(p.cfg.Retention), asynq.MaxRetry(8))
	switch {
	case err == nil, errors.Is(err, asynq.ErrTaskIDConflict):
		w.WriteHeader(http.StatusOK)
	default:
		p.cfg.Logger.Warn("enqueue failed", "error", err.Error())
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"queue_unavailable"}`, http.StatusServiceUnavailable)
	}
}

// deliver POSTs one task to the sink signed with Standard Webhooks.
func (p *Pipeline) deliver(ctx context.Context, t *asynq.Task) error {
	var d struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(t.Payload(), &d); err != nil {
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	headers, err := sign.StandardWebhooks(d.ID, time.Now().Unix(), t.Payload(), p.cfg.Secrets.Sink)
	if err != nil {
		return fmt.Errorf("%w: sign: %v", asynq.SkipRetry, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Sink, bytes.NewReader(t.Payload()))
	if err != nil {
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sink answered %d", resp.StatusCode)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "ingress listen address")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis host:port (password from SWITCHBOARD_REDIS_PASSWORD)")
	sink := flag.String("sink", "", "sink URL (required)")
	secretsFile := flag.String("secrets", "", "JSON secrets file (required)")
	workers := flag.Int("workers", 16, "asynq worker concurrency")
	flag.Parse()
	raw, err := os.ReadFile(*secretsFile)
	if err != nil {
		return fmt.Errorf("--secrets: %w", err)
	}
	var sec Secrets
	if err := json.Unmarshal(raw, &sec); err != nil {
		return fmt.Errorf("--secrets: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := New(Config{Redis: asynq.RedisClientOpt{Addr: *redisAddr, Password: os.Getenv("SWITCHBOARD_REDIS_PASSWORD"), PoolSize: 64},
		Sink: *sink, Secrets: sec, Workers: *workers, Logger: log})
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return err
	}
	defer p.Stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintln(os.Stderr, "minimal: listening on", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
