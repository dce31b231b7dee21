// Package demoagent is a minimal agent endpoint: it verifies the Standard
// Webhooks signature of every delivery from the worker pool (refusing bad
// ones with 401), logs what it received (provider, org, conversation, text,
// session key) and answers with one reply, in the worker's reply contract
// ({"replies":[{"text":"…"}]}, see worker.AgentAnswer).
//
// It is what `switchboard demo-agent` serves in the quickstart, and the
// end-to-end tests read what it received through Received (or, across
// processes, GET /received when recording is on).
package demoagent

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter/sign"
)

// Delivery is what the agent recorded of one accepted delivery.
type Delivery struct {
	WebhookID  string            `json:"webhook_id"`
	Duplicate  bool              `json:"duplicate"` // a redelivery of a webhook id seen before
	At         time.Time         `json:"at"`
	Envelope   envelope.Envelope `json:"envelope"`
	Signatures int               `json:"signatures"` // signature entries in the header (2 during a rotation)
}

// Config configures a Handler.
type Config struct {
	// Secrets are the agent's whsec_ signing secrets; a delivery verifies if
	// one signature entry matches one of them (several during a rotation).
	Secrets []string
	// Tolerance bounds the delivery timestamp's distance from now [5 min].
	Tolerance time.Duration
	// Reply makes the handler answer with a reply text (the default demo
	// behaviour); when false it answers 204 with no reply.
	Reply bool
	// Keep is how many deliveries Received keeps [1000].
	Keep   int
	Logger *slog.Logger
	Now    func() time.Time
}

// MaxBody bounds a delivery body.
const MaxBody = 4 << 20

// Handler serves POST / (deliveries) and, for tests, GET /received.
type Handler struct {
	cfg  Config
	keys [][]byte

	mu       sync.Mutex
	received []Delivery
	seen     map[string]bool
	refused  int
}

// New checks the secrets and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("demo agent: no signing secret (the agent's whsec_ secret from the API)")
	}
	h := &Handler{cfg: cfg, seen: map[string]bool{}}
	for i, s := range cfg.Secrets {
		k, err := sign.StandardWebhooksKey(s)
		if err != nil {
			return nil, fmt.Errorf("demo agent secret %d: %w", i+1, err)
		}
		h.keys = append(h.keys, k)
	}
	if h.cfg.Tolerance <= 0 {
		h.cfg.Tolerance = 5 * time.Minute
	}
	if h.cfg.Keep <= 0 {
		h.cfg.Keep = 1000
	}
	if h.cfg.Logger == nil {
		h.cfg.Logger = slog.Default()
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	return h, nil
}

// Received returns a copy of the deliveries accepted so far, oldest first.
func (h *Handler) Received() []Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Delivery(nil), h.received...)
}

// Refused is how many deliveries failed verification.
func (h *Handler) Refused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

// ReceivedHandler serves the recorded deliveries as JSON
// ({"received":[…],"refused":n}). Mount it only on a loopback test agent: it
// shows message texts.
func (h *Handler) ReceivedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"received": h.Received(), "refused": h.Refused()})
	})
}

// Verify checks the Standard Webhooks headers of a delivery against the
// agent's secrets: webhook-id present, webhook-timestamp within tolerance of
// now, and one "v1,<base64>" entry of webhook-signature matching, compared in
// constant time.
func Verify(keys [][]byte, get func(string) string, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := get("webhook-id"), get("webhook-timestamp"), get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing_signature")
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("bad_timestamp")
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return errors.New("stale_timestamp")
	}
	var msg bytes.Buffer
	msg.WriteString(id)
	msg.WriteByte('.')
	msg.WriteString(ts)
	msg.WriteByte('.')
	msg.Write(body)
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write(msg.Bytes())
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		for _, s := range strings.Fields(sigs) {
			if hmac.Equal([]byte(s), []byte(want)) {
				return nil
			}
		}
	}
	return errors.New("bad_signature")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		w.Write([]byte("ok\n"))
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, `{"error":"method_not_allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "body_too_large")
		return
	}
	now := h.cfg.Now()
	if err := Verify(h.keys, r.Header.Get, body, now, h.cfg.Tolerance); err != nil {
		h.refuse(w, r, http.StatusUnauthorized, err.Error())
		return
	}
	var env envelope.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		h.refuse(w, r, http.StatusBadRequest, "malformed_envelope")
		return
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	dup := h.seen[id]
	h.seen[id] = true
	h.received = append(h.received, Delivery{WebhookID: id, Duplicate: dup, At: now, Envelope: env,
		Signatures: len(strings.Fields(r.Header.Get("webhook-signature")))})
	if len(h.received) > h.cfg.Keep {
		h.received = h.received[len(h.received)-h.cfg.Keep:]
	}
	h.mu.Unlock()

	log := h.cfg.Logger.With("provider", env.Provider, "org", env.OrgID, "installation", env.InstallationID,
		"conversation", env.Conversation, "thread", env.Thread, "sender", env.Sender, "persona", env.Persona,
		"session_key", env.SessionKey, "seq", env.Seq, "event_id", env.EventID, "webhook_id", id)
	if dup {
		// At-least-once delivery: a retry of something already handled is
		// acknowledged again, without a second reply.
		log.Info("duplicate delivery acknowledged")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	log.Info("event received", "text", env.Text)
	if !h.cfg.Reply {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"replies": []map[string]string{{"text": "demo-agent received: " + env.Text}}})
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	h.mu.Lock()
	h.refused++
	h.mu.Unlock()
	h.cfg.Logger.Warn("delivery refused", "reason", reason, "status", status, "remote", r.RemoteAddr,
		"webhook_id", r.Header.Get("webhook-id"))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, "{\"error\":%q}\n", reason)
}
