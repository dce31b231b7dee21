package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/switchboard-dev/switchboard/filter"
)

// A sharded edge configuration (docs/wasm.md, "Shards") reaches the VM as
// several plugin configurations: the manifest ({"manifest":true,
// "shards":K}) of the filter that runs for requests, and one shard per
// disabled filter of the same VM (same vm_id and code). A shard's plugin
// start loads the shard into the VM's table; every plugin's requests are
// decided by the shard of their ingress id taken from that table, and one
// whose shard is not loaded is refused 503 shard_not_loaded, never passed.
//
// The table lives in the VM, so it survives the reconfiguration of any one
// plugin: a new shard configuration replaces its entry when it starts; the
// replaced plugin's end (OnPluginDone) removes an entry only while the entry
// is still its own. A stream keeps the shard's Edge it resolved at its
// headers, as it keeps its plugin's configuration.

// shardTable is one K's shards, by index.
type shardTable struct {
	edges  []*filter.Edge
	owners []uint64 // serial of the plugin that loaded each
}

// shardTable returns the table of k shards, made on first use.
func (v *vmContext) shardTable(k int) *shardTable {
	if v.shards == nil {
		v.shards = map[int]*shardTable{}
	}
	t := v.shards[k]
	if t == nil {
		t = &shardTable{edges: make([]*filter.Edge, k), owners: make([]uint64, k)}
		v.shards[k] = t
	}
	return t
}

// putShard puts a loaded shard in the table for plugin serial.
func (v *vmContext) putShard(e *filter.Edge, serial uint64) {
	j, k, _ := e.Sharding()
	t := v.shardTable(k)
	t.edges[j], t.owners[j] = e, serial
}

// dropShard removes shard (k, j) if plugin serial still owns it.
func (v *vmContext) dropShard(k, j int, serial uint64) {
	t := v.shards[k]
	if t == nil || t.owners[j] != serial {
		return
	}
	t.edges[j], t.owners[j] = nil, 0
	for _, e := range t.edges {
		if e != nil {
			return
		}
	}
	delete(v.shards, k) // no shard of this K left (K changed)
}

// resolve is the Edge that decides a request for target under a sharded
// configuration of k shards (filter.ResolveShard: refused when the shard is
// not loaded).
func (v *vmContext) resolve(k int, target string) (*filter.Edge, *filter.Decision) {
	t := v.shards[k]
	return filter.ResolveShard(target, k, func(j int) *filter.Edge {
		if t == nil {
			return nil
		}
		return t.edges[j]
	})
}

// startSharded takes a loaded configuration that is a manifest or a shard:
// a shard goes into the VM's table; both make the plugin decide by the
// table. It reports false for a whole configuration.
func (p *pluginContext) startSharded(e *filter.Edge) bool {
	j, k, manifest := e.Sharding()
	if k == 0 {
		return false
	}
	p.shards = k
	if !manifest {
		p.shard = j
		p.vm.putShard(e, p.serial)
		proxywasm.LogInfof("switchboard: shard %d of %d loaded (%d entries)", j, k, e.Len())
	} else {
		proxywasm.LogInfof("switchboard: manifest of %d shards loaded", k)
	}
	p.loader = !manifest
	return true
}

// OnPluginDone removes the shard this plugin loaded, unless a newer
// configuration of that shard replaced it already.
func (p *pluginContext) OnPluginDone() bool {
	if p.loader {
		p.vm.dropShard(p.shards, p.shard, p.serial)
	}
	return true
}
