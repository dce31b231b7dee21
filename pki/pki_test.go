package pki

import (
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNodeIdentity(t *testing.T) {
	u := func(s string) *url.URL { x, _ := url.Parse(s); return x }
	for _, tc := range []struct {
		name string
		uris []*url.URL
		want Identity
		ok   bool
	}{
		{"stable node", []*url.URL{u("spiffe://switchboard/node/stable/edge-1")}, Identity{"edge-1", "stable"}, true},
		{"canary node", []*url.URL{u("spiffe://switchboard/node/canary/e.2_x")}, Identity{"e.2_x", "canary"}, true},
		{"other URIs ignored", []*url.URL{u("https://example.com/"), u("spiffe://switchboard/node/stable/n")}, Identity{"n", "stable"}, true},
		{"no URI", nil, Identity{}, false},
		{"two identities", []*url.URL{u("spiffe://switchboard/node/stable/a"), u("spiffe://switchboard/node/stable/b")}, Identity{}, false},
		{"unknown group", []*url.URL{u("spiffe://switchboard/node/blue/a")}, Identity{}, false},
		{"extra path", []*url.URL{u("spiffe://switchboard/node/stable/a/b")}, Identity{}, false},
		{"bad node id", []*url.URL{u("spiffe://switchboard/node/stable/a%20b")}, Identity{}, false},
		{"other trust domain", []*url.URL{u("spiffe://evil/node/stable/a")}, Identity{}, false},
		{"query", []*url.URL{u("spiffe://switchboard/node/stable/a?x=1")}, Identity{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NodeIdentity(&x509.Certificate{URIs: tc.uris})
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("NodeIdentity = %+v, %v; want %+v ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestIssueAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, created, err := LoadOrCreateCA(dir)
	if err != nil || !created {
		t.Fatalf("create CA: %v %v", created, err)
	}
	again, created, err := LoadOrCreateCA(dir)
	if err != nil || created || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("reload CA: %v %v", created, err)
	}
	node, err := ca.Issue(Request{Node: &Identity{Node: "edge-1", Group: "canary"}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, "edge-1", node); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAKeyFile, "edge-1.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, st.Mode().Perm(), err)
		}
	}
	pair, err := node.TLS()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node certificate does not verify: %v", err)
	}
	if id, err := NodeIdentity(leaf); err != nil || id != (Identity{"edge-1", "canary"}) {
		t.Fatalf("identity %+v %v", id, err)
	}
	if _, err := ca.Issue(Request{Node: &Identity{Node: "bad id", Group: "stable"}, Validity: time.Hour}); err == nil {
		t.Fatal("issued a certificate for an invalid node id")
	}
	if _, err := ca.Issue(Request{Node: &Identity{Node: "n", Group: "blue"}, Validity: time.Hour}); err == nil {
		t.Fatal("issued a certificate for an unknown group")
	}
}
