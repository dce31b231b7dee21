package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/pki"
)

// The deployment's private CA and certificates live in <data-dir>/pki.
const (
	pkiDir        = "pki"
	xdsServerName = "xds-server" // the control plane's xDS server certificate
	ingestName    = "ingest-server"
	certValidity  = 365 * 24 * time.Hour
)

func init() {
	register(command{name: "certs", usage: "the private CA: `certs issue --node ID [--group G]` makes an edge node certificate (xDS and ingest mTLS)", run: func(ctx context.Context, args []string) error {
		return certsMain(args, os.Stdout, os.Stderr)
	}})
}

func certsMain(args []string, out, errOut io.Writer) error {
	if len(args) == 0 || args[0] != "issue" {
		fmt.Fprintln(errOut, "usage: switchboard certs issue --node ID [--group stable|canary] [--out DIR] [--data-dir DIR]\n       switchboard certs issue --server NAME --hosts HOST,... [--out DIR]   (e.g. ingest's certificate for the mTLS hop)")
		return exitError{code: 2}
	}
	fs := flag.NewFlagSet("certs issue", flag.ContinueOnError)
	fs.SetOutput(errOut)
	so := addStoreFlags(fs)
	node := fs.String("node", "", "node id the certificate names (the edge's xDS node id)")
	group := fs.String("group", "stable", "node group: stable or canary (the control plane takes it from the certificate)")
	outDir := fs.String("out", "", "directory for <node>.crt, <node>.key (0600) and ca.crt (default <data-dir>/pki/nodes)")
	validity := fs.Duration("validity", certValidity, "how long the certificate is valid")
	server := fs.String("server", "", "issue a server certificate (no node identity) named NAME instead, for --hosts")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IP addresses of a --server certificate")
	if err := fs.Parse(args[1:]); err != nil {
		return exitError{code: 2}
	}
	if (*node == "") == (*server == "") {
		return errors.New("certs issue: give --node ID (an edge node) or --server NAME (with --hosts)")
	}
	var hostList []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	if *server != "" && len(hostList) == 0 {
		return errors.New("certs issue --server: --hosts is required")
	}
	ca, _, err := pki.LoadOrCreateCA(filepath.Join(so.DataDir, pkiDir))
	if err != nil {
		return err
	}
	dir := *outDir
	if dir == "" {
		dir = filepath.Join(so.DataDir, pkiDir, "nodes")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	req, name := pki.Request{Node: &pki.Identity{Node: *node, Group: *group}, Validity: *validity}, *node
	if *server != "" {
		if err := pki.CheckNodeID(*server); err != nil {
			return fmt.Errorf("--server: %w", err)
		}
		req, name = pki.Request{Hosts: hostList, Validity: *validity}, *server
	}
	is, err := ca.Issue(req)
	if err != nil {
		return err
	}
	if err := pki.WriteFiles(dir, name, is); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, pki.CACertFile), ca.PEM, 0o644); err != nil {
		return err
	}
	if *server != "" {
		fmt.Fprintf(out, "issued server certificate %s for %s: %s, %s (key 0600), CA %s\n", name, strings.Join(hostList, ", "),
			filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), filepath.Join(dir, pki.CACertFile))
		return nil
	}
	fmt.Fprintf(out, "issued node %s (%s): %s, %s (key 0600), CA %s\n", *node, *group,
		filepath.Join(dir, *node+".crt"), filepath.Join(dir, *node+".key"), filepath.Join(dir, pki.CACertFile))
	fmt.Fprintf(out, "edge: switchboard edge --xds-cert %s --xds-key %s --xds-ca %s ...\n",
		filepath.Join(dir, *node+".crt"), filepath.Join(dir, *node+".key"), filepath.Join(dir, pki.CACertFile))
	return nil
}

// serverCert loads (or issues into <data-dir>/pki) a server certificate for
// hosts, signed by the deployment's CA. It returns it with the CA pool.
func serverCert(dataDir, name string, hosts []string) (tls.Certificate, *pki.CA, error) {
	dir := filepath.Join(dataDir, pkiDir)
	ca, _, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	crt, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if c, err := tls.LoadX509KeyPair(crt, key); err == nil {
		return c, ca, nil
	}
	is, err := ca.Issue(pki.Request{Hosts: hosts, Validity: certValidity})
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	if err := pki.WriteFiles(dir, name, is); err != nil {
		return tls.Certificate{}, nil, err
	}
	c, err := is.TLS()
	return c, ca, err
}

// hostsOf are the names a server certificate for listen address addr needs.
func hostsOf(addr string) []string {
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if h := addr[:max(0, strings.LastIndexByte(addr, ':'))]; h != "" && h != "127.0.0.1" && h != "0.0.0.0" && h != "[::]" {
		hosts = append(hosts, strings.Trim(h, "[]"))
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	return hosts
}

// nodeTLS reads an edge's node certificate, key and CA bundle (flags of
// edge), as the client TLS configuration of its xDS and ingest hops.
func nodeTLS(certPath, keyPath, caPath string) (*tls.Config, error) {
	if certPath == "" || keyPath == "" || caPath == "" {
		return nil, errors.New("xDS runs over mTLS: give --xds-cert, --xds-key and --xds-ca (`switchboard certs issue --node ID` makes them), or --insecure-xds for plaintext")
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("node certificate: %w", err)
	}
	pool, err := pki.LoadPool(caPath)
	if err != nil {
		return nil, err
	}
	return pki.ClientTLS(cert, pool), nil
}
