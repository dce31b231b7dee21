package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeSlack follows chat.postMessage as documented: Bearer token, JSON body,
// HTTP 200 with {"ok":false,"error":...} for API errors, 429 + Retry-After.
func fakeSlack(t *testing.T, mode string) (*httptest.Server, *[]map[string]string) {
	var got []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/chat.postMessage" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("content-type %q", r.Header.Get("Content-Type"))
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		got = append(got, body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Header.Get("Authorization") != "Bearer xoxb-good":
			w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
		case mode == "ratelimit":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case mode == "down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case body["channel"] != "C123":
			w.Write([]byte(`{"ok":false,"error":"channel_not_found"}`))
		default:
			w.Write([]byte(`{"ok":true,"channel":"C123","ts":"1503435956.000247","message":{"text":"x"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	srv, got := fakeSlack(t, "")
	s := NewSender(srv.URL, srv.Client())
	ts, err := s.Send(ctx, "xoxb-good", Outgoing{Channel: "C123", Text: "héllo", ThreadTS: "1.2"})
	if err != nil || ts != "1503435956.000247" {
		t.Fatalf("send: %q %v", ts, err)
	}
	if b := (*got)[0]; b["text"] != "héllo" || b["thread_ts"] != "1.2" || b["channel"] != "C123" {
		t.Fatalf("request body %v", b)
	}
	if err := s.SendText(ctx, "xoxb-good", "T1", "C123", "", "x"); err != nil {
		t.Fatal(err)
	}
	if _, ok := (*got)[1]["thread_ts"]; ok {
		t.Fatal("thread_ts sent for a message without thread")
	}
	for _, c := range []struct {
		token, channel, code string
		temporary            bool
	}{
		{"xoxb-bad", "C123", "invalid_auth", false},
		{"xoxb-good", "C999", "channel_not_found", false},
	} {
		_, err := s.Send(ctx, c.token, Outgoing{Channel: c.channel, Text: "x"})
		var se *SendError
		if !errors.As(err, &se) || se.Code != c.code || se.Temporary() != c.temporary {
			t.Fatalf("%s: %v", c.code, err)
		}
	}
}

func TestSendRateLimitAndOutage(t *testing.T) {
	ctx := context.Background()
	srv, _ := fakeSlack(t, "ratelimit")
	_, err := NewSender(srv.URL, nil).Send(ctx, "xoxb-good", Outgoing{Channel: "C123", Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary() || se.RetryAfter() != 7*time.Second || se.Status != 429 {
		t.Fatalf("429: %v", err)
	}
	srv2, _ := fakeSlack(t, "down")
	_, err = NewSender(srv2.URL, nil).Send(ctx, "xoxb-good", Outgoing{Channel: "C123", Text: "x"})
	if !errors.As(err, &se) || !se.Temporary() || se.Status != 503 {
		t.Fatalf("503: %v", err)
	}
	srv2.Close()
	_, err = NewSender(srv2.URL, nil).Send(ctx, "xoxb-good", Outgoing{Channel: "C123", Text: "x"})
	if !errors.As(err, &se) || !se.Temporary() || se.Code != "transport" {
		t.Fatalf("closed server: %v", err)
	}
}
