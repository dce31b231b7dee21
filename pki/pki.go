// Package pki is the private certificate authority of a deployment: it
// issues the certificates our own hops authenticate each other with (xDS
// over mTLS between the control plane and the edge nodes, and the edge ->
// ingest hop), and reads a node's identity from its certificate.
//
// A node certificate names its node in one SAN URI,
//
//	spiffe://switchboard/node/<group>/<node id>
//
// and the control plane takes the node's id and group from it, never from
// the node id the node declares. Keys are ECDSA P-256, written 0600.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// URIScheme and URIHost start every node identity URI.
const (
	URIScheme = "spiffe"
	URIHost   = "switchboard"
)

// Groups a node may be in (xds.GroupStable, xds.GroupCanary).
var Groups = []string{"stable", "canary"}

// Identity is a node's identity, read from its certificate.
type Identity struct {
	Node  string
	Group string
}

// URI is the identity's SAN URI.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: URIScheme, Host: URIHost, Path: "/node/" + id.Group + "/" + id.Node}
}

// ErrNoIdentity is wrapped when a certificate names no node.
var ErrNoIdentity = errors.New("pki: certificate names no switchboard node (want one SAN URI spiffe://switchboard/node/<group>/<node>)")

// CheckNodeID validates a node id: 1-128 of letters, digits, '.', '-', '_'.
func CheckNodeID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("node id must be 1-128 characters, got %d", len(id))
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("node id %q: only letters, digits, '.', '-' and '_'", id)
		}
	}
	return nil
}

// CheckGroup validates a node group.
func CheckGroup(g string) error {
	for _, x := range Groups {
		if g == x {
			return nil
		}
	}
	return fmt.Errorf("node group %q: want one of %s", g, strings.Join(Groups, ", "))
}

// NodeIdentity reads the node identity of a (verified) certificate: exactly
// one SAN URI of the node form, with a valid group and node id.
func NodeIdentity(cert *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range cert.URIs {
		if u.Scheme != URIScheme || u.Host != URIHost || !strings.HasPrefix(u.Path, "/node/") {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/node/"), "/")
		if len(parts) != 2 || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return Identity{}, fmt.Errorf("%w: malformed %s", ErrNoIdentity, u)
		}
		id := Identity{Group: parts[0], Node: parts[1]}
		if err := CheckGroup(id.Group); err != nil {
			return Identity{}, fmt.Errorf("%w: %v", ErrNoIdentity, err)
		}
		if err := CheckNodeID(id.Node); err != nil {
			return Identity{}, fmt.Errorf("%w: %v", ErrNoIdentity, err)
		}
		found = append(found, id)
	}
	if len(found) != 1 {
		return Identity{}, ErrNoIdentity
	}
	return found[0], nil
}

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	PEM  []byte // the certificate, PEM
}

// Pool is a CertPool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// NewCA makes a self-signed CA valid for validity.
func NewCA(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: name, Organization: []string{"switchboard"}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Issued is a certificate and its key, PEM.
type Issued struct {
	CertPEM, KeyPEM []byte
}

// TLS is the issued pair as a tls.Certificate.
func (i Issued) TLS() (tls.Certificate, error) { return tls.X509KeyPair(i.CertPEM, i.KeyPEM) }

// Request describes a certificate to issue: a node (Node set: client and
// server use, SAN URI of its identity) or a server (Hosts: DNS names and IP
// addresses it is reached at).
type Request struct {
	Node     *Identity
	Hosts    []string
	Validity time.Duration
}

// Issue signs a certificate for r.
func (ca *CA) Issue(r Request) (Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Issued{}, err
	}
	if r.Validity <= 0 {
		return Issued{}, errors.New("pki: validity must be positive")
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(r.Validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if r.Node != nil {
		if err := CheckNodeID(r.Node.Node); err != nil {
			return Issued{}, fmt.Errorf("pki: %w", err)
		}
		if err := CheckGroup(r.Node.Group); err != nil {
			return Issued{}, fmt.Errorf("pki: %w", err)
		}
		tmpl.Subject = pkix.Name{CommonName: r.Node.Node, OrganizationalUnit: []string{r.Node.Group}, Organization: []string{"switchboard"}}
		tmpl.URIs = []*url.URL{r.Node.URI()}
	} else {
		tmpl.Subject = pkix.Name{CommonName: "switchboard server", Organization: []string{"switchboard"}}
	}
	for _, h := range r.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return Issued{}, fmt.Errorf("pki: issue: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}, nil
}

// Files of a CA directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// LoadOrCreateCA reads the CA in dir (ca.crt, ca.key), or creates it there
// (directory 0700, key 0600). created reports a new CA.
func LoadOrCreateCA(dir string) (ca *CA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		ca, err := LoadCA(certPath, keyPath)
		return ca, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("pki: %w", err)
	}
	ca, err = NewCA("switchboard private CA", 10*365*24*time.Hour)
	if err != nil {
		return nil, false, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, false, err
	}
	if err := WriteFiles(dir, "ca", Issued{CertPEM: ca.PEM, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// LoadCA reads a CA certificate and its key.
func LoadCA(certPath, keyPath string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok || !cert.IsCA {
		return nil, errors.New("pki: not an ECDSA CA")
	}
	b, _ := os.ReadFile(certPath)
	return &CA{Cert: cert, Key: key, PEM: b}, nil
}

// WriteFiles writes <dir>/<name>.crt (0644) and <dir>/<name>.key (0600).
func WriteFiles(dir, name string, i Issued) error {
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), i.CertPEM, 0o644); err != nil {
		return fmt.Errorf("pki: write certificate: %w", err)
	}
	kp := filepath.Join(dir, name+".key")
	if err := os.WriteFile(kp, i.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("pki: write key: %w", err)
	}
	return os.Chmod(kp, 0o600) // an existing file keeps its mode otherwise
}

// LoadPool reads a PEM CA bundle.
func LoadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: CA bundle: %w", err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("pki: %s holds no PEM certificate", path)
	}
	return p, nil
}

// ServerTLS is the TLS configuration of a server that requires client
// certificates signed by clientCAs (TLS 1.3).
func ServerTLS(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clientCAs,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
}

// ClientTLS is the TLS configuration of a client presenting cert and
// trusting only roots.
func ClientTLS(cert tls.Certificate, roots *x509.CertPool) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS13}
}

// PeerIdentity is the node identity of a TLS connection's verified client
// certificate.
func PeerIdentity(cs *tls.ConnectionState) (Identity, error) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return Identity{}, errors.New("pki: no verified client certificate")
	}
	return NodeIdentity(cs.VerifiedChains[0][0])
}
