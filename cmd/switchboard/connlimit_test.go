package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestListenerConnLimit: with the limit at 2 and two connections open, a
// third connection's request is served only after one of the two closed.
func TestListenerConnLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(inner, 2)
	var closed atomic.Bool
	entered := make(chan string, 3)
	servedBeforeClose := make(chan bool, 3)
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		servedBeforeClose <- !closed.Load()
		entered <- r.URL.Path
		w.WriteHeader(200)
	}), slog.Default())
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	get := func(c net.Conn, p string) {
		t.Helper()
		if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p); err != nil {
			t.Fatal(err)
		}
	}
	read := func(c net.Conn) {
		t.Helper()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var conns []net.Conn
	for i := 1; i <= 2; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		get(c, fmt.Sprintf("/%d", i))
		read(c) // served; the connection stays open (keep-alive)
		<-entered
		<-servedBeforeClose
		conns = append(conns, c)
	}
	c3, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	get(c3, "/3")
	// Two more round trips on an open connection give a third connection,
	// had it been accepted, every chance to be served first.
	for i := 0; i < 2; i++ {
		get(conns[1], "/2again")
		read(conns[1])
		<-entered
		<-servedBeforeClose
	}
	closed.Store(true)
	conns[0].Close()
	read(c3)
	if p := <-entered; p != "/3" {
		t.Fatalf("served %s, want /3", p)
	}
	if <-servedBeforeClose {
		t.Fatal("the third connection was served while two were open")
	}
}

func TestConnLimitInRange(t *testing.T) {
	if n := connLimit(); n < minConnLimit || n > maxConnLimit {
		t.Fatalf("connLimit() = %d", n)
	}
}
