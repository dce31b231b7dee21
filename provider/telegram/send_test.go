package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const goodToken = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"

// fakeTelegram follows the Bot API: POST /bot<token>/sendMessage, answers
// {"ok":true,"result":{...}} or {"ok":false,"error_code":..,"description":..}
// with the same HTTP status, 429 carrying parameters.retry_after.
func fakeTelegram(t *testing.T, ratelimit bool) (*httptest.Server, *[]map[string]any) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/bot"+goodToken+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`))
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		got = append(got, body)
		switch {
		case ratelimit:
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`))
		case body["chat_id"] != "42":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`))
		default:
			w.Write([]byte(`{"ok":true,"result":{"message_id":777,"date":1700000000,"chat":{"id":42,"type":"private"},"text":"x"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	srv, got := fakeTelegram(t, false)
	s := NewSender(srv.URL, nil)
	id, err := s.Send(ctx, goodToken, Outgoing{ChatID: "42", Text: "привет"})
	if err != nil || id != 777 {
		t.Fatalf("send: %d %v", id, err)
	}
	if err := s.SendText(ctx, goodToken, "", "42", "9", "x"); err != nil {
		t.Fatal(err)
	}
	if (*got)[0]["text"] != "привет" || (*got)[1]["message_thread_id"] != float64(9) {
		t.Fatalf("bodies %v", *got)
	}
	if _, ok := (*got)[0]["message_thread_id"]; ok {
		t.Fatal("message_thread_id sent without a thread")
	}
	_, err = s.Send(ctx, goodToken, Outgoing{ChatID: "43", Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || se.Code != 400 || se.Temporary() || !strings.Contains(se.Description, "chat not found") {
		t.Fatalf("400: %v", err)
	}
	_, err = s.Send(ctx, "999:wrong", Outgoing{ChatID: "42", Text: "x"})
	if !errors.As(err, &se) || se.Code != 401 || strings.Contains(err.Error(), "999:wrong") {
		t.Fatalf("401: %v", err)
	}
	if err := s.SendText(ctx, goodToken, "", "42", "not-a-number", "x"); err == nil {
		t.Fatal("bad thread accepted")
	}
	if _, err := s.Send(ctx, "a/b", Outgoing{ChatID: "42"}); err == nil {
		t.Fatal("token with a slash accepted")
	}
}

func TestSendRateLimitAndTokenNotInErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := fakeTelegram(t, true)
	_, err := NewSender(srv.URL, nil).Send(ctx, goodToken, Outgoing{ChatID: "42", Text: "x"})
	var se *SendError
	if !errors.As(err, &se) || !se.Temporary() || se.RetryAfter() != 5*time.Second {
		t.Fatalf("429: %v", err)
	}
	srv.Close()
	_, err = NewSender(srv.URL, nil).Send(ctx, goodToken, Outgoing{ChatID: "42", Text: "x"})
	if err == nil || !errors.As(err, &se) || !se.Temporary() {
		t.Fatalf("closed server: %v", err)
	}
	if strings.Contains(err.Error(), goodToken) || strings.Contains(err.Error(), "ABC-DEF") {
		t.Fatalf("transport error leaks the bot token: %v", err)
	}
}
