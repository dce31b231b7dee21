package filter

import (
	"strconv"
	"strings"
)

// Sharding splits the edge configuration by ingress id so that a change to
// one installation reaches the edges as one shard, not as the whole fleet.
// The control plane, the native edge and the Wasm filter must put every
// ingress id in the same shard: ShardOf is part of the configuration format
// (pinned by TestShardOfIsStable) and never changes for a given K.

// MaxShards bounds K (a configuration with more is an error).
const MaxShards = 1 << 16

// ShardOf is the shard (0..k-1) of an ingress id among k: 32-bit FNV-1a of
// the id's bytes, modulo k. k <= 1 puts everything in shard 0.
func ShardOf(ingressID string, k int) int {
	if k <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(ingressID); i++ {
		h ^= uint32(ingressID[i])
		h *= 16777619
	}
	return int(h % uint32(k))
}

// IngressOf is the ingress id a request target names
// (/v1/hooks/<provider>/<ingress-id>[?query]), ok false when it names none.
func IngressOf(target string) (string, bool) {
	path, _, _ := splitPathQuery(target)
	if !strings.HasPrefix(path, HooksPrefix) {
		return "", false
	}
	rest := path[len(HooksPrefix):]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 || slash == len(rest)-1 {
		return "", false
	}
	return rest[slash+1:], true
}

// Sharding reports what the loaded configuration is: a whole one (shards
// 0), shard `shard` of `shards`, or a manifest of `shards` shards.
func (e *Edge) Sharding() (shard, shards int, manifest bool) {
	if e == nil {
		return 0, 0, false
	}
	return e.shard, e.shards, e.manifest
}

// ShardSet is what a host holds: either one whole configuration, or K
// shards of which some may not be loaded (nil). Resolve picks the Edge that
// decides a request and refuses, fail closed, a request whose shard is
// missing. A ShardSet is never modified: With and Without return copies, so
// a host swaps the set atomically and in-flight requests keep theirs.
type ShardSet struct {
	k      int
	whole  *Edge
	edges  []*Edge
	loaded int
}

// WholeSet holds one whole (unsharded) configuration.
func WholeSet(e *Edge) *ShardSet { return &ShardSet{whole: e} }

// NewShardSet is K shards, none loaded: every hooks request is refused
// shard_not_loaded until its shard is added.
func NewShardSet(k int) *ShardSet {
	if k < 1 {
		k = 1
	}
	return &ShardSet{k: k, edges: make([]*Edge, k)}
}

// Shards is K (0 for a whole configuration).
func (s *ShardSet) Shards() int {
	if s == nil {
		return 0
	}
	return s.k
}

// Loaded is how many shards are loaded (1 for a whole configuration).
func (s *ShardSet) Loaded() int {
	switch {
	case s == nil:
		return 0
	case s.whole != nil:
		return 1
	}
	return s.loaded
}

// Complete reports whether every shard is loaded.
func (s *ShardSet) Complete() bool {
	return s != nil && (s.whole != nil || s.loaded == s.k)
}

// Edge is shard j (nil if not loaded), or the whole configuration.
func (s *ShardSet) Edge(j int) *Edge {
	switch {
	case s == nil:
		return nil
	case s.whole != nil:
		return s.whole
	case j < 0 || j >= s.k:
		return nil
	}
	return s.edges[j]
}

// Len is the number of ingress entries loaded.
func (s *ShardSet) Len() int {
	if s == nil {
		return 0
	}
	if s.whole != nil {
		return s.whole.Len()
	}
	n := 0
	for _, e := range s.edges {
		n += e.Len()
	}
	return n
}

// With is s with e in its shard's place. e must be a shard of the same K.
func (s *ShardSet) With(e *Edge) (*ShardSet, error) {
	j, k, manifest := e.Sharding()
	if s == nil || s.whole != nil || manifest || k != s.k {
		return nil, &ConfigError{Field: "shards", Msg: "not a shard of this set of " + strconv.Itoa(s.Shards())}
	}
	out := &ShardSet{k: s.k, edges: append([]*Edge(nil), s.edges...), loaded: s.loaded}
	if out.edges[j] == nil {
		out.loaded++
	}
	out.edges[j] = e
	return out, nil
}

// Without is s with shard j not loaded.
func (s *ShardSet) Without(j int) *ShardSet {
	if s == nil || s.whole != nil || j < 0 || j >= s.k || s.edges[j] == nil {
		return s
	}
	out := &ShardSet{k: s.k, edges: append([]*Edge(nil), s.edges...), loaded: s.loaded - 1}
	out.edges[j] = nil
	return out
}

// Resolve finds the Edge that decides a request for target: the whole
// configuration, or the shard of the ingress id target names. A target
// naming no ingress id is refused unknown_ingress; one whose shard is not
// loaded is refused shard_not_loaded (503): never decided by another shard
// and never passed.
func (s *ShardSet) Resolve(target string) (*Edge, *Decision) {
	if s == nil {
		d := reject(ReasonNoConfig, Identity{})
		return nil, &d
	}
	if s.whole != nil {
		return s.whole, nil
	}
	return ResolveShard(target, s.k, func(j int) *Edge { return s.edges[j] })
}

// ResolveShard is the rule every host applies to a sharded configuration:
// the target's ingress id names shard j = ShardOf(id, k), and shard(j)
// decides; a target naming no ingress id is refused unknown_ingress, one
// whose shard is nil shard_not_loaded (503).
func ResolveShard(target string, k int, shard func(j int) *Edge) (*Edge, *Decision) {
	id, ok := IngressOf(target)
	if !ok {
		d := reject(ReasonUnknownIngress, Identity{})
		return nil, &d
	}
	e := shard(ShardOf(id, k))
	if e == nil {
		d := reject(ReasonShardNotLoaded, Identity{})
		return nil, &d
	}
	return e, nil
}
