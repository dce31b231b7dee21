package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
)

// edgeKeyFile holds the generated edge key when SWITCHBOARD_EDGE_KEY is unset.
const edgeKeyFile = "edge.key"

const defaultXDSListen = "127.0.0.1:18000"

// The xDS server runs inside `serve` (registered as a serve part).
func init() {
	var listen, ingestAddr, wasmPath, xdsCert, xdsKey, xdsCA string
	var envoyPort uint
	var edgeShards int
	var insecureXDS bool
	registerServePart(servePart{
		name: "xds",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listen, "xds-listen", defaultXDSListen, "address of the xDS (ADS gRPC) server for Envoy and native edges")
			fs.StringVar(&ingestAddr, "envoy-ingest", "127.0.0.1:8090", "host:port of ingest as Envoy's upstream cluster")
			fs.UintVar(&envoyPort, "envoy-port", 10000, "port of Envoy's webhook listener")
			fs.StringVar(&wasmPath, "envoy-wasm", "/etc/envoy/filter.wasm", "path of filter.wasm on the Envoy hosts")
			fs.StringVar(&xdsCert, "xds-cert", "", "xDS server certificate (default: <data-dir>/pki/xds-server.crt, issued by the data dir's private CA)")
			fs.StringVar(&xdsKey, "xds-key", "", "xDS server key (with --xds-cert)")
			fs.StringVar(&xdsCA, "xds-client-ca", "", "CA bundle node certificates must chain to (default: <data-dir>/pki/ca.crt)")
			fs.IntVar(&edgeShards, "edge-shards", xds.DefaultShards, "K: ECDS shards the edge configuration is split into by ingress id, so a change pushes one shard (1: one resource, the format before sharding; see docs/envoy.md)")
			fs.BoolVar(&insecureXDS, "insecure-xds", false, "serve xDS in plaintext, trusting the node ids nodes declare (development only; by default xDS needs mTLS with node certificates)")
		},
		start: func(ctx context.Context, env *serveEnv) (func(context.Context) error, error) {
			if edgeShards < 1 || edgeShards > filter.MaxShards {
				return nil, fmt.Errorf("--edge-shards %d: want 1 to %d", edgeShards, filter.MaxShards)
			}
			key, from, err := loadOrCreateEdgeKey(env.DataDir, os.Getenv)
			if err != nil {
				return nil, err
			}
			var tlsCfg *tls.Config
			if !insecureXDS {
				if tlsCfg, err = xdsServerTLS(env.DataDir, listen, xdsCert, xdsKey, xdsCA); err != nil {
					return nil, err
				}
			}
			c, err := xds.NewController(xds.ControllerConfig{
				Store: env.Store, Keyring: env.Keyring, EdgeKey: key, Logger: env.Log, TLS: tlsCfg,
				Resources:  xds.ResourceOptions{IngestAddress: ingestAddr, ListenPort: uint32(envoyPort), WasmPath: wasmPath, Shards: edgeShards},
				Registerer: prometheus.DefaultRegisterer,
			})
			if err != nil {
				return nil, err
			}
			if err := c.Sync(ctx); err != nil {
				// Not fatal: the API must come up to fix what is wrong; Run retries.
				env.Log.Error("first edge configuration build failed", "err", err)
			}
			env.API.SetEdgeView(func(ingressID string) []api.EdgeIngress {
				var out []api.EdgeIngress
				for _, n := range c.IngressOnNodes(ingressID) {
					out = append(out, api.EdgeIngress(n))
				}
				return out
			})
			env.API.HandlePlatform("GET /v1/xds/status", c.StatusHandler())
			env.API.HandlePlatform("PUT /v1/xds/groups/{group}", groupVersionHandler(c, env.Store, env.Log))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return nil, fmt.Errorf("listen %s: %w", listen, err)
			}
			// serve may fail before it calls run (e.g. the API address is
			// bad): the listener must not outlive the ctx it was opened for.
			context.AfterFunc(ctx, func() { ln.Close() })
			mode := "mTLS (node certificates of " + filepath.Join(env.DataDir, pkiDir, pki.CACertFile) + ")"
			if xdsCA != "" {
				mode = "mTLS (node certificates of " + xdsCA + ")"
			}
			if insecureXDS {
				mode = "PLAINTEXT (--insecure-xds: declared node ids are trusted)"
			}
			fmt.Fprintf(env.Out, "xDS (ADS) listening on %s; edge key %s; %s\n", ln.Addr(), from, mode)
			return func(ctx context.Context) error {
				errc := make(chan error, 1)
				go func() { errc <- c.Serve(ctx, ln) }()
				runErr := c.Run(ctx)
				return errors.Join(runErr, <-errc)
			}, nil
		},
	})
}

// groupVersionHandler pins a node group to a version ({"version":"e…"}) or
// lets it follow the latest build ({"version":""}). Each change is audited.
func groupVersionHandler(c *xds.Controller, st store.Store, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Version *string `json:"version"`
		}
		if err := api.DecodeBody(w, r, &body); err != nil {
			api.WriteBodyError(w, err)
			return
		}
		if body.Version == nil {
			api.WriteFieldError(w, "version", `body must be {"version":"<built version>"} or {"version":""} to follow the latest`)
			return
		}
		group := r.PathValue("group")
		if err := c.SetGroupVersion(group, *body.Version); err != nil {
			field := "version"
			if group != xds.GroupStable && group != xds.GroupCanary {
				field = "group"
			}
			api.WriteFieldError(w, field, err.Error())
			return
		}
		action, detail := "xds.group.promote", map[string]string{"group": group}
		if *body.Version != "" {
			action, detail["version"] = "xds.group.hold", *body.Version
		}
		js, _ := json.Marshal(detail)
		// The pin is in force already; a failed audit write is logged loudly
		// rather than undone (undoing could race a newer pin).
		if _, err := st.AppendAudit(r.Context(), store.AuditEvent{At: time.Now().UTC(), Actor: api.ActorFrom(r.Context()),
			Action: action, Target: group, Detail: string(js)}); err != nil {
			log.Error("audit node group change", "group", group, "err", err)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Status())
	})
}

// loadOrCreateEdgeKey reads SWITCHBOARD_EDGE_KEY, else <dataDir>/edge.key,
// else generates that file (0600). It returns where the key came from.
func loadOrCreateEdgeKey(dataDir string, getenv func(string) string) ([]byte, string, error) {
	if getenv(xds.EnvEdgeKey) != "" {
		k, err := readEdgeKey("", getenv)
		return k, "from " + xds.EnvEdgeKey, err
	}
	path := filepath.Join(dataDir, edgeKeyFile)
	if _, err := os.Stat(path); err == nil {
		k, err := readEdgeKey(path, getenv)
		return k, "in " + path, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("edge key file: %w", err)
	}
	key := make([]byte, filter.EdgeKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		k, err := readEdgeKey(path, getenv)
		return k, "in " + path, err
	}
	if err != nil {
		return nil, "", fmt.Errorf("create edge key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, "", fmt.Errorf("write edge key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, "", err
	}
	return key, "generated in " + path + " (give it to every edge as " + xds.EnvEdgeKey + ")", nil
}

// xdsServerTLS is the xDS server's mTLS configuration: the given certificate
// and client CA, or the data directory's (issued on first start).
func xdsServerTLS(dataDir, listen, certPath, keyPath, caPath string) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if certPath != "" || keyPath != "" {
		if cert, err = tls.LoadX509KeyPair(certPath, keyPath); err != nil {
			return nil, fmt.Errorf("--xds-cert/--xds-key: %w", err)
		}
	}
	var ca *pki.CA
	if certPath == "" {
		if cert, ca, err = serverCert(dataDir, xdsServerName, hostsOf(listen)); err != nil {
			return nil, err
		}
	}
	var pool *x509.CertPool
	switch {
	case caPath != "":
		if pool, err = pki.LoadPool(caPath); err != nil {
			return nil, err
		}
	case ca != nil:
		pool = ca.Pool()
	default:
		if ca, _, err = pki.LoadOrCreateCA(filepath.Join(dataDir, pkiDir)); err != nil {
			return nil, err
		}
		pool = ca.Pool()
	}
	return pki.ServerTLS(cert, pool), nil
}
