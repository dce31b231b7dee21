package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serverLimits bound what one client may hold of every HTTP server (API,
// edge, admin, metrics, demo agent): a request's headers and body must
// arrive within Read, an idle keep-alive connection is closed after Idle, and
// headers are at most MaxHeaderBytes (Go's default is a megabyte; webhook and
// API requests need a few kilobytes). Without Read and Idle an
// unauthenticated client could hold an API connection open forever.
var serverLimits = struct {
	ReadHeader, Read, Write, Idle time.Duration
	MaxHeaderBytes                int
}{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 2 * time.Minute, MaxHeaderBytes: 64 << 10}

// newHTTPServer is an http.Server for h with serverLimits and errors logged to log.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	l := serverLimits
	return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeader, ReadTimeout: l.Read, WriteTimeout: l.Write,
		IdleTimeout: l.Idle, MaxHeaderBytes: l.MaxHeaderBytes, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := newHTTPServer(h, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	<-errc
	return nil
}
