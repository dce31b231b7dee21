package xds

import (
	"testing"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-dev/switchboard/filter"
)

// FuzzConfigFromResponse feeds arbitrary xDS responses (outside input from
// the network) to the extraction and the core's loader: no panic, and
// anything accepted must be the one named Wasm resource.
func FuzzConfigFromResponse(f *testing.F) {
	res, err := BuildResources(filter.Config{Version: "v1", Installations: []filter.Installation{}}, ResourceOptions{IngestAddress: "127.0.0.1:1"})
	if err != nil {
		f.Fatal(err)
	}
	var anys []*anypb.Any
	for _, r := range append(append([]types.Resource{}, res[resource.ExtensionConfigType]...), res[resource.ListenerType]...) {
		a, _ := anypb.New(r)
		anys = append(anys, a)
	}
	for i := range anys {
		b, _ := proto.Marshal(&discovery.DiscoveryResponse{VersionInfo: "v1", Resources: anys[i : i+1], TypeUrl: resource.ExtensionConfigType})
		f.Add(b)
	}
	b, _ := proto.Marshal(&discovery.DiscoveryResponse{Resources: anys})
	f.Add(b)
	f.Add([]byte{})
	key := make([]byte, filter.EdgeKeySize)
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp discovery.DiscoveryResponse
		if proto.Unmarshal(data, &resp) != nil {
			return
		}
		js, err := ConfigFromResponse(&resp)
		if err != nil {
			return
		}
		if len(resp.GetResources()) != 1 {
			t.Fatal("accepted a response with other than one resource")
		}
		_, _ = filter.Load(js, key)
	})
}

// FuzzParseShardName: resource names come from the control plane's
// responses; a name is read as shard (k, j) only when it is exactly
// ShardName(k, j) with j < k.
func FuzzParseShardName(f *testing.F) {
	for _, s := range []string{ShardName(1024, 7), ShardName(4, 3), FilterName, FilterName + "-shard-4-4", FilterName + "-shard-0004-1", FilterName + "-shard--1-0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		k, j, ok := ParseShardName(name)
		if !ok {
			return
		}
		if k < 2 || j < 0 || j >= k || ShardName(k, j) != name {
			t.Fatalf("ParseShardName(%q) = %d, %d", name, k, j)
		}
	})
}

// FuzzConfigsFromResponse is FuzzConfigFromResponse for the sharded reader
// the native edge uses: no panic; whatever it accepts is only the verifier's
// resource or shard resources, each once, and loads or fails cleanly.
func FuzzConfigsFromResponse(f *testing.F) {
	res, err := BuildResources(filter.Config{Version: "v1", Installations: []filter.Installation{}}, ResourceOptions{IngestAddress: "127.0.0.1:1", Shards: 4})
	if err != nil {
		f.Fatal(err)
	}
	var anys []*anypb.Any
	for _, r := range res[resource.ExtensionConfigType] {
		a, _ := anypb.New(r)
		anys = append(anys, a)
	}
	b, _ := proto.Marshal(&discovery.DiscoveryResponse{VersionInfo: "v1", Resources: anys, TypeUrl: resource.ExtensionConfigType})
	f.Add(b)
	b, _ = proto.Marshal(&discovery.DiscoveryResponse{Resources: append(anys[:1:1], anys[0])})
	f.Add(b)
	f.Add([]byte{})
	key := make([]byte, filter.EdgeKeySize)
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp discovery.DiscoveryResponse
		if proto.Unmarshal(data, &resp) != nil {
			return
		}
		confs, err := ConfigsFromResponse(&resp)
		if err != nil {
			return
		}
		if len(confs) != len(resp.GetResources()) {
			t.Fatalf("%d configurations from %d resources", len(confs), len(resp.GetResources()))
		}
		for name, js := range confs {
			if name != FilterName && !isShardName(name) {
				t.Fatalf("accepted resource %q", name)
			}
			_, _ = filter.Load(js, key)
		}
	})
}
