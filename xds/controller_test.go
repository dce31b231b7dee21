package xds_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

const wait = 5 * time.Second

type cp struct {
	*xds.Controller
	addr string
	reg  *prometheus.Registry
}

func startController(t *testing.T, st store.Store, env *xdstest.Env, edgeKey []byte, run bool) *cp {
	t.Helper()
	return startControllerTLS(t, st, env, edgeKey, run, nil)
}

func startControllerTLS(t *testing.T, st store.Store, env *xdstest.Env, edgeKey []byte, run bool, tlsCfg *tls.Config) *cp {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := xds.NewController(xds.ControllerConfig{
		Store: st, Keyring: env.Keyring, EdgeKey: edgeKey,
		Resources:    xds.ResourceOptions{IngestAddress: "127.0.0.1:8081"},
		PollInterval: 50 * time.Millisecond, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)), TLS: tlsCfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = c.Serve(ctx, lis); done <- struct{}{} }()
	if run {
		go func() { _ = c.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if run {
			<-done
		}
		c.WaitAudit()
	})
	return &cp{Controller: c, addr: lis.Addr().String(), reg: reg}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func sync(t *testing.T, c *cp) {
	t.Helper()
	if err := c.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func ecdsVersion(t *testing.T, c *cp, node string) string {
	t.Helper()
	snap, err := c.Cache().GetSnapshot(node)
	if err != nil {
		return ""
	}
	return snap.GetVersion(resource.ExtensionConfigType)
}

func TestADSRevocationRotationAndNACK(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey := xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("first-signing-secret"))
	c := startController(t, env.Store, env, edgeKey, false)

	a := xdstest.DialADS(t, c.addr, "edge-1", "stable")
	r1 := a.Recv(wait)
	js, err := xds.ConfigFromResponse(r1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := filter.Load(js, edgeKey); err != nil {
		t.Fatalf("served config does not load: %v", err)
	}
	if !xdstest.Contains(r1, inst.IngressID) || r1.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("first response %s lacks the installation", r1.GetVersionInfo())
	}
	if strings.Contains(string(js), "first-signing-secret") {
		t.Fatal("plaintext secret in the served configuration")
	}
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")

	// Rotation reaches the subscriber.
	newSec := env.Rotate(t, inst.ID, store.PurposeSigning, []byte("second-signing-secret"), time.Now().Add(time.Hour))
	sync(t, c)
	r2 := a.Recv(wait)
	if !xdstest.Contains(r2, newSec) || r2.GetVersionInfo() == r1.GetVersionInfo() {
		t.Fatalf("rotation not served: %s", r2.GetVersionInfo())
	}
	a.Send(r2.GetVersionInfo(), r2.GetNonce(), "")

	// Revocation reaches the subscriber.
	env.Revoke(t, inst.ID)
	sync(t, c)
	r3 := a.Recv(wait)
	var cfg filter.Config
	js, _ = xds.ConfigFromResponse(r3)
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Installations) != 1 || !cfg.Installations[0].Revoked {
		t.Fatalf("revocation not served: %s", js)
	}
	a.Send(r3.GetVersionInfo(), r3.GetNonce(), "")

	// NACK: the node keeps its last ACKed version, the rejected one is not
	// re-sent, and the rejection is visible in status, metrics and audit.
	inst2 := env.Installation(t, org, "telegram", store.PurposeSecretToken, []byte("tg-token"))
	sync(t, c)
	r4 := a.Recv(wait)
	if !xdstest.Contains(r4, inst2.IngressID) {
		t.Fatal("new installation not served")
	}
	a.Send(r3.GetVersionInfo(), r4.GetNonce(), "plugin start failed: bad config")
	deadline := time.Now().Add(wait)
	for len(c.Status().Rejections) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("NACK not recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rej := c.Status().Rejections[0]
	if rej.Node != "edge-1" || rej.Version != r4.GetVersionInfo() || rej.AckedVersion != r3.GetVersionInfo() || !strings.Contains(rej.Error, "bad config") {
		t.Fatalf("rejection = %+v", rej)
	}
	if v := ecdsVersion(t, c, "edge-1"); v != r3.GetVersionInfo() {
		t.Fatalf("node served %s after NACK, want its last ACKed %s", v, r3.GetVersionInfo())
	}
	if got := counterSum(t, c.reg, "switchboard_xds_nacks_total"); got != 1 {
		t.Fatalf("nack counter = %v", got)
	}
	// The node is rolled back: the resources of its ACKed version are sent
	// again (the ECDS cache sends what differs from what the stream was
	// last sent, and Envoy may have applied part of a NACKed response), and
	// the rejected version is never re-sent.
	rb := a.Recv(wait)
	if rb.GetVersionInfo() != r3.GetVersionInfo() {
		t.Fatalf("after NACK got %s, want the rollback to %s", rb.GetVersionInfo(), r3.GetVersionInfo())
	}
	a.Send(rb.GetVersionInfo(), rb.GetNonce(), "")
	// The next response is a new version, not a re-send of the rejected one.
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("third"))
	sync(t, c)
	r5 := a.Recv(wait)
	if r5.GetVersionInfo() == r4.GetVersionInfo() || r5.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("after NACK got %s (rejected %s, latest %s)", r5.GetVersionInfo(), r4.GetVersionInfo(), c.LatestVersion())
	}
	a.Send(r5.GetVersionInfo(), r5.GetNonce(), "")

	c.WaitAudit()
	events, err := env.Store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		if e.Action == "xds.nack" && e.Target == "edge-1" && strings.Contains(e.Detail, r4.GetVersionInfo()) {
			found = true
		}
	}
	if !found {
		t.Fatal("no xds.nack audit event")
	}

	// Status over HTTP (the ACK of r5 is processed asynchronously).
	deadline = time.Now().Add(wait)
	for {
		rec := httptest.NewRecorder()
		c.StatusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/xds/status", nil))
		var st xds.Status
		err := json.Unmarshal(rec.Body.Bytes(), &st)
		if err == nil && len(st.Nodes) == 1 && st.Nodes[0].Acked == r5.GetVersionInfo() && len(st.Rejections) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %d %s (%v)", rec.Code, rec.Body, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFirstConfigNACKServesNothingUntilNewVersion(t *testing.T) {
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	c := startController(t, env.Store, env, xdstest.Key(), false)
	a := xdstest.DialADS(t, c.addr, "edge-n", "stable")
	r1 := a.Recv(wait)
	a.Send("", r1.GetNonce(), "cannot unseal")
	deadline := time.Now().Add(wait)
	for ecdsVersion(t, c, "edge-n") != "" {
		if time.Now().After(deadline) {
			t.Fatal("rejected first version still set for the node")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s2"))
	sync(t, c)
	if r2 := a.Recv(wait); r2.GetVersionInfo() == r1.GetVersionInfo() {
		t.Fatal("rejected version re-sent")
	}
}

func TestCanaryGroupGetsNewConfigFirst(t *testing.T) {
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	c := startController(t, env.Store, env, xdstest.Key(), false)
	stable := xdstest.DialADS(t, c.addr, "edge-s", "stable")
	canary := xdstest.DialADS(t, c.addr, "edge-c", "canary")
	s1, c1 := stable.Recv(wait), canary.Recv(wait)
	stable.Send(s1.GetVersionInfo(), s1.GetNonce(), "")
	canary.Send(c1.GetVersionInfo(), c1.GetNonce(), "")
	if s1.GetVersionInfo() != c1.GetVersionInfo() {
		t.Fatal("groups start on different versions")
	}
	if err := c.Hold(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("s2"))
	sync(t, c)
	c2 := canary.Recv(wait)
	if !xdstest.Contains(c2, inst.IngressID) {
		t.Fatal("canary did not get the new configuration")
	}
	canary.Send(c2.GetVersionInfo(), c2.GetNonce(), "")
	if v := ecdsVersion(t, c, "edge-s"); v != s1.GetVersionInfo() {
		t.Fatalf("held stable node moved to %s", v)
	}
	if got := c.GroupVersion(xds.GroupStable); got != s1.GetVersionInfo() {
		t.Fatalf("stable group version %s", got)
	}
	if err := c.Promote(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	if s2 := stable.Recv(wait); s2.GetVersionInfo() != c2.GetVersionInfo() {
		t.Fatalf("promoted stable got %s, want %s", s2.GetVersionInfo(), c2.GetVersionInfo())
	}
	if err := c.SetGroupVersion("blue", ""); err == nil {
		t.Fatal("unknown group accepted")
	}
	if err := c.SetGroupVersion(xds.GroupStable, "nope"); err == nil {
		t.Fatal("unknown version accepted")
	}
}

// Two control-plane replicas on one database (SQLite file, PostgreSQL): a
// change made through one store handle is served by the other replica, with
// the same version.
func TestReplicasConverge(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testReplicasConverge(t, xdstest.NewEnv(t)) })
	t.Run("postgres", func(t *testing.T) { testReplicasConverge(t, xdstest.NewPostgresEnv(t)) })
}

func testReplicasConverge(t *testing.T, env *xdstest.Env) {
	org := env.Org(t)
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	edgeKey := xdstest.Key()
	c1 := startController(t, env.Store, env, edgeKey, true)
	other := env.Reopen(t)
	c2 := startController(t, other, env, edgeKey, true)
	if c1.LatestVersion() != c2.LatestVersion() {
		t.Fatalf("replicas disagree: %s vs %s", c1.LatestVersion(), c2.LatestVersion())
	}
	a := xdstest.DialADS(t, c2.addr, "edge-r", "stable")
	r1 := a.Recv(wait)
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")
	inst := env.Installation(t, org, "discord", store.PurposePublicKey, make([]byte, 32)) // through replica 1's handle
	r2 := a.Recv(wait)
	if !xdstest.Contains(r2, inst.IngressID) {
		t.Fatal("replica 2 did not serve the change")
	}
	deadline := time.Now().Add(wait)
	for c1.LatestVersion() != r2.GetVersionInfo() {
		if time.Now().After(deadline) {
			t.Fatalf("replica 1 at %s, replica 2 served %s", c1.LatestVersion(), r2.GetVersionInfo())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// A rebuild that happens while a node's ACK is still in flight must not
// forget the version the node runs: when the node then NACKs the newer
// version, it is rolled back to that one, not left with nothing.
func TestNACKAfterRebuildDuringInflightACK(t *testing.T) {
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	c := startController(t, env.Store, env, xdstest.Key(), false)
	a := xdstest.DialADS(t, c.addr, "edge-i", "stable")
	r1 := a.Recv(wait)
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s2"))
	sync(t, c)
	r2 := a.Recv(wait)
	// r3 is built before the ACK of r2 reaches the control plane.
	env.Installation(t, org, "slack", store.PurposeSigning, []byte("s3"))
	sync(t, c)
	a.Send(r2.GetVersionInfo(), r2.GetNonce(), "")
	r3 := a.Recv(wait)
	if r3.GetVersionInfo() == r2.GetVersionInfo() || r3.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("got %s after ACK of %s, want the latest %s", r3.GetVersionInfo(), r2.GetVersionInfo(), c.LatestVersion())
	}
	a.Send(r2.GetVersionInfo(), r3.GetNonce(), "cannot load")
	deadline := time.Now().Add(wait)
	for ecdsVersion(t, c, "edge-i") != r2.GetVersionInfo() {
		if time.Now().After(deadline) {
			t.Fatalf("after NACK of %s the node is served %q, want %s", r3.GetVersionInfo(), ecdsVersion(t, c, "edge-i"), r2.GetVersionInfo())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := c.Status(); len(st.Nodes) != 1 || st.Nodes[0].Acked != r2.GetVersionInfo() || st.Nodes[0].Rejected != r3.GetVersionInfo() {
		t.Fatalf("status %+v", st.Nodes)
	}
}

// A held group still gets every change that refuses more: a revocation made
// during a hold reaches stable nodes at once, while a new installation waits
// for the promotion.
func TestHeldGroupGetsRevocationsButNotAdditions(t *testing.T) {
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	first := env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	c := startController(t, env.Store, env, xdstest.Key(), false)
	stable := xdstest.DialADS(t, c.addr, "edge-s", "stable")
	s1 := stable.Recv(wait)
	stable.Send(s1.GetVersionInfo(), s1.GetNonce(), "")
	if err := c.Hold(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	added := env.Installation(t, org, "slack", store.PurposeSigning, []byte("s2"))
	sync(t, c)
	if v := ecdsVersion(t, c, "edge-s"); v != s1.GetVersionInfo() {
		t.Fatalf("an addition moved the held stable node to %s", v)
	}
	env.Revoke(t, first.ID)
	sync(t, c)
	s2 := stable.Recv(wait)
	js, err := xds.ConfigFromResponse(s2)
	if err != nil {
		t.Fatal(err)
	}
	var cfg filter.Config
	if err := json.Unmarshal(js, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Installations) != 1 || cfg.Installations[0].IngressID != first.IngressID || !cfg.Installations[0].Revoked {
		t.Fatalf("held stable node after a revocation: %+v", cfg.Installations)
	}
	if xdstest.Contains(s2, added.IngressID) {
		t.Fatal("the held stable node got the installation added during the hold")
	}
	stable.Send(s2.GetVersionInfo(), s2.GetNonce(), "")
	if err := c.Promote(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	if s3 := stable.Recv(wait); !xdstest.Contains(s3, added.IngressID) || s3.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("promoted stable got %s, want the latest %s with the added installation", s3.GetVersionInfo(), c.LatestVersion())
	}
}

// ackedBy waits (on the ACK's processing, not a clock) until node reports version as ACKed.
func ackedBy(t *testing.T, c *cp, node, version string) {
	t.Helper()
	for i := 0; ; i++ {
		for _, n := range c.Status().Nodes {
			if n.ID == node && n.Acked == version {
				return
			}
		}
		if i > 5000 {
			t.Fatalf("node %s never ACKed %s", node, version)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIngressOnNodes: a node has an ingress only in the version it ACKed.
func TestIngressOnNodes(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey := xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("first-signing-secret"))
	c := startController(t, env.Store, env, edgeKey, false)
	if got := c.IngressOnNodes(inst.IngressID); len(got) != 0 {
		t.Fatalf("no node connected: %+v", got)
	}
	a := xdstest.DialADS(t, c.addr, "edge-1", "stable")
	r1 := a.Recv(wait)
	for _, n := range c.Status().Nodes {
		if n.ID == "edge-1" && n.Acked != "" {
			t.Fatalf("acked before the ACK: %+v", n)
		}
	}
	if got := c.IngressOnNodes(inst.IngressID); len(got) != 1 || got[0].Present {
		t.Fatalf("before the ACK: %+v", got)
	}
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")
	ackedBy(t, c, "edge-1", r1.GetVersionInfo())
	got := c.IngressOnNodes(inst.IngressID)
	if len(got) != 1 || !got[0].Present || got[0].Revoked || got[0].Secrets != 1 || got[0].AckedVersion != r1.GetVersionInfo() {
		t.Fatalf("after the ACK: %+v", got)
	}
	if other := c.IngressOnNodes("00000000000000000000000000000000"); other[0].Present {
		t.Fatalf("unknown ingress present: %+v", other)
	}
	env.Revoke(t, inst.ID)
	sync(t, c)
	r2 := a.Recv(wait)
	if got := c.IngressOnNodes(inst.IngressID); got[0].Revoked {
		t.Fatalf("revoked before the node ACKed it: %+v", got)
	}
	a.Send(r2.GetVersionInfo(), r2.GetNonce(), "")
	ackedBy(t, c, "edge-1", r2.GetVersionInfo())
	if got := c.IngressOnNodes(inst.IngressID); !got[0].Revoked {
		t.Fatalf("revocation ACKed but not reported: %+v", got)
	}
}
