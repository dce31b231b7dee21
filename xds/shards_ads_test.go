package xds_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

func startShardedController(t *testing.T, env *xdstest.Env, edgeKey []byte, k int) *cp {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := xds.NewController(xds.ControllerConfig{
		Store: env.Store, Keyring: env.Keyring, EdgeKey: edgeKey,
		Resources:    xds.ResourceOptions{IngestAddress: "127.0.0.1:8081", Shards: k},
		PollInterval: 50 * time.Millisecond, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
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
	done := make(chan struct{})
	go func() { _ = c.Serve(ctx, lis); close(done) }()
	t.Cleanup(func() { cancel(); <-done; c.WaitAudit() })
	return &cp{Controller: c, addr: lis.Addr().String(), reg: reg}
}

func names(t *testing.T, resp *discovery.DiscoveryResponse) []string {
	t.Helper()
	var out []string
	for _, a := range resp.GetResources() {
		var ext corev3.TypedExtensionConfig
		if err := a.UnmarshalTo(&ext); err != nil {
			t.Fatal(err)
		}
		out = append(out, ext.GetName())
	}
	return out
}

// TestShardedADSPushesOnlyTheChangedShard: over a real ADS stream, a node
// subscribed to the manifest and every shard gets all of them once, then
// for a revocation only the revoked installation's shard (which loads and
// says revoked), and after a NACK only that shard's previous version.
func TestShardedADSPushesOnlyTheChangedShard(t *testing.T) {
	const k = 16
	env := xdstest.NewEnv(t)
	edgeKey := xdstest.Key()
	org := env.Org(t)
	var insts []store.Installation
	for i := 0; i < 12; i++ {
		insts = append(insts, env.Installation(t, org, "slack", store.PurposeSigning, []byte("signing-secret-"+string(rune('a'+i)))))
	}
	c := startShardedController(t, env, edgeKey, k)
	a := xdstest.DialADS(t, c.addr, "edge-s", "stable")
	r0 := a.Recv(wait) // asked for the manifest only
	if got := names(t, r0); len(got) != 1 || got[0] != xds.FilterName || !xdstest.Contains(r0, `"manifest":true`) {
		t.Fatalf("first response %v", got)
	}
	all := append([]string{xds.FilterName}, xds.ShardNames(k)...)
	a.Subscribe(all, r0.GetVersionInfo(), r0.GetNonce())
	r1 := a.Recv(wait)
	if got := names(t, r1); len(got) != k || r1.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("after subscribing to every shard: %d resources %v (version %s, latest %s)", len(got), got, r1.GetVersionInfo(), c.LatestVersion())
	}
	confs, err := xds.ConfigsFromResponse(r1)
	if err != nil {
		t.Fatal(err)
	}
	set := filter.NewShardSet(k)
	for name, js := range confs {
		e, err := filter.Load(js, edgeKey)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if set, err = set.With(e); err != nil {
			t.Fatal(err)
		}
	}
	if !set.Complete() || set.Len() != len(insts) {
		t.Fatalf("loaded %d shards, %d entries", set.Loaded(), set.Len())
	}
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")

	env.Revoke(t, insts[3].ID)
	sync(t, c)
	r2 := a.Recv(wait)
	want := xds.ShardName(k, filter.ShardOf(insts[3].IngressID, k))
	if got := names(t, r2); len(got) != 1 || got[0] != want || r2.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("after one revocation: %v (%s), want only %s", got, r2.GetVersionInfo(), want)
	}
	confs, _ = xds.ConfigsFromResponse(r2)
	e, err := filter.Load(confs[want], edgeKey)
	if err != nil {
		t.Fatal(err)
	}
	e.SetAttestationKey(xdstest.Key())
	if _, d := e.Lookup("POST", "/v1/hooks/slack/"+insts[3].IngressID); d == nil || d.Reason != filter.ReasonRevoked {
		t.Fatalf("revoked installation: %+v", d)
	}
	if full := proto.Size(r1); proto.Size(r2)*4 > full {
		t.Fatalf("one change sent %d bytes, the whole configuration is %d", proto.Size(r2), full)
	}
	// NACK: the node is rolled back to r1, which for it is that one shard.
	a.Send(r1.GetVersionInfo(), r2.GetNonce(), "shard failed to start")
	r3 := a.Recv(wait)
	if got := names(t, r3); len(got) != 1 || got[0] != want || r3.GetVersionInfo() != r1.GetVersionInfo() {
		t.Fatalf("rollback: %v (%s), want %s at %s", got, r3.GetVersionInfo(), want, r1.GetVersionInfo())
	}
	if !strings.Contains(c.Status().Rejections[0].Error, "shard failed") {
		t.Fatalf("rejections %+v", c.Status().Rejections)
	}
}

// TestShardedHeldGroupGetsRevocationsButNotAdditions is the hold rule with
// shards: a revocation during a hold reaches the held node as the revoked
// installation's shard; the installation added during the hold comes only
// with the promotion.
func TestShardedHeldGroupGetsRevocationsButNotAdditions(t *testing.T) {
	const k = 8
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	first := env.Installation(t, org, "slack", store.PurposeSigning, []byte("s1"))
	c := startShardedController(t, env, xdstest.Key(), k)
	a := xdstest.DialADS(t, c.addr, "edge-h", "stable")
	r0 := a.Recv(wait)
	a.Subscribe(append([]string{xds.FilterName}, xds.ShardNames(k)...), r0.GetVersionInfo(), r0.GetNonce())
	r1 := a.Recv(wait)
	a.Send(r1.GetVersionInfo(), r1.GetNonce(), "")
	ackedBy(t, c, "edge-h", r1.GetVersionInfo())
	if err := c.Hold(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	added := env.Installation(t, org, "slack", store.PurposeSigning, []byte("s2"))
	sync(t, c)
	if v := c.GroupVersion(xds.GroupStable); v != r1.GetVersionInfo() {
		t.Fatalf("an addition moved the held group to %s", v)
	}
	env.Revoke(t, first.ID)
	sync(t, c)
	r2 := a.Recv(wait)
	want := xds.ShardName(k, filter.ShardOf(first.IngressID, k))
	if got := names(t, r2); len(got) != 1 || got[0] != want || !xdstest.Contains(r2, `"revoked":true`) {
		t.Fatalf("held node after a revocation: %v, want only %s, revoked", got, want)
	}
	if xdstest.Contains(r2, added.IngressID) {
		t.Fatal("the held node got the installation added during the hold")
	}
	a.Send(r2.GetVersionInfo(), r2.GetNonce(), "")
	ackedBy(t, c, "edge-h", r2.GetVersionInfo())
	if err := c.Promote(xds.GroupStable); err != nil {
		t.Fatal(err)
	}
	r3 := a.Recv(wait)
	if !xdstest.Contains(r3, added.IngressID) || r3.GetVersionInfo() != c.LatestVersion() {
		t.Fatalf("promoted: %v at %s, want the added installation's shard at %s", names(t, r3), r3.GetVersionInfo(), c.LatestVersion())
	}
}
