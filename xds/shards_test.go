package xds

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-dev/switchboard/filter"
)

var shardedOpts = func() ResourceOptions { o := testOpts; o.Shards = 4; return o }()

func TestShardName(t *testing.T) {
	if got := ShardName(1024, 7); got != "switchboard-verify-shard-1024-0007" {
		t.Fatalf("ShardName = %q", got)
	}
	if got := ShardName(4, 3); got != "switchboard-verify-shard-4-3" {
		t.Fatalf("ShardName = %q", got)
	}
	for _, name := range []string{ShardName(1024, 0), ShardName(1024, 1023), ShardName(65536, 65535)} {
		k, j, ok := ParseShardName(name)
		if !ok || ShardName(k, j) != name {
			t.Fatalf("ParseShardName(%q) = %d, %d, %v", name, k, j, ok)
		}
	}
	for _, bad := range []string{FilterName, FilterName + "-shard-4-4", FilterName + "-shard-4-03", FilterName + "-shard-1-0", FilterName + "-shard-x-1", "other-shard-4-1"} {
		if _, _, ok := ParseShardName(bad); ok {
			t.Errorf("ParseShardName(%q) accepted", bad)
		}
	}
}

// TestShardedResourcesGolden: with K shards the ECDS resources are the
// manifest and K shards, each a valid TypedExtensionConfig (generated
// validators, recursively through every Any, and strict protojson), each
// loading in the filter core, together holding exactly the whole
// configuration, with no plaintext; the golden file pins them.
func TestShardedResourcesGolden(t *testing.T) {
	cfg, err := EdgeConfig(fixture(), testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	// Every shard of a loadable state passes the control plane's own load
	// check (the fixture's Discord keys are not real keys).
	if _, _, err := buildECDS(mustEdgeConfig(t, benchState(40)), shardedOpts, testEdgeKey); err != nil {
		t.Fatal(err)
	}
	set, _, err := buildECDS(cfg, shardedOpts, nil)
	if err != nil {
		t.Fatal(err)
	}
	real, err := BuildResources(cfg, shardedOpts)
	if err != nil {
		t.Fatal(err)
	}
	exts := real[resource.ExtensionConfigType]
	if len(exts) != 5 || len(set.res) != 5 {
		t.Fatalf("%d ECDS resources (%d in the set), want the manifest and 4 shards", len(exts), len(set.res))
	}
	seen := map[string]bool{}
	for _, typ := range real {
		for _, r := range typ {
			if err := StrictRoundTrip(r); err != nil {
				t.Error(err)
			}
			if err := DeepValidate(r); err != nil {
				t.Error(err)
			}
		}
	}
	y := resourcesYAML(t, real)
	for _, s := range fixture().Secrets {
		if strings.Contains(string(y), string(s.Plaintext)) {
			t.Errorf("plaintext of %s in the resources", s.ID)
		}
	}
	for _, r := range exts {
		ext := r.(*corev3.TypedExtensionConfig)
		var w wasmfilterv3.Wasm
		if err := ext.GetTypedConfig().UnmarshalTo(&w); err != nil {
			t.Fatal(err)
		}
		pc := w.GetConfig()
		if pc.GetName() != ext.GetName() || pc.GetRootId() != ext.GetName() || pc.GetVmConfig().GetVmId() != FilterName ||
			pc.GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED {
			t.Fatalf("%s: plugin %s root %s vm %s policy %v", ext.GetName(), pc.GetName(), pc.GetRootId(), pc.GetVmConfig().GetVmId(), pc.GetFailurePolicy())
		}
		confs, err := ConfigsFromResponse(&discovery.DiscoveryResponse{Resources: set.anys(ext.GetName())})
		if err != nil {
			t.Fatal(err)
		}
		sc0, err := filter.ParseConfig(confs[ext.GetName()])
		if err != nil {
			t.Fatalf("%s does not parse: %v", ext.GetName(), err)
		}
		j, k, manifest := sc0.Shard, sc0.Shards, sc0.Manifest
		if ext.GetName() == FilterName {
			if !manifest || k != 4 {
				t.Fatalf("manifest: %d %d %v", j, k, manifest)
			}
			continue
		}
		if manifest || k != 4 || ShardName(4, j) != ext.GetName() {
			t.Fatalf("%s holds shard %d of %d", ext.GetName(), j, k)
		}
		var sc filter.Config
		if err := json.Unmarshal(confs[ext.GetName()], &sc); err != nil {
			t.Fatal(err)
		}
		for _, in := range sc.Installations {
			if seen[in.IngressID] || filter.ShardOf(in.IngressID, 4) != j {
				t.Fatalf("%s in %s", in.IngressID, ext.GetName())
			}
			seen[in.IngressID] = true
		}
	}
	if len(seen) != len(cfg.Installations) {
		t.Fatalf("shards hold %d installations, the configuration %d", len(seen), len(cfg.Installations))
	}
	res, err := BuildResources(canonical(cfg), shardedOpts)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "sharded.golden.yaml", resourcesYAML(t, res))
}

func mustEdgeConfig(t *testing.T, st *State) filter.Config {
	t.Helper()
	cfg, err := EdgeConfig(st, testEdgeKey, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// anys is the encoded resource name of the set (a one-resource response).
func (s *ecdsSet) anys(name string) []*anypb.Any { return []*anypb.Any{s.res[name].any} }

// TestShardedListenerFailsClosed: the manifest's filter is the one that
// runs (enabled, ECDS only, no default); every shard's filter is disabled,
// ECDS only, with no default config (Envoy waits for it while warming, and
// a shard that never arrives leaves its requests refused by the verifier).
func TestShardedListenerFailsClosed(t *testing.T) {
	res, err := BuildResources(filter.Config{Installations: []filter.Installation{}}, shardedOpts)
	if err != nil {
		t.Fatal(err)
	}
	lis := res[resource.ListenerType][0].(*listenerv3.Listener)
	var hcm hcmv3.HttpConnectionManager
	if err := lis.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(&hcm); err != nil {
		t.Fatal(err)
	}
	fs := hcm.GetHttpFilters()
	if len(fs) != 6 || fs[0].GetName() != FilterName || fs[5].GetName() != "envoy.filters.http.router" {
		t.Fatalf("http filters %v: want the verifier, 4 shards, the router", fs)
	}
	if fs[0].GetDisabled() || fs[0].GetIsOptional() {
		t.Fatal("verifier disabled or optional")
	}
	for j, f := range fs[:5] {
		cd := f.GetConfigDiscovery()
		if cd == nil || cd.GetDefaultConfig() != nil || cd.GetApplyDefaultConfigWithoutWarming() ||
			len(cd.GetTypeUrls()) != 1 || cd.GetTypeUrls()[0] != WasmTypeURL || cd.GetConfigSource().GetAds() == nil || f.GetIsOptional() {
			t.Fatalf("filter %s: config_discovery %v", f.GetName(), cd)
		}
		if j > 0 && (f.GetName() != ShardName(4, j-1) || !f.GetDisabled()) {
			t.Fatalf("filter %d is %s (disabled %v), want %s disabled", j, f.GetName(), f.GetDisabled(), ShardName(4, j-1))
		}
	}
	names, err := ReferencedExtensionConfigs(res[resource.ListenerType])
	if err != nil || len(names) != 5 || len(res[resource.ExtensionConfigType]) != 5 {
		t.Fatalf("referenced %v (%v), %d ECDS resources", names, err, len(res[resource.ExtensionConfigType]))
	}
}

// TestShardedBuildReusesUnchangedShards: a controller build after one
// installation changed encodes, checks and marshals that installation's
// shard only; the other shards and the manifest are the same resources.
func TestShardedBuildReusesUnchangedShards(t *testing.T) {
	opts := testOpts
	opts.Shards = 16
	c := &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: opts}}
	st := benchState(200)
	now := time.Now()
	b1, err := c.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.shards.builds != 16 || len(b1.ecds.res) != 17 {
		t.Fatalf("first build: %d shards built, %d resources", c.shards.builds, len(b1.ecds.res))
	}
	st.Installations[70].RevokedAt = &now
	b2, err := c.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.shards.builds != 17 {
		t.Fatalf("one change built %d shards", c.shards.builds-16)
	}
	changed := ShardName(16, filter.ShardOf(st.Installations[70].IngressID, 16))
	for name, r := range b2.ecds.res {
		same := b1.ecds.res[name].version == r.version
		if same == (name == changed) || (same && name != FilterName && b1.ecds.res[name] != r) {
			t.Fatalf("%s: reused %v (changed shard %s)", name, same, changed)
		}
	}
	if b1.version == b2.version || b2.config().Version != b2.version || len(b2.config().Installations) != 200 {
		t.Fatalf("versions %s %s, cfg %s with %d entries", b1.version, b2.version, b2.config().Version, len(b2.config().Installations))
	}
	// Back to the first state: the first build's version again (replicas agree).
	st.Installations[70].RevokedAt = nil
	b3, err := c.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	if b3.version != b1.version {
		t.Fatalf("same state, version %s then %s", b1.version, b3.version)
	}
	// A replica (another controller, its own random seals) gives every
	// resource the same version: a node moving to it is sent nothing.
	r := &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: opts}}
	rb, err := r.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, res := range b3.ecds.res {
		if rb.ecds.res[name].version != res.version {
			t.Fatalf("%s: version %s on one replica, %s on another", name, res.version, rb.ecds.res[name].version)
		}
	}
	// The uncached path (BuildResources, NewSnapshot) gives the same version.
	snap, err := NewSnapshot(b1.config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if v := snap.GetVersion(resource.ExtensionConfigType); v != b1.version {
		t.Fatalf("NewSnapshot version %s, Build %s", v, b1.version)
	}
}

// TestECDSCacheSendsOnlyChangedResources drives the ECDS cache the way the
// go-control-plane SotW server does (a subscription that records what each
// response returned).
func TestECDSCacheSendsOnlyChangedResources(t *testing.T) {
	opts := testOpts
	opts.Shards = 8
	c := &Controller{cfg: ControllerConfig{EdgeKey: testEdgeKey, Resources: opts}}
	st := benchState(64)
	now := time.Now()
	b1, err := c.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	st.Installations[5].RevokedAt = &now
	b2, err := c.Build(st, now)
	if err != nil {
		t.Fatal(err)
	}
	changed := ShardName(8, filter.ShardOf(st.Installations[5].IngressID, 8))
	names := append([]string{FilterName}, ShardNames(8)...)
	ec := newECDSCache()
	ec.remember(b1.ecds)
	ec.remember(b2.ecds)
	req := func(version string) *cache.Request {
		return &cache.Request{Node: &corev3.Node{Id: "n1"}, TypeUrl: resource.ExtensionConfigType, ResourceNames: names, VersionInfo: version}
	}
	ch := make(chan cache.Response, 4)
	sub := stream.NewSotwSubscription(names, false)
	recv := func() *ecdsResponse {
		t.Helper()
		select {
		case r := <-ch:
			sub.SetReturnedResources(r.GetReturnedResources()) // what the server does on send
			return r.(*ecdsResponse)
		default:
			return nil
		}
	}
	resourceNames := func(r *ecdsResponse) []string {
		var out []string
		for _, a := range r.resources {
			var ext corev3.TypedExtensionConfig
			if err := a.UnmarshalTo(&ext); err != nil {
				t.Fatal(err)
			}
			out = append(out, ext.GetName())
		}
		return out
	}
	// Nothing served yet: the watch waits.
	if _, err := ec.CreateWatch(req(""), &sub, ch); err != nil {
		t.Fatal(err)
	}
	if recv() != nil {
		t.Fatal("answered before anything was served")
	}
	ec.setNode("n1", b1.ecds)
	r := recv()
	if r == nil || len(r.resources) != 9 || r.version != b1.version {
		t.Fatalf("first response: %+v", r)
	}
	// ACK: the next watch waits; the change sends the changed shard only.
	if _, err := ec.CreateWatch(req(b1.version), &sub, ch); err != nil {
		t.Fatal(err)
	}
	if recv() != nil {
		t.Fatal("answered with nothing changed")
	}
	ec.setNode("n1", b2.ecds)
	r = recv()
	if r == nil || strings.Join(resourceNames(r), ",") != changed || r.version != b2.version {
		t.Fatalf("after one change: %v (%s), want only %s", resourceNames(r), r.version, changed)
	}
	// NACK, rollback to b1: that shard's b1 version, nothing else.
	ec.setNode("n1", b1.ecds)
	if _, err := ec.CreateWatch(req(b1.version), &sub, ch); err != nil {
		t.Fatal(err)
	}
	r = recv()
	if r == nil || strings.Join(resourceNames(r), ",") != changed || r.version != b1.version {
		t.Fatalf("rollback: %+v", r)
	}
	// A new stream of a node running b1 while b2 is served: only the
	// difference, taken from the version its first request names.
	sub2 := stream.NewSotwSubscription(names, false)
	sub = sub2
	ec.setNode("n1", b2.ecds)
	if _, err := ec.CreateWatch(req(b1.version), &sub, ch); err != nil {
		t.Fatal(err)
	}
	r = recv()
	if r == nil || strings.Join(resourceNames(r), ",") != changed {
		t.Fatalf("reconnect at b1: %+v", r)
	}
	// A new stream naming an unknown version gets everything.
	sub = stream.NewSotwSubscription(names, false)
	if _, err := ec.CreateWatch(req("e-unknown"), &sub, ch); err != nil {
		t.Fatal(err)
	}
	if r = recv(); r == nil || len(r.resources) != 9 {
		t.Fatalf("reconnect at an unknown version: %+v", r)
	}
	// A request naming only some resources gets only those.
	sub = stream.NewSotwSubscription([]string{FilterName}, false)
	if _, err := ec.CreateWatch(&cache.Request{Node: &corev3.Node{Id: "n1"}, TypeUrl: resource.ExtensionConfigType, ResourceNames: []string{FilterName}}, &sub, ch); err != nil {
		t.Fatal(err)
	}
	if r = recv(); r == nil || strings.Join(resourceNames(r), ",") != FilterName {
		t.Fatalf("manifest only: %+v", r)
	}
}
