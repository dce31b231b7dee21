package demoagent

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/worker"
)

func newSecret(t *testing.T) string {
	s, err := sign.NewStandardWebhooksSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testEnvelope() envelope.Envelope {
	e := envelope.Envelope{Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", ProfileID: "prof_a",
		Conversation: "C1", Sender: "U1", Text: "where is my order?", EventID: "Ev1",
		ReceivedAt: time.Unix(1700000000, 0).UTC(), AgentID: "agt_a", Persona: "support", BindingID: "bind_a", Seq: 1}
	return e.Finish()
}

// post sends body to h signed (like the worker does) with secrets at ts.
func post(t *testing.T, h http.Handler, id string, ts time.Time, body []byte, secrets ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if len(secrets) > 0 {
		hs, err := sign.StandardWebhooks(id, ts.Unix(), body, secrets...)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range hs {
			req.Header.Set(kv[0], kv[1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestDemoAgent(t *testing.T) {
	secret, other := newSecret(t), newSecret(t)
	var logs bytes.Buffer
	h, err := New(Config{Secrets: []string{secret}, Reply: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	env := testEnvelope()
	body, _ := json.Marshal(env)
	now := time.Now()

	// A correctly signed delivery: answered with one reply in the worker's contract.
	rec := post(t, h, "msg_1", now, body, secret)
	if rec.Code != http.StatusOK {
		t.Fatalf("signed delivery: %d %s", rec.Code, rec.Body)
	}
	var ans worker.AgentAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("answer is not the worker's reply contract: %v (%s)", err, rec.Body)
	}
	if len(ans.Replies) != 1 || ans.Replies[0].Text != "demo-agent received: where is my order?" {
		t.Fatalf("replies %+v", ans.Replies)
	}

	// A rotation: the worker signs with the new and the old secret; one match suffices.
	if rec := post(t, h, "msg_2", now, body, other, secret); rec.Code != http.StatusOK {
		t.Fatalf("delivery signed with two secrets: %d", rec.Code)
	}

	// Refusals: nothing recorded, 401 with the reason.
	cases := []struct {
		name, want string
		rec        *httptest.ResponseRecorder
	}{
		{"wrong secret", "bad_signature", post(t, h, "msg_3", now, body, other)},
		{"no signature", "missing_signature", post(t, h, "msg_4", now, body)},
		{"stale", "stale_timestamp", post(t, h, "msg_5", now.Add(-10*time.Minute), body, secret)},
		{"future", "stale_timestamp", post(t, h, "msg_6", now.Add(10*time.Minute), body, secret)},
	}
	for _, c := range cases {
		if c.rec.Code != http.StatusUnauthorized || !strings.Contains(c.rec.Body.String(), c.want) {
			t.Errorf("%s: %d %s, want 401 %s", c.name, c.rec.Code, c.rec.Body, c.want)
		}
	}
	// A body changed after signing.
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(append(body[:len(body)-1:len(body)-1], ' ', '}')))
	hs, _ := sign.StandardWebhooks("msg_7", now.Unix(), body, secret)
	for _, kv := range hs {
		req.Header.Set(kv[0], kv[1])
	}
	tampered := httptest.NewRecorder()
	h.ServeHTTP(tampered, req)
	if tampered.Code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d", tampered.Code)
	}

	// A redelivery of msg_1 (at-least-once): acknowledged, recorded as a duplicate, no second reply.
	rec = post(t, h, "msg_1", now, body, secret)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("duplicate: %d %q", rec.Code, rec.Body)
	}

	got := h.Received()
	if len(got) != 3 || got[0].WebhookID != "msg_1" || got[1].WebhookID != "msg_2" || !got[2].Duplicate || got[0].Duplicate {
		t.Fatalf("received %+v", got)
	}
	if got[0].Envelope.SessionKey != env.SessionKey || got[0].Envelope.Text != env.Text || got[1].Signatures != 2 {
		t.Fatalf("recorded envelope %+v", got[0])
	}
	if h.Refused() != 5 {
		t.Errorf("refused %d, want 5", h.Refused())
	}
	out := logs.String()
	if !strings.Contains(out, "session_key="+env.SessionKey) || !strings.Contains(out, "provider=slack") {
		t.Errorf("log lacks the session key / provider:\n%s", out)
	}
	for _, s := range []string{secret, other, secret[len("whsec_"):]} {
		if strings.Contains(out, s) {
			t.Fatal("a secret is in the log")
		}
	}

	// GET /received serves the same list.
	rr := httptest.NewRecorder()
	h.ReceivedHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/received", nil))
	var listed struct {
		Received []Delivery `json:"received"`
		Refused  int        `json:"refused"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &listed); err != nil || len(listed.Received) != 3 || listed.Refused != 5 {
		t.Fatalf("GET /received: %v %s", err, rr.Body)
	}
}

func TestNewRefusesBadSecrets(t *testing.T) {
	for _, s := range [][]string{nil, {"not-whsec"}, {"whsec_!!!"}} {
		if _, err := New(Config{Secrets: s}); err == nil {
			t.Errorf("New(%q): no error", s)
		}
	}
}

func TestNoReplyMode(t *testing.T) {
	secret := newSecret(t)
	h, _ := New(Config{Secrets: []string{secret}, Logger: slog.New(slog.DiscardHandler)})
	body, _ := json.Marshal(testEnvelope())
	if rec := post(t, h, "m", time.Now(), body, secret); rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("no-reply mode: %d %q", rec.Code, rec.Body)
	}
}
