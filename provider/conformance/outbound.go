package conformance

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
)

// TextSender is the worker's provider-neutral send (every built-in sender
// has it; a provider.ReplySender is preferred when the sender is one).
type TextSender interface {
	SendText(ctx context.Context, token, account, conversation, thread, text string) error
}

// Over says what a sender does with a text over the provider's limit.
type Over string

const (
	Refuse Over = "refuse" // a permanent *provider.TextTooLongError, nothing sent
	Split  Over = "split"  // sent in pieces, each within the limit
)

// Limit is a provider's documented text limit.
type Limit struct {
	Max  int
	Unit string // "characters" (code points), "bytes" or "utf16"
	Over Over
}

// Length measures s in the limit's unit.
func (l Limit) Length(s string) int {
	switch l.Unit {
	case "bytes":
		return len(s)
	case "utf16":
		return provider.UTF16Len(s)
	}
	return len([]rune(s))
}

// Outbound is the kit interface of requirement "outbound": the provider's
// sender against its fake API.
type Outbound interface {
	// FakeAPI is the fake provider API: a handler following the provider's
	// documented requests and answers, which answers GoodReply with success
	// and RateLimitedReply with the provider's rate-limit answer.
	FakeAPI() http.Handler
	// NewSender returns the provider's sender pointed at base.
	NewSender(base string) TextSender
	// GoodReply is a reply the fake accepts; RateLimitedReply one it
	// answers as rate limited (with the retry delay the provider gives).
	GoodReply() provider.Reply
	RateLimitedReply() provider.Reply
	// Limit is the documented text limit.
	Limit() Limit
	// RateLimitWait is the retry delay the fake's rate-limit answer gives
	// (Retry-After, retry_after, ...); 0 when the provider documents none,
	// and the worker's own backoff applies.
	RateLimitWait() time.Duration
	// Texts returns the reply texts the fake received in one request ("" when
	// the request carries none), so the suite can check what arrived.
	Texts(r *Recorded) []string
}

// Recorded is one request a fake received, and the status it answered.
type Recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	Status       int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Recorder serves a handler and keeps every request it received.
type Recorder struct {
	URL string
	mu  sync.Mutex
	got []Recorded
}

// Serve starts h on a local server for the test, recording requests.
func Serve(t testing.TB, h http.Handler) *Recorder {
	rec := &Recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		rec.mu.Lock()
		rec.got = append(rec.got, Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: b, Status: sw.status})
		rec.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// Requests returns the requests received so far.
func (r *Recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.got...)
}

// Send sends rep through s: SendReply when s is a provider.ReplySender,
// else SendText.
func Send(ctx context.Context, s TextSender, rep provider.Reply) error {
	if rs, ok := s.(provider.ReplySender); ok {
		return rs.SendReply(ctx, rep)
	}
	return s.SendText(ctx, rep.Token, rep.Account, rep.Conversation, rep.Thread, rep.Text)
}

type temporary interface{ Temporary() bool }
type retryAfter interface{ RetryAfter() time.Duration }

func checkOutbound(t *testing.T, k Kit) {
	o, ok := k.(Outbound)
	if !ok {
		lacks(t, k, "conformance.Outbound (sender and fake API)")
	}
	ctx := context.Background()
	lim := o.Limit()
	if lim.Max <= 0 || (lim.Over != Refuse && lim.Over != Split) {
		t.Fatalf("limit %+v: want a positive Max and Over refuse or split", lim)
	}
	texts := func(rec *Recorder, from int) []string {
		var out []string
		for _, r := range rec.Requests()[from:] {
			out = append(out, o.Texts(&r)...)
		}
		return out
	}
	t.Run("good", func(t *testing.T) {
		rec := Serve(t, o.FakeAPI())
		rep := o.GoodReply()
		rep.Text = "conformance ✓ réponse"
		if err := Send(ctx, o.NewSender(rec.URL), rep); err != nil {
			t.Fatalf("send: %v", err)
		}
		if got := texts(rec, 0); len(got) != 1 || got[0] != rep.Text {
			t.Fatalf("fake received texts %q, want [%q]", got, rep.Text)
		}
	})
	// A text of exactly the limit, built of the widest character the unit
	// counts as one, goes out whole.
	unit := "é"
	if lim.Unit == "utf16" {
		unit = "中"
	}
	if lim.Unit == "bytes" {
		unit = "a"
	}
	at := strings.Repeat(unit, lim.Max)
	t.Run("at limit", func(t *testing.T) {
		rec := Serve(t, o.FakeAPI())
		rep := o.GoodReply()
		rep.Text = at
		if err := Send(ctx, o.NewSender(rec.URL), rep); err != nil {
			t.Fatalf("send of %d %s: %v", lim.Max, lim.Unit, err)
		}
		if got := texts(rec, 0); len(got) != 1 || got[0] != at {
			t.Fatalf("fake received %d texts, want the text whole", len(got))
		}
	})
	t.Run("over limit", func(t *testing.T) {
		rec := Serve(t, o.FakeAPI())
		rep := o.GoodReply()
		rep.Text = at + "x"
		if lim.Unit == "bytes" {
			rep.Text = at[:len(at)-1] + "é" // one byte over, a character cut would be wrong
		}
		err := Send(ctx, o.NewSender(rec.URL), rep)
		switch lim.Over {
		case Refuse:
			var tl *provider.TextTooLongError
			if !errors.As(err, &tl) || tl.Temporary() {
				t.Fatalf("over the limit: err %v, want a permanent *provider.TextTooLongError", err)
			}
			if n := len(rec.Requests()); n != 0 {
				t.Fatalf("%d requests sent for a refused text", n)
			}
		case Split:
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			got := texts(rec, 0)
			if len(got) < 2 || strings.Join(got, "") != rep.Text {
				t.Fatalf("split into %d pieces that do not add up to the text", len(got))
			}
			for _, p := range got {
				if lim.Length(p) > lim.Max {
					t.Fatalf("piece of %d %s over %d", lim.Length(p), lim.Unit, lim.Max)
				}
			}
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		rec := Serve(t, o.FakeAPI())
		rep := o.RateLimitedReply()
		if rep.Text == "" {
			rep.Text = "slow down"
		}
		err := Send(ctx, o.NewSender(rec.URL), rep)
		var tmp temporary
		if err == nil || !errors.As(err, &tmp) || !tmp.Temporary() {
			t.Fatalf("rate-limited answer: err %v, want a temporary error", err)
		}
		if want := o.RateLimitWait(); want > 0 {
			var ra retryAfter
			if !errors.As(err, &ra) || ra.RetryAfter() != want {
				t.Fatalf("rate-limited answer: retry delay not taken from the answer (want %s): %v", want, err)
			}
		}
		if len(rec.Requests()) == 0 {
			t.Fatal("the fake received nothing")
		}
	})
}
