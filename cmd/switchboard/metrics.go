package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/metrics"
)

// Every process serves Prometheus metrics on its own loopback address
// (--metrics-listen; "" turns it off). The edge serves them on its admin
// address. `switchboard up` runs everything in one process and serves the
// shared registry once.
const (
	defaultServeMetrics  = "127.0.0.1:9101"
	defaultIngestMetrics = "127.0.0.1:9102"
	defaultWorkerMetrics = "127.0.0.1:9103"
)

func addMetricsFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("metrics-listen", def, "address serving Prometheus /metrics (keep it on loopback or a private network; empty: off)")
}

// startMetrics serves the default registry's /metrics on addr until ctx ends.
// errc receives the server's failure, if any.
func startMetrics(ctx context.Context, addr string, out io.Writer) (errc <-chan error, err error) {
	ch := make(chan error, 1)
	if addr == "" {
		return ch, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	fmt.Fprintf(out, "metrics on http://%s/metrics\n", ln.Addr())
	go func() {
		if err := serveMetrics(ctx, ln); err != nil {
			ch <- fmt.Errorf("metrics: %w", err)
		}
	}()
	return ch, nil
}

// serveMetrics serves the default registry's /metrics on ln until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener) error {
	return serveHTTP(ctx, ln, metrics.Mux(prometheus.DefaultGatherer), slog.Default())
}

// The control plane's metrics (xDS builds, NACKs, connected edges) are served
// by `serve` through this part.
func init() {
	var listen string
	registerServePart(servePart{
		name: "metrics",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listen, "metrics-listen", defaultServeMetrics, "address serving Prometheus /metrics (empty: off)")
		},
		start: func(ctx context.Context, env *serveEnv) (func(context.Context) error, error) {
			if listen == "" {
				return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return nil, fmt.Errorf("metrics listen %s: %w", listen, err)
			}
			fmt.Fprintf(env.Out, "metrics on http://%s/metrics\n", ln.Addr())
			return func(ctx context.Context) error { return serveMetrics(ctx, ln) }, nil
		},
	})
}
