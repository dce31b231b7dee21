package discord

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeDiscord follows POST /api/v10/channels/{id}/messages with
// "Authorization: Bot <token>"; errors {"code":..,"message":..}; 429 with
// {"message":..,"retry_after":<seconds float>,"global":false}.
func fakeDiscord(t *testing.T) (*httptest.Server, *[]string) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bot good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"401: Unauthorized","code":0}`))
			return
		}
		paths = append(paths, r.URL.Path)
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		switch r.URL.Path {
		case "/api/v10/channels/111/messages", "/api/v10/channels/222/messages":
			w.Write([]byte(`{"id":"1234567890","channel_id":"111","content":"` + body["content"].(string) + `"}`))
		case "/api/v10/channels/429/messages":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"message":"You are being rate limited.","retry_after":0.25,"global":false}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message":"Missing Access","code":50001}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &paths
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	srv, paths := fakeDiscord(t)
	s := NewSender(srv.URL, nil)
	id, err := s.Send(ctx, "good-token", Outgoing{ChannelID: "111", Content: "hi"})
	if err != nil || id != "1234567890" {
		t.Fatalf("send: %q %v", id, err)
	}
	if err := s.SendText(ctx, "good-token", "guild", "111", "222", "in thread"); err != nil {
		t.Fatal(err)
	}
	if (*paths)[1] != "/api/v10/channels/222/messages" {
		t.Fatalf("thread message went to %s", (*paths)[1])
	}
	var se *SendError
	_, err = s.Send(ctx, "good-token", Outgoing{ChannelID: "333", Content: "x"})
	if !errors.As(err, &se) || se.Code != 50001 || se.Temporary() {
		t.Fatalf("403: %v", err)
	}
	_, err = s.Send(ctx, "good-token", Outgoing{ChannelID: "429", Content: "x"})
	if !errors.As(err, &se) || !se.Temporary() || se.RetryAfter() != 250*time.Millisecond {
		t.Fatalf("429: %v", err)
	}
	_, err = s.Send(ctx, "bad", Outgoing{ChannelID: "111", Content: "x"})
	if !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("401: %v", err)
	}
}
