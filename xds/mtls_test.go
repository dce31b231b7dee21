package xds_test

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/switchboard-dev/switchboard/pki"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

type testPKI struct {
	ca     *pki.CA
	server tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.Issue(pki.Request{Hosts: []string{"127.0.0.1", "localhost"}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := srv.TLS()
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{ca: ca, server: cert}
}

func (p *testPKI) node(t *testing.T, ca *pki.CA, id, group string) credentials.TransportCredentials {
	t.Helper()
	is, err := ca.Issue(pki.Request{Node: &pki.Identity{Node: id, Group: group}, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := is.TLS()
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(pki.ClientTLS(cert, p.ca.Pool()))
}

func nodeStatus(c *cp, id string) (xds.NodeStatus, bool) {
	for _, n := range c.Status().Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return xds.NodeStatus{}, false
}

// TestADSOverMTLS: with TLS the control plane serves only nodes presenting a
// certificate of its CA; a node's group comes from its certificate, not from
// its metadata; a node may subscribe, ACK and NACK only as itself — a NACK
// naming another node is refused and changes nothing for that node.
func TestADSOverMTLS(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey := xdstest.Key()
	org := env.Org(t)
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("signing-secret"))
	p := newTestPKI(t)
	c := startControllerTLS(t, env.Store, env, edgeKey, false, pki.ServerTLS(p.server, p.ca.Pool()))

	// Node A's certificate says stable; its metadata claims canary.
	a := xdstest.DialADSWith(t, c.addr, "edge-a", "canary", p.node(t, p.ca, "edge-a", "stable"))
	ra := a.Recv(wait)
	a.Send(ra.GetVersionInfo(), ra.GetNonce(), "")
	b := xdstest.DialADSWith(t, c.addr, "edge-b", "canary", p.node(t, p.ca, "edge-b", "canary"))
	rb := b.Recv(wait)
	b.Send(rb.GetVersionInfo(), rb.GetNonce(), "")
	deadline := time.Now().Add(wait)
	for {
		na, okA := nodeStatus(c, "edge-a")
		nb, okB := nodeStatus(c, "edge-b")
		if okA && okB && na.Acked != "" && nb.Acked != "" {
			if na.Group != xds.GroupStable || nb.Group != xds.GroupCanary {
				t.Fatalf("groups: edge-a %s (want stable, from its certificate), edge-b %s", na.Group, nb.Group)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes did not ACK: %+v", c.Status().Nodes)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A NACKs as B: refused, B keeps its ACKed version and no rejection.
	if err := a.SendAs("edge-b", ra.GetVersionInfo(), ra.GetNonce(), "pin edge-b to an old build"); err != nil {
		t.Fatal(err)
	}
	if err := a.Err(wait); status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "only as itself") {
		t.Fatalf("NACK as another node: %v, want PermissionDenied", err)
	}
	if nb, _ := nodeStatus(c, "edge-b"); nb.Rejected != "" || nb.Acked != rb.GetVersionInfo() {
		t.Fatalf("edge-b changed by another node's NACK: %+v", nb)
	}
	for _, r := range c.Status().Rejections {
		if r.Node == "edge-b" {
			t.Fatalf("rejection recorded for edge-b: %+v", r)
		}
	}

	// Subscribing as another node from the start is refused too.
	x := xdstest.DialADSWith(t, c.addr, "edge-b", "canary", p.node(t, p.ca, "edge-c", "stable"))
	if err := x.Err(wait); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("subscribe as another node: %v, want PermissionDenied", err)
	}

	// No certificate, a certificate of another CA, or plaintext: no stream.
	other, _ := pki.NewCA("other CA", time.Hour)
	noCert := credentials.NewTLS(&tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS13})
	for name, creds := range map[string]credentials.TransportCredentials{
		"no client certificate": noCert, "another CA": p.node(t, other, "edge-a", "stable"), "plaintext": insecure.NewCredentials(),
	} {
		s := xdstest.DialADSWith(t, c.addr, "edge-a", "stable", creds)
		if err := s.Err(wait); err == nil {
			t.Errorf("%s: stream stayed open", name)
		}
	}
}
