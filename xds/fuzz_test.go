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
