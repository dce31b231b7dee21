package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	edgereport "github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/ingest"
	"github.com/switchboard-dev/switchboard/metrics"
	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/queue"
)

// envAttestationKey holds the HMAC key shared by the edge and ingest.
const envAttestationKey = "SWITCHBOARD_ATTESTATION_KEY"

const defaultIngestListen = "127.0.0.1:8090"

func init() {
	register(command{name: "ingest", usage: "receive attested webhooks from the edge and enqueue them", run: func(ctx context.Context, args []string) error {
		return runIngest(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	}})
}

// readAttestationKey decodes SWITCHBOARD_ATTESTATION_KEY (base64 of 32 bytes).
func readAttestationKey(getenv func(string) string) ([]byte, error) {
	text := strings.TrimSpace(getenv(envAttestationKey))
	if text == "" {
		return nil, fmt.Errorf("no attestation key: set %s to the same base64 key (32 bytes) the edge uses", envAttestationKey)
	}
	key, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("%s is not base64", envAttestationKey)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s is %d bytes, want 32", envAttestationKey, len(key))
	}
	return key, nil
}

func runIngest(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", defaultIngestListen, "address to serve /v1/hooks/... on (only the edge should reach it)")
	storeOpts := addStoreFlags(fs)
	redisAddr := addRedisFlag(fs)
	var shards int
	shardsFlag(fs, &shards)
	waitReplicas := fs.Int("redis-wait-replicas", -1, "acknowledge an event only once this many replicas of its shard's Redis primary have it (WAIT after the enqueue; a failover then loses no acknowledged event); -1: 1 for a redis-cluster:// or redis-sentinel:// --redis, 0 (off) for a single Redis")
	waitTimeout := fs.Duration("redis-wait-timeout", queue.DefaultWaitTimeout, "how long an enqueue waits for --redis-wait-replicas before the webhook is answered 503 (the provider retries)")
	maxBody := fs.Int64("max-body-bytes", ingest.DefaultMaxBodyBytes, "largest webhook body accepted")
	metricsAddr := addMetricsFlag(fs, defaultIngestMetrics)
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (the edge -> ingest hop over mTLS; with --tls-key and --tls-client-ca)")
	tlsKey := fs.String("tls-key", "", "key of --tls-cert")
	orgRate := fs.Int("org-rate", 0, "webhooks per second accepted per organisation whose limits set none, per ingest process (0: no default limit; an organisation's own rate_per_sec, set through PUT /v1/orgs/{id}/limits, always applies)")
	orgBurst := fs.Int("org-burst", 0, "token-bucket size of --org-rate (0: the rate)")
	tlsClientCA := fs.String("tls-client-ca", "", "CA bundle edge node certificates must chain to (required with --tls-cert: only edges connect)")
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := checkShards(shards); err != nil {
		return err
	}
	if *orgRate < 0 || *orgBurst < 0 || *orgBurst > 0 && *orgRate == 0 {
		return fmt.Errorf("--org-rate and --org-burst must be >= 0, and --org-burst needs --org-rate")
	}
	key, err := readAttestationKey(getenv)
	if err != nil {
		return err
	}
	prov, err := readProvenanceKeys(getenv)
	if err != nil {
		return err
	}
	redisOpts, err := redisOptions(*redisAddr, storeOpts.DataDir, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(errOut, nil))

	st, err := openStore(ctx, storeOpts.DSN())
	if err != nil {
		return err
	}
	defer st.Close()
	rdb := redisOpts.NewClient()
	defer rdb.Close()
	if unreachable, err := checkRedis(ctx, rdb, redisOpts); err != nil {
		return err
	} else if unreachable != nil {
		log.Warn("redis not reachable yet; webhooks are answered 503 until it is", "err", unreachable)
	} else {
		logRecordedLayout(ctx, rdb, shards, log)
	}
	wait := *waitReplicas
	if wait < 0 {
		wait = 0
		if redisOpts.Replicated() {
			wait = 1
		}
	}
	q := queue.NewClient("", shards, queue.WithRedisClient(rdb), queue.WithSealer(prov), queue.WithWaitReplicas(wait, *waitTimeout))
	defer q.Close()

	h, err := ingest.New(ingest.Config{Store: st, Queue: q, AttestationKey: key, MaxBodyBytes: *maxBody, Logger: log,
		OrgRate: orglimit.Rate{PerSec: *orgRate, Burst: *orgBurst}})
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if *tlsCert != "" || *tlsKey != "" || *tlsClientCA != "" {
		if tlsCfg, err = ingestTLS(*tlsCert, *tlsKey, *tlsClientCA); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	ln = limitConns(ln, connLimit())
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		scheme = "https (mTLS: edge node certificates)"
	}
	metricsErr, err := startMetrics(ctx, *metricsAddr, out)
	if err != nil {
		ln.Close()
		return err
	}
	// Edge refusal reports are not webhooks: they stay out of the hook metrics.
	mux := http.NewServeMux()
	mux.Handle("/", metrics.Hooks(h, prometheus.DefaultRegisterer, "ingest"))
	mux.Handle("POST "+edgereport.Path, h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(out, "ingest listening on %s %s (redis %s, %d shards, waits for %d replicas)\n", scheme, ln.Addr(), redisOpts.Display(), shards, wait)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case err := <-metricsErr:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ingestTLS is ingest's mTLS server configuration: clients must present a
// certificate of the CA that names an edge node (pki.NodeIdentity). The
// edge's attestation is required on top, as without TLS.
func ingestTLS(certPath, keyPath, caPath string) (*tls.Config, error) {
	if certPath == "" || keyPath == "" || caPath == "" {
		return nil, errors.New("ingest over TLS needs --tls-cert, --tls-key and --tls-client-ca")
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	pool, err := pki.LoadPool(caPath)
	if err != nil {
		return nil, err
	}
	cfg := pki.ServerTLS(cert, pool)
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := pki.PeerIdentity(&cs)
		return err
	}
	return cfg, nil
}
