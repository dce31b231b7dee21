package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every HTTP server cuts off a client that sends its body slowly, keeps an
// idle connection open or sends oversized headers (the limits are shortened
// here; the defaults are in serverLimits).
func TestHTTPServerLimits(t *testing.T) {
	saved := serverLimits
	t.Cleanup(func() { serverLimits = saved })
	serverLimits.Read, serverLimits.Idle, serverLimits.ReadHeader = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusUnauthorized) // like the API to a caller without a token
	})
	go func() { done <- serveHTTP(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })

	// closedWithin reports whether the server closes c within d (reading and
	// discarding whatever it answers first).
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return false
		}
		return true
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("slow body", func(t *testing.T) {
		c := dial()
		_, _ = io.WriteString(c, "POST /v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
		if !closedWithin(c, 3*time.Second) {
			t.Fatal("a request whose body never arrives holds its connection")
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c := dial()
		_, _ = io.WriteString(c, "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if !closedWithin(c, 3*time.Second) {
			t.Fatal("an idle keep-alive connection is never closed")
		}
	})
	t.Run("oversized headers", func(t *testing.T) {
		c := dial()
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Junk: "+strings.Repeat("a", 200<<10)+"\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("200 KB of headers: status %d, want 431", resp.StatusCode)
		}
	})
}
