package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/switchboard-dev/switchboard/demoagent"
	"github.com/switchboard-dev/switchboard/probe"
	"github.com/switchboard-dev/switchboard/servicetest"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestMinimalPipeline: a signed Slack event is verified, enqueued on a real
// redis-server with its event id as task id, and delivered by the Asynq
// workers to the sink, which verifies the Standard Webhooks signature; a
// redelivery of the same event is answered 200 and not delivered again; a
// forged one is refused 401 and never delivered.
func TestMinimalPipeline(t *testing.T) {
	rs := servicetest.StartRedis(t)
	const sinkSecret = "whsec_c2luay1zZWNyZXQtb2YtdGhlLXRlc3Q="
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	agent, err := demoagent.New(demoagent.Config{Secrets: []string{sinkSecret}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	sink := httptest.NewServer(agent)
	defer sink.Close()
	p, err := New(Config{Redis: asynq.RedisClientOpt{Addr: rs.Addr}, Sink: sink.URL + "/", Logger: quiet,
		Secrets: Secrets{SlackSigning: map[string]string{"ing1": "slack-secret-1"}, Sink: sinkSecret}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	srv := httptest.NewServer(p)
	defer srv.Close()

	in := probe.Install{Provider: "slack", Ingress: "ing1", Account: "T0MIN", AppID: "A0MIN", Cred: testevent.Credentials{Secret: "slack-secret-1"}}
	send := func(ev testevent.Event, cred testevent.Credentials) int {
		t.Helper()
		s, err := probe.Sign(srv.URL, in, ev, cred)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(s.Body))
		for _, h := range s.Headers {
			req.Header.Add(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ev := in.Event("sblt-min-1", time.Now())
	ev.EventID = "EvMin1"
	if got := send(ev, in.Cred); got != http.StatusOK {
		t.Fatalf("signed event answered %d, want 200", got)
	}
	if got := send(ev, in.Cred); got != http.StatusOK {
		t.Fatalf("redelivered event answered %d, want 200", got)
	}
	forged := in.Event("sblt-min-forged", time.Now())
	forged.EventID = "EvMinForged"
	if got := send(forged, testevent.Forge("slack", in.Cred)); got != http.StatusUnauthorized {
		t.Fatalf("forged event answered %d, want 401", got)
	}
	// A last valid event: once it is delivered, the first one was too (one
	// queue, FIFO) and anything of the redelivery would have been.
	last := in.Event("sblt-min-2", time.Now())
	last.EventID = "EvMin2"
	if got := send(last, in.Cred); got != http.StatusOK {
		t.Fatalf("second event answered %d, want 200", got)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(agent.Received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a redelivery would land now
	got := map[string]int{}
	for _, d := range agent.Received() {
		got[probe.Marker(d.Envelope.Text)]++
		if d.WebhookID != "slack:"+d.Envelope.EventID {
			t.Errorf("webhook-id %q, want the task id slack:%s", d.WebhookID, d.Envelope.EventID)
		}
	}
	if got["sblt-min-1"] != 1 || got["sblt-min-2"] != 1 || len(got) != 2 {
		t.Fatalf("deliveries by marker %v, want sblt-min-1 and sblt-min-2 once each", got)
	}
	if agent.Refused() != 0 {
		t.Fatalf("the sink refused %d deliveries (signature)", agent.Refused())
	}
}
