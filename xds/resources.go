package xds

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	wasmfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/switchboard-dev/switchboard/filter"
)

// Names shared by the control plane, Envoy and the native edge.
const (
	// FilterName is the HCM filter name and the ECDS resource name.
	FilterName   = "switchboard-verify"
	ListenerName = "switchboard-edge"
	RouteName    = "switchboard-hooks"
	// IngestName is the ingest cluster; the Wasm plugin dispatches its
	// refusal reports to it by this name.
	IngestName = filter.IngestCluster
	// HooksPrefix is the only path prefix forwarded to ingest.
	HooksPrefix = "/v1/hooks/"
	// WasmTypeURL is the only type ECDS may deliver for the filter.
	WasmTypeURL = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
	// EnvEdgeKey and EnvAttestationKey are passed from Envoy's environment
	// into the Wasm VM by name (host_env_keys), never by value.
	EnvEdgeKey        = "SWITCHBOARD_EDGE_KEY"
	EnvAttestationKey = "SWITCHBOARD_ATTESTATION_KEY"
)

// ResourceOptions are the deployment facts the translation needs beside the
// edge configuration.
type ResourceOptions struct {
	ListenAddress string // default 0.0.0.0
	ListenPort    uint32 // default 10000
	IngestAddress string // host:port of ingest, e.g. 127.0.0.1:8081 (required)
	// WasmPath is the filter.wasm file on the Envoy host.
	WasmPath string // default /etc/envoy/filter.wasm
	// WasmRuntime defaults to envoy.wasm.runtime.v8 (in official builds).
	WasmRuntime string
	// Shards is K, how many ECDS shards the edge configuration is split
	// into by ingress id (see shards.go; serve uses DefaultShards). 0 or 1:
	// the whole configuration is the one resource FilterName, as before
	// sharding.
	Shards int
}

// sharded reports K when the configuration is sharded (0 when it is one
// resource).
func (o ResourceOptions) sharded() int {
	if o.Shards > 1 {
		return o.Shards
	}
	return 0
}

func (o ResourceOptions) withDefaults() ResourceOptions {
	if o.ListenAddress == "" {
		o.ListenAddress = "0.0.0.0"
	}
	if o.ListenPort == 0 {
		o.ListenPort = 10000
	}
	if o.WasmPath == "" {
		o.WasmPath = "/etc/envoy/filter.wasm"
	}
	if o.WasmRuntime == "" {
		o.WasmRuntime = "envoy.wasm.runtime.v8"
	}
	return o
}

// Resources is one build of the Envoy resources, by xDS type.
type Resources map[resource.Type][]types.Resource

// BuildResources translates an edge configuration into Envoy resources: the
// listener (HCM with the verify filter from ECDS, no default config, so no
// configuration means no traffic), the route configuration (/v1/hooks/ to
// ingest, anything else 404 at the edge), the ingest cluster and the ECDS
// TypedExtensionConfig. Only ECDS resources the listeners reference are
// returned (an unreferenced one stalls ADS; see NOTES A2).
//
// With opts.Shards K > 1 the ECDS resources are the manifest (FilterName)
// and the K shards (ShardName), and the listener's HCM carries a disabled
// filter per shard (shards.go); cfg.Version is then replaced by the sharded
// build's version. Every shard is checked to load (filter.Load) with
// edgeKey when it is given.
func BuildResources(cfg filter.Config, opts ResourceOptions) (Resources, error) {
	set, cfg, err := buildECDS(cfg, opts, nil)
	if err != nil {
		return nil, err
	}
	return buildResources(cfg, set, opts)
}

// buildECDS is the ECDS set of a whole configuration without the
// controller's caches, and cfg with the set's version. With edgeKey, every
// resource is checked to load.
func buildECDS(cfg filter.Config, opts ResourceOptions, edgeKey []byte) (*ecdsSet, filter.Config, error) {
	opts = opts.withDefaults()
	check := func(js []byte) error {
		if edgeKey == nil {
			return nil
		}
		_, err := filter.Load(js, edgeKey)
		return err
	}
	if k := opts.sharded(); k > 0 {
		parts, err := newEncodeCache().forms(cfg.Installations)
		if err != nil {
			return nil, cfg, err
		}
		set, err := shardedSet(k, parts, newShardCache(), opts, check)
		if err != nil {
			return nil, cfg, err
		}
		cfg.Version = set.version
		return set, cfg, nil
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, cfg, fmt.Errorf("encode edge config: %w", err)
	}
	if err := check(js); err != nil {
		return nil, cfg, fmt.Errorf("edge configuration %s does not load: %w", cfg.Version, err)
	}
	set, err := wholeSet(cfg.Version, js, len(cfg.Installations), opts)
	return set, cfg, err
}

// buildResources is BuildResources with the ECDS set already built.
func buildResources(cfg filter.Config, set *ecdsSet, opts ResourceOptions) (Resources, error) {
	opts = opts.withDefaults()
	lis, err := listener(cfg, opts)
	if err != nil {
		return nil, err
	}
	cl, err := ingestCluster(opts)
	if err != nil {
		return nil, err
	}
	res := Resources{
		resource.ListenerType: {lis},
		resource.RouteType:    {routeConfig()},
		resource.ClusterType:  {cl},
	}
	if res[resource.ExtensionConfigType], err = referencedOnly(res[resource.ListenerType], set.resources()); err != nil {
		return nil, err
	}
	return res, nil
}

// ExtensionConfig is the ECDS resource: the Wasm filter whose plugin
// configuration is the edge configuration JSON (secrets sealed), failing
// closed, with its own VM and the keys taken from Envoy's environment.
func ExtensionConfig(cfg filter.Config, opts ResourceOptions) (*corev3.TypedExtensionConfig, error) {
	js, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode edge config: %w", err)
	}
	return extensionConfig(FilterName, js, opts)
}

// extensionConfig is the ECDS resource name carrying plugin configuration
// js. Every resource names the same VM (vm_id FilterName, the same code and
// environment), so the manifest's plugin and the shards' plugins share one
// VM per worker and with it the shard table.
func extensionConfig(name string, js []byte, opts ResourceOptions) (*corev3.TypedExtensionConfig, error) {
	opts = opts.withDefaults()
	conf, err := anypb.New(wrapperspb.String(string(js)))
	if err != nil {
		return nil, err
	}
	w := &wasmfilterv3.Wasm{Config: &wasmv3.PluginConfig{
		Name:   name,
		RootId: name,
		Vm: &wasmv3.PluginConfig_VmConfig{VmConfig: &wasmv3.VmConfig{
			VmId:    FilterName, // its own VM: shares nothing with other plugins
			Runtime: opts.WasmRuntime,
			Code: &corev3.AsyncDataSource{Specifier: &corev3.AsyncDataSource_Local{
				Local: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: opts.WasmPath}},
			}},
			EnvironmentVariables: &wasmv3.EnvironmentVariables{
				HostEnvKeys: []string{EnvEdgeKey, EnvAttestationKey},
			},
		}},
		Configuration:               conf,
		FailurePolicy:               wasmv3.FailurePolicy_FAIL_CLOSED,
		AllowOnHeadersStopIteration: wrapperspb.Bool(true),
	}}
	tc, err := anypb.New(w)
	if err != nil {
		return nil, err
	}
	return &corev3.TypedExtensionConfig{Name: name, TypedConfig: tc}, nil
}

func maxBody(cfg filter.Config) int {
	m := filter.DefaultMaxBodyBytes
	for _, in := range cfg.Installations {
		if in.MaxBodyBytes > m {
			m = in.MaxBodyBytes
		}
	}
	return m
}

func listener(cfg filter.Config, opts ResourceOptions) (*listenerv3.Listener, error) {
	opts = opts.withDefaults()
	router, err := anypb.New(&routerv3.Router{})
	if err != nil {
		return nil, err
	}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: "switchboard_edge",
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			RouteConfigName: RouteName,
			ConfigSource:    adsSource(),
		}},
		// Clients cannot inject trusted headers: the filter strips them too,
		// this is the second line.
		UseRemoteAddress: wrapperspb.Bool(true),
		HttpFilters: []*hcmv3.HttpFilter{
			{
				Name: FilterName,
				ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
					ConfigSource: adsSource(),
					// No DefaultConfig and no ApplyDefaultConfigWithoutWarming:
					// until the first configuration arrives the listener warms,
					// and if it never arrives requests get a local 500 (NFCF).
					TypeUrls: []string{WasmTypeURL},
				}},
			},
		},
	}
	for _, name := range ShardNames(opts.sharded()) {
		// A shard's filter never runs for a request (disabled, and no route
		// enables it): it exists so that Envoy fetches the shard by ECDS and
		// starts its plugin in the verifier's VM, where it loads the shard.
		hcm.HttpFilters = append(hcm.HttpFilters, &hcmv3.HttpFilter{
			Name:     name,
			Disabled: true,
			ConfigType: &hcmv3.HttpFilter_ConfigDiscovery{ConfigDiscovery: &corev3.ExtensionConfigSource{
				ConfigSource: adsSource(),
				TypeUrls:     []string{WasmTypeURL},
			}},
		})
	}
	hcm.HttpFilters = append(hcm.HttpFilters, &hcmv3.HttpFilter{Name: "envoy.filters.http.router", ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router}})
	hcmAny, err := anypb.New(hcm)
	if err != nil {
		return nil, err
	}
	return &listenerv3.Listener{
		Name: ListenerName,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       opts.ListenAddress,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: opts.ListenPort},
		}}},
		// Bodies above the largest installation limit are refused by Envoy
		// with 413 while buffering (StopIterationAndBuffer).
		PerConnectionBufferLimitBytes: wrapperspb.UInt32(uint32(maxBody(cfg))),
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       "envoy.filters.network.http_connection_manager",
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
			}},
		}},
	}, nil
}

func adsSource() *corev3.ConfigSource {
	return &corev3.ConfigSource{
		ResourceApiVersion:    corev3.ApiVersion_V3,
		ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		InitialFetchTimeout:   durationpb.New(10 * time.Second),
	}
}

func routeConfig() *routev3.RouteConfiguration {
	return &routev3.RouteConfiguration{
		Name: RouteName,
		VirtualHosts: []*routev3.VirtualHost{{
			Name:    "switchboard",
			Domains: []string{"*"},
			Routes: []*routev3.Route{
				{
					Name:  "hooks",
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: HooksPrefix}},
					Action: &routev3.Route_Route{Route: &routev3.RouteAction{
						ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: IngestName},
						Timeout:          durationpb.New(15 * time.Second),
					}},
				},
				{
					Name:  "not-found",
					Match: &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
					Action: &routev3.Route_DirectResponse{DirectResponse: &routev3.DirectResponseAction{
						Status: 404,
						Body:   &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: `{"error":"not_found"}`}},
					}},
				},
			},
		}},
	}
}

func ingestCluster(opts ResourceOptions) (*clusterv3.Cluster, error) {
	host, portStr, err := net.SplitHostPort(opts.IngestAddress)
	if err != nil {
		return nil, fmt.Errorf("ingest address %q: %w", opts.IngestAddress, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("ingest address %q: bad port", opts.IngestAddress)
	}
	discovery := clusterv3.Cluster_STRICT_DNS
	if net.ParseIP(host) != nil {
		discovery = clusterv3.Cluster_STATIC
	}
	return &clusterv3.Cluster{
		Name:                 IngestName,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: discovery},
		ConnectTimeout:       durationpb.New(2 * time.Second),
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: IngestName,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{
				LbEndpoints: []*endpointv3.LbEndpoint{{
					HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
						Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
							Address:       host,
							PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
						}}},
					}},
				}},
			}},
		},
	}, nil
}

// ReferencedExtensionConfigs lists the ECDS names the listeners' HTTP
// connection managers reference through config_discovery.
func ReferencedExtensionConfigs(listeners []types.Resource) (map[string]bool, error) {
	names := map[string]bool{}
	for _, r := range listeners {
		l, ok := r.(*listenerv3.Listener)
		if !ok {
			return nil, fmt.Errorf("not a listener: %T", r)
		}
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				tc := f.GetTypedConfig()
				if tc == nil || tc.GetTypeUrl() != resource.APITypePrefix+string(proto.MessageName(&hcmv3.HttpConnectionManager{})) {
					continue
				}
				var hcm hcmv3.HttpConnectionManager
				if err := tc.UnmarshalTo(&hcm); err != nil {
					return nil, fmt.Errorf("listener %s: %w", l.GetName(), err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					if hf.GetConfigDiscovery() != nil {
						names[hf.GetName()] = true
					}
				}
			}
		}
	}
	return names, nil
}

func referencedOnly(listeners, exts []types.Resource) ([]types.Resource, error) {
	names, err := ReferencedExtensionConfigs(listeners)
	if err != nil {
		return nil, err
	}
	var out []types.Resource
	for _, e := range exts {
		ext, ok := e.(*corev3.TypedExtensionConfig)
		if !ok {
			return nil, fmt.Errorf("not an extension config: %T", e)
		}
		if names[ext.GetName()] {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].(*corev3.TypedExtensionConfig).GetName() < out[j].(*corev3.TypedExtensionConfig).GetName()
	})
	return out, nil
}

// ConfigFromResponse is ExtensionConfig's inverse on the receiving side (the
// native edge, tests): it extracts the filter configuration JSON from an ECDS
// response, checking it is exactly the one resource asked for and that it is
// the Wasm filter type.
func ConfigFromResponse(resp *discovery.DiscoveryResponse) ([]byte, error) {
	if n := len(resp.GetResources()); n != 1 {
		return nil, fmt.Errorf("ECDS response has %d resources, want 1 (%s)", n, FilterName)
	}
	var ext corev3.TypedExtensionConfig
	if err := resp.GetResources()[0].UnmarshalTo(&ext); err != nil {
		return nil, fmt.Errorf("ECDS resource: %w", err)
	}
	if ext.GetName() != FilterName {
		return nil, fmt.Errorf("ECDS resource is %q, want %q", ext.GetName(), FilterName)
	}
	if got := ext.GetTypedConfig().GetTypeUrl(); got != WasmTypeURL {
		return nil, fmt.Errorf("ECDS resource type %q, want %q", got, WasmTypeURL)
	}
	var w wasmfilterv3.Wasm
	if err := ext.GetTypedConfig().UnmarshalTo(&w); err != nil {
		return nil, fmt.Errorf("wasm filter config: %w", err)
	}
	var sv wrapperspb.StringValue
	if err := w.GetConfig().GetConfiguration().UnmarshalTo(&sv); err != nil {
		return nil, fmt.Errorf("wasm plugin configuration: %w", err)
	}
	return []byte(sv.GetValue()), nil
}

// ConfigsFromResponse is the receiving side of a possibly sharded ECDS
// response: the plugin configuration JSON of each resource by name. Every
// resource must be the Wasm filter type and named FilterName or a shard
// name (ShardName); nothing else is accepted.
func ConfigsFromResponse(resp *discovery.DiscoveryResponse) (map[string][]byte, error) {
	out := make(map[string][]byte, len(resp.GetResources()))
	for i, a := range resp.GetResources() {
		var ext corev3.TypedExtensionConfig
		if err := a.UnmarshalTo(&ext); err != nil {
			return nil, fmt.Errorf("ECDS resource %d: %w", i, err)
		}
		name := ext.GetName()
		if name != FilterName && !isShardName(name) {
			return nil, fmt.Errorf("ECDS resource %q is neither %s nor one of its shards", name, FilterName)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("ECDS resource %q twice in one response", name)
		}
		if got := ext.GetTypedConfig().GetTypeUrl(); got != WasmTypeURL {
			return nil, fmt.Errorf("ECDS resource %s type %q, want %q", name, got, WasmTypeURL)
		}
		var w wasmfilterv3.Wasm
		if err := ext.GetTypedConfig().UnmarshalTo(&w); err != nil {
			return nil, fmt.Errorf("ECDS resource %s: wasm filter config: %w", name, err)
		}
		var sv wrapperspb.StringValue
		if err := w.GetConfig().GetConfiguration().UnmarshalTo(&sv); err != nil {
			return nil, fmt.Errorf("ECDS resource %s: wasm plugin configuration: %w", name, err)
		}
		out[name] = []byte(sv.GetValue())
	}
	return out, nil
}

// ParseShardName reads ShardName's output: K and j (ok false for any other
// name).
func ParseShardName(name string) (k, j int, ok bool) {
	rest, found := strings.CutPrefix(name, FilterName+"-shard-")
	if !found {
		return 0, 0, false
	}
	ks, js, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	k, err1 := strconv.Atoi(ks)
	j, err2 := strconv.Atoi(js)
	if err1 != nil || err2 != nil || k < 2 || k > filter.MaxShards || j < 0 || j >= k || ShardName(k, j) != name {
		return 0, 0, false
	}
	return k, j, true
}

func isShardName(name string) bool {
	_, _, ok := ParseShardName(name)
	return ok
}
