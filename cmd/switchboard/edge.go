package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/edge"
	"github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
	"github.com/switchboard-dev/switchboard/xds"
)

func init() {
	register(command{name: "edge", usage: "native edge: verify webhooks with the xDS-delivered config, forward to ingest", run: func(ctx context.Context, args []string) error {
		return runEdge(ctx, args, os.Getenv, os.Stdout, os.Stderr)
	}})
}

func runEdge(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(errOut)
	listen := fs.String("listen", "127.0.0.1:8443", "address serving /v1/hooks/... (put TLS in front, or run behind your load balancer)")
	admin := fs.String("admin", "127.0.0.1:9902", "admin address (/metrics, /ready, /config: the configuration in force); keep it on loopback")
	controlPlane := fs.String("xds", defaultXDSListen, "xDS (ADS) server of the control plane")
	ingestURL := fs.String("ingest", "http://127.0.0.1:8090", "ingest base URL accepted requests are forwarded to")
	host, _ := os.Hostname()
	nodeID := fs.String("node-id", "edge-"+host, "xDS node id (unique per edge)")
	group := fs.String("group", xds.GroupStable, "node group: stable or canary")
	keyFile := fs.String("edge-key-file", "", "file holding the base64 edge key (default: $"+xds.EnvEdgeKey+")")
	reportURL := fs.String("report-url", "", "where refusals concerning a tenant are reported for the audit log (default: <ingest>"+rejection.Path+")")
	reportInterval := fs.Duration("report-interval", edge.DefaultReportInterval, "window over which refusals are aggregated before they are reported")
	quarThreshold := fs.Int64("quarantine-threshold", 100, "refused requests per minute to one ingress id that quarantine it (answered 429 before its body is read)")
	quarCoolDown := fs.Duration("quarantine-cool-down", time.Minute, "how long a quarantined ingress id is answered 429")
	trustProto := fs.Bool("trust-forwarded-proto", false, "take the scheme from X-Forwarded-Proto (only behind your own TLS proxy)")
	xdsCert := fs.String("xds-cert", "", "this node's certificate (`switchboard certs issue --node ID`): the control plane takes the node id and group from it; also the client certificate towards an https --ingest")
	xdsKey := fs.String("xds-key", "", "this node's key")
	xdsCA := fs.String("xds-ca", "", "CA bundle the control plane's (and an https ingest's) certificate must chain to")
	insecureXDS := fs.Bool("insecure-xds", false, "talk to the control plane in plaintext (development only: a control plane with --insecure-xds)")
	if err := fs.Parse(args); err != nil {
		return exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	edgeKey, err := readEdgeKey(*keyFile, getenv)
	if err != nil {
		return err
	}
	attKey, err := readAttestationKey(getenv)
	if err != nil {
		return err
	}
	u, err := url.Parse(*ingestURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--ingest %q: want an http(s) URL", *ingestURL)
	}
	var ru *url.URL
	if *reportURL != "" {
		if ru, err = url.Parse(*reportURL); err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
			return fmt.Errorf("--report-url %q: want an http(s) URL", *reportURL)
		}
	}
	if *quarThreshold < 1 || *quarCoolDown < time.Second {
		return fmt.Errorf("--quarantine-threshold %d, --quarantine-cool-down %s: want at least 1 and 1s", *quarThreshold, *quarCoolDown)
	}
	if *reportInterval < 100*time.Millisecond {
		return fmt.Errorf("--report-interval %s: want at least 100ms", *reportInterval)
	}
	log := slog.New(slog.NewTextHandler(errOut, nil))
	var xdsTLS *tls.Config
	var tr http.RoundTripper
	if !*insecureXDS {
		if xdsTLS, err = nodeTLS(*xdsCert, *xdsKey, *xdsCA); err != nil {
			return err
		}
		// The node's id and group are its certificate's unless given.
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["node-id"] {
			*nodeID = ""
		}
		if !set["group"] {
			*group = ""
		}
		// To an https ingest: mTLS with the same node certificate.
		t := edge.NewTransport()
		t.TLSClientConfig = xdsTLS.Clone()
		tr = t
	} else if u.Scheme == "https" {
		return errors.New("--ingest https needs the node certificate (--xds-cert, --xds-key, --xds-ca)")
	}
	h, err := edge.New(edge.Config{ControlPlane: *controlPlane, NodeID: *nodeID, Group: *group, EdgeKey: edgeKey,
		AttestationKey: attKey, Ingest: u, TrustForwardedProto: *trustProto, Logger: log,
		ReportURL: ru, ReportInterval: *reportInterval, XDSTLS: xdsTLS, Transport: tr,
		Quarantine: quarantine.Policy{Threshold: *quarThreshold, CoolDown: *quarCoolDown}})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	ln = limitConns(ln, connLimit())
	aln, err := net.Listen("tcp", *admin)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listen %s: %w", *admin, err)
	}
	xdsMode := "mTLS"
	if *insecureXDS {
		xdsMode = "PLAINTEXT"
	}
	fmt.Fprintf(out, "edge %s (%s) listening on http://%s/v1/hooks/; admin on http://%s; xDS %s (%s); ingest %s\n",
		h.NodeID(), h.Group(), ln.Addr(), aln.Addr(), *controlPlane, xdsMode, u)
	fmt.Fprintf(out, "edge reports refusals concerning a tenant to %s every %s\n", h.ReportURL(), *reportInterval)
	fmt.Fprintln(out, "edge refuses all traffic (503 no_config) until the first configuration arrives")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := newHTTPServer(h, log)
	asrv := newHTTPServer(h.AdminHandler(), log)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	serveOn := func(s *http.Server, l net.Listener) {
		defer wg.Done()
		if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- err
			cancel()
		}
	}
	wg.Add(3)
	go serveOn(srv, ln)
	go serveOn(asrv, aln)
	go func() { defer wg.Done(); _ = h.Run(ctx) }()
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	_ = asrv.Shutdown(sctx)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}
