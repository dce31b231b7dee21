package xds

import (
	"context"
	"errors"
	"maps"
	"sort"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// ecdsCache serves the ECDS type (state of the world, over ADS) from the
// set each node is given, answering with only the resources whose version
// differs from what the stream's subscription says the node already has
// (go-control-plane records, per stream, the resource versions of every
// response sent). The xDS protocol allows that for every type but
// listeners and clusters, and Envoy applies each ECDS resource of a
// response to the filter of that name only. go-control-plane's snapshot
// cache instead re-sends every requested resource whenever the type's
// version changes: with K shards that would be the whole fleet per change.
//
// A stream's first request that names a version this cache still knows
// (the node reconnects, running a build it ACKed) is answered with the
// difference from that build, so a reconnect does not re-send everything.
//
// Unlike the snapshot cache it answers a named request with the requested
// resources it has, not only when it has all of them (no ADS superset
// stall); a requested resource it does not have is not answered, and the
// node's filter for it stays unloaded (fail closed: its requests are
// refused shard_not_loaded).
type ecdsCache struct {
	mu      sync.Mutex
	served  map[string]*ecdsSet             // node id -> set given
	known   map[string]*ecdsSet             // build version -> set (builds in memory)
	watches map[string]map[uint64]ecdsWatch // node id -> open watches
	next    uint64
}

type ecdsWatch struct {
	req *cache.Request
	sub cache.Subscription
	ch  chan cache.Response
}

func newECDSCache() *ecdsCache {
	return &ecdsCache{served: map[string]*ecdsSet{}, known: map[string]*ecdsSet{}, watches: map[string]map[uint64]ecdsWatch{}}
}

// remember makes a build's set known by its version; retain forgets every
// set whose version is not in keep.
func (c *ecdsCache) remember(s *ecdsSet) {
	c.mu.Lock()
	c.known[s.version] = s
	c.mu.Unlock()
}

func (c *ecdsCache) retain(keep map[string]bool) {
	c.mu.Lock()
	for v := range c.known {
		if !keep[v] {
			delete(c.known, v)
		}
	}
	c.mu.Unlock()
}

// setNode gives a node a set (nil: nothing) and answers its open watches.
func (c *ecdsCache) setNode(node string, s *ecdsSet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == nil {
		delete(c.served, node)
		return
	}
	c.served[node] = s
	for id, w := range c.watches[node] {
		if resp := c.diffLocked(w.req, w.sub, s); resp != nil {
			delete(c.watches[node], id)
			w.ch <- resp // buffered per type by the ADS server; one watch per type
		}
	}
}

// CreateWatch answers at once when the node's set differs from what it
// has, else holds the watch until setNode changes it.
func (c *ecdsCache) CreateWatch(req *cache.Request, sub cache.Subscription, ch chan cache.Response) (func(), error) {
	if req.GetTypeUrl() != resource.ExtensionConfigType {
		return nil, errors.New("ecds cache: type " + req.GetTypeUrl() + " is not served here")
	}
	node := req.GetNode().GetId()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.served[node]; s != nil {
		if resp := c.diffLocked(req, sub, s); resp != nil {
			ch <- resp
			return func() {}, nil
		}
	}
	c.next++
	id := c.next
	if c.watches[node] == nil {
		c.watches[node] = map[uint64]ecdsWatch{}
	}
	c.watches[node][id] = ecdsWatch{req: req, sub: sub, ch: ch}
	return func() {
		c.mu.Lock()
		delete(c.watches[node], id)
		if len(c.watches[node]) == 0 {
			delete(c.watches, node)
		}
		c.mu.Unlock()
	}, nil
}

// diffLocked is the response that brings the subscription to s: every
// subscribed resource of s whose version the node does not have (nil when
// there is none).
func (c *ecdsCache) diffLocked(req *cache.Request, sub cache.Subscription, s *ecdsSet) cache.Response {
	have := sub.ReturnedResources()
	if len(have) == 0 && req.GetVersionInfo() != "" {
		if prior := c.known[req.GetVersionInfo()]; prior != nil {
			have = make(map[string]string, len(prior.res))
			for name, r := range prior.res {
				have[name] = r.version
			}
		}
	}
	var names []string
	if sub.IsWildcard() {
		for name := range s.res {
			names = append(names, name)
		}
	} else {
		for name := range sub.SubscribedResources() {
			if _, ok := s.res[name]; ok {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	var out []*anypb.Any
	returned := maps.Clone(have)
	if returned == nil {
		returned = map[string]string{}
	}
	for _, name := range names {
		r := s.res[name]
		if have[name] == r.version {
			continue
		}
		out = append(out, r.any)
		returned[name] = r.version
	}
	if len(out) == 0 {
		return nil
	}
	return &ecdsResponse{req: req, version: s.version, resources: out, returned: returned}
}

// Fetch is not served (REST polling of ECDS is not supported).
func (c *ecdsCache) Fetch(context.Context, *cache.Request) (cache.Response, error) {
	return nil, errors.New("ecds cache: fetch is not supported")
}

// CreateDeltaWatch is not served (Callbacks refuse delta streams).
func (c *ecdsCache) CreateDeltaWatch(*cache.DeltaRequest, cache.Subscription, chan cache.DeltaResponse) (func(), error) {
	return nil, errors.New("ecds cache: delta xDS is not supported")
}

// ecdsResponse is one SotW ECDS response.
type ecdsResponse struct {
	req       *cache.Request
	version   string
	resources []*anypb.Any
	returned  map[string]string
}

func (r *ecdsResponse) GetDiscoveryResponse() (*discovery.DiscoveryResponse, error) {
	return &discovery.DiscoveryResponse{VersionInfo: r.version, Resources: r.resources, TypeUrl: resource.ExtensionConfigType}, nil
}
func (r *ecdsResponse) GetRequest() *discovery.DiscoveryRequest { return r.req }
func (r *ecdsResponse) GetVersion() (string, error)             { return r.version, nil }
func (r *ecdsResponse) GetResponseVersion() string              { return r.version }
func (r *ecdsResponse) GetReturnedResources() map[string]string { return r.returned }
func (r *ecdsResponse) GetContext() context.Context             { return context.Background() }
