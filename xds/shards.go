package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-dev/switchboard/filter"
)

// Sharding of the edge configuration (docs/envoy.md, "Shards").
//
// With K shards the ECDS side is K+1 resources instead of one:
//   - FilterName: the manifest ({"manifest":true,"shards":K}), the one Wasm
//     filter of the HCM that runs for requests;
//   - ShardName(K, j) for j in 0..K-1: shard j, the installations whose
//     filter.ShardOf(ingress id, K) is j, each the configuration of a filter
//     of the HCM that is disabled (never runs for a request) but whose
//     plugin shares the manifest's VM (same vm_id and code) and loads its
//     shard into the VM's shard table when Envoy configures it.
//
// The verifier resolves a request's shard in that table and refuses it
// (503 shard_not_loaded) when the shard is not loaded. A change to one
// installation changes one shard: the control plane encodes, checks and
// marshals that shard only, and sends only that resource to each node (the
// ECDS cache in ecds.go answers SotW requests with changed resources only,
// which the xDS protocol allows for every type but LDS and CDS).

// DefaultShards is K for `switchboard serve` (--edge-shards): a change to
// one installation then pushes about N/K entries. At about 330 bytes an
// entry, K = 1024 keeps one change under 64 KiB up to about 190,000
// installations (measured in docs/benchmarks.md); the cost of a larger K is
// K+1 ECDS resources per node and K disabled HTTP filters (each a root
// context in the Wasm VM, never a per-request call).
const DefaultShards = 1024

// Unsharded (ResourceOptions.Shards 0 or 1) keeps the whole configuration
// in the one resource FilterName, the format before sharding.

// ShardName is the HCM filter name and ECDS resource name of shard j of k.
// K is part of the name, so a change of K is a new set of filters (the
// listener changes) and never a shard of one K read under another.
func ShardName(k, j int) string {
	w := len(strconv.Itoa(k - 1))
	s := strconv.Itoa(j)
	for len(s) < w {
		s = "0" + s
	}
	return FilterName + "-shard-" + strconv.Itoa(k) + "-" + s
}

// ShardNames lists ShardName(k, 0..k-1).
func ShardNames(k int) []string {
	out := make([]string, k)
	for j := range out {
		out[j] = ShardName(k, j)
	}
	return out
}

// ecdsResource is one ECDS resource of a build with its own version and its
// encoding, made once and sent to every node. The version is the digest of
// the content with sealed values replaced by secret ids (the shard's or
// configuration's version) and of the resource options: sealing is
// randomised, so this is what makes replicas on one database give a
// resource the same version, and a node that reconnects to another replica
// is sent only the shards that really differ.
type ecdsResource struct {
	name    string
	version string
	msg     *corev3.TypedExtensionConfig
	any     *anypb.Any
	entries int // installations in it
}

func newECDSResource(ext *corev3.TypedExtensionConfig, content string, opts ResourceOptions, entries int) (*ecdsResource, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ext)
	if err != nil {
		return nil, fmt.Errorf("encode ECDS resource %s: %w", ext.GetName(), err)
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\n%s\n%+v", ext.GetName(), content, opts.withDefaults())))
	a := &anypb.Any{TypeUrl: resourceTypeURL(ext), Value: b}
	return &ecdsResource{name: ext.GetName(), version: "r" + hex.EncodeToString(sum[:8]), msg: ext, any: a, entries: entries}, nil
}

func resourceTypeURL(m proto.Message) string {
	return "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName())
}

// ecdsSet is a build's ECDS resources by name; version is the build's
// (the response version_info every node ACKs).
type ecdsSet struct {
	version string
	shards  int // K (0: one whole resource)
	res     map[string]*ecdsResource
}

func (s *ecdsSet) resources() []types.Resource {
	out := make([]types.Resource, 0, len(s.res))
	for _, r := range s.res {
		out = append(out, r.msg)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].(*corev3.TypedExtensionConfig).GetName() < out[j].(*corev3.TypedExtensionConfig).GetName()
	})
	return out
}

// Size is the encoded size of every resource of the set.
func (s *ecdsSet) size() int {
	n := 0
	for _, r := range s.res {
		n += proto.Size(r.any)
	}
	return n
}

// shardVersion digests what shard j of k holds: its entries' version forms
// (sealed values replaced by secret ids), in ingress id order.
func shardVersion(k, j int, parts []*encEntry) string {
	h := sha256.New()
	h.Write([]byte("shard " + strconv.Itoa(j) + " of " + strconv.Itoa(k) + "\n"))
	for _, e := range parts {
		h.Write(e.sum[:])
	}
	return "s" + hex.EncodeToString(h.Sum(nil)[:8])
}

// shardedVersion is a sharded build's version: the digest of K and every
// shard's version, so replicas with the same state agree on it.
func shardedVersion(k int, versions []string) string {
	h := sha256.New()
	h.Write([]byte("shards " + strconv.Itoa(k) + "\n"))
	for _, v := range versions {
		h.Write([]byte(v))
		h.Write([]byte{'\n'})
	}
	return "e" + hex.EncodeToString(h.Sum(nil)[:8])
}

// shardJSON is the plugin configuration of shard j: the filter.Config shard
// document with the entries' cached encodings.
func shardJSON(version string, j, k int, parts []*encEntry) []byte {
	size := 64 + len(version)
	for _, e := range parts {
		size += len(e.js) + 1
	}
	js := make([]byte, 0, size)
	js = append(js, `{"version":"`...)
	js = append(js, version...) // hex: nothing to escape
	js = append(js, `","shard":`...)
	js = strconv.AppendInt(js, int64(j), 10)
	js = append(js, `,"shards":`...)
	js = strconv.AppendInt(js, int64(k), 10)
	js = append(js, `,"installations":[`...)
	for i, e := range parts {
		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, e.js...)
	}
	return append(js, "]}"...)
}

// ManifestJSON is the manifest's plugin configuration for k shards.
func ManifestJSON(k int) []byte {
	return []byte(`{"version":"m` + strconv.Itoa(k) + `","manifest":true,"shards":` + strconv.Itoa(k) + `}`)
}

// shardCache keeps the resources of shards by shard version: a build
// re-encodes, re-checks (filter.Load) and re-marshals only a shard whose
// content changed. Rounds as in cache.go: sweep after a successful build of
// the latest state drops shards it did not use.
type shardCache struct {
	round  uint64
	m      map[string]*shardEntry
	builds int // shards built (tests)
}

type shardEntry struct {
	res   *ecdsResource
	round uint64
}

func newShardCache() *shardCache { return &shardCache{m: map[string]*shardEntry{}} }

func (c *shardCache) begin() { c.round++ }

func (c *shardCache) sweep() {
	for k, e := range c.m {
		if e.round != c.round {
			delete(c.m, k)
		}
	}
}

// shardedSet assembles the ECDS set of k shards from the entries' cached
// forms (in ingress id order). check loads a shard's JSON the way the edges
// will (the control plane never hands out a shard every edge would NACK).
func shardedSet(k int, parts []*encEntry, sc *shardCache, opts ResourceOptions, check func(js []byte) error) (*ecdsSet, error) {
	groups, versions := shardGroups(k, parts)
	return shardedSetOf(k, groups, versions, sc, opts, check)
}

// shardGroups splits the entries' forms (in ingress id order) into the k
// shards and gives each shard's version.
func shardGroups(k int, parts []*encEntry) ([][]*encEntry, []string) {
	groups := make([][]*encEntry, k)
	for _, e := range parts {
		j := filter.ShardOf(e.in.IngressID, k)
		groups[j] = append(groups[j], e)
	}
	versions := make([]string, k)
	for j, g := range groups {
		versions[j] = shardVersion(k, j, g)
	}
	return groups, versions
}

// shardedSetOf is shardedSet with the shards and their versions given.
func shardedSetOf(k int, groups [][]*encEntry, versions []string, sc *shardCache, opts ResourceOptions, check func(js []byte) error) (*ecdsSet, error) {
	set := &ecdsSet{shards: k, res: make(map[string]*ecdsResource, k+1)}
	for j, g := range groups {
		v := versions[j]
		name := ShardName(k, j)
		// The cache key holds the name too: the same content under another
		// K or index is another resource.
		key := name + "@" + v
		if e := sc.m[key]; e != nil {
			e.round = sc.round
			set.res[name] = e.res
			continue
		}
		js := shardJSON(v, j, k, g)
		if err := check(js); err != nil {
			return nil, fmt.Errorf("edge configuration shard %s (%s) does not load: %w", name, v, err)
		}
		ext, err := extensionConfig(name, js, opts)
		if err != nil {
			return nil, err
		}
		r, err := newECDSResource(ext, v, opts, len(g))
		if err != nil {
			return nil, err
		}
		sc.m[key] = &shardEntry{res: r, round: sc.round}
		sc.builds++
		set.res[name] = r
	}
	set.version = shardedVersion(k, versions)
	mjs := ManifestJSON(k)
	mext, err := extensionConfig(FilterName, mjs, opts)
	if err != nil {
		return nil, err
	}
	m, err := newECDSResource(mext, string(mjs), opts, 0)
	if err != nil {
		return nil, err
	}
	set.res[FilterName] = m
	return set, nil
}

// wholeSet is the unsharded ECDS set: the whole configuration js (version
// version) as the one resource FilterName.
func wholeSet(version string, js []byte, entries int, opts ResourceOptions) (*ecdsSet, error) {
	ext, err := extensionConfig(FilterName, js, opts)
	if err != nil {
		return nil, err
	}
	r, err := newECDSResource(ext, version, opts, entries)
	if err != nil {
		return nil, err
	}
	return &ecdsSet{version: version, res: map[string]*ecdsResource{FilterName: r}}, nil
}
