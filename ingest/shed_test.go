package ingest

import (
	"context"
	"net/http"
	"testing"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/shed"
)

// heldQueue holds every enqueue until released (the real queue behind it).
type heldQueue struct {
	q       Enqueuer
	entered chan struct{}
	release chan struct{}
}

func (h *heldQueue) Enqueue(ctx context.Context, env envelope.Envelope) error {
	h.entered <- struct{}{}
	<-h.release
	return h.q.Enqueue(ctx, env)
}

// TestShedsOverMaxInFlight: with MaxInFlight requests in the works, the next
// is answered 503 with Retry-After before any of its work (nothing read from
// the store, nothing enqueued); the held one still succeeds.
func TestShedsOverMaxInFlight(t *testing.T) {
	h := newHarness(t)
	hq := &heldQueue{q: h.q, entered: make(chan struct{}), release: make(chan struct{})}
	cs := &countingStore{Store: h.st}
	var err error
	if h.h, err = New(Config{Store: cs, Queue: hq, AttestationKey: attKey, Logger: h.h.cfg.Logger, Now: h.h.cfg.Now, MaxInFlight: 1}); err != nil {
		t.Fatal(err)
	}
	first := make(chan int)
	go func() { first <- h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvH1")).Code }()
	<-hq.entered
	reads := cs.n.Load()
	w := h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvH2"))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || w.Body.String() != shed.Body {
		t.Fatalf("second request: %d %q %s, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if cs.n.Load() != reads {
		t.Fatal("the shed request read the store")
	}
	close(hq.release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("held request: %d", code)
	}
	if h.h.Shed() != 1 {
		t.Fatalf("Shed() = %d, want 1", h.h.Shed())
	}
	if n := len(h.tasks(t)); n != 1 {
		t.Fatalf("%d tasks, want 1", n)
	}
}
