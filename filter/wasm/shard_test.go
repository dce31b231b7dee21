package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
)

// shardedFixture is k shards of Slack installations, one in every shard,
// each signed with "secret-<n>"; byShard maps a shard to its installation's
// ingress number.
func shardedFixture(t *testing.T, k int) (shards [][]byte, byShard map[int]int, insts map[int]filter.Installation) {
	t.Helper()
	byShard, insts = map[int]int{}, map[int]filter.Installation{}
	groups := make([][]filter.Installation, k)
	for n := 100; len(byShard) < k; n++ {
		j := filter.ShardOf(ingress(n), k)
		if _, ok := byShard[j]; ok {
			continue
		}
		in := orgInst(n, "slack", filter.SchemeSlackV0, "org_"+ingress(n)[28:])
		signing(t, &in, "sec", secretOf(n), 0, 0)
		byShard[j], insts[n] = n, in
		groups[j] = append(groups[j], in)
	}
	for j, g := range groups {
		shards = append(shards, shardDoc(t, j, k, "s1", g))
	}
	return shards, byShard, insts
}

func secretOf(n int) string { return "secret-" + ingress(n)[24:] }

func shardDoc(t *testing.T, j, k int, version string, insts []filter.Installation) []byte {
	t.Helper()
	b, err := json.Marshal(filter.Config{Version: version, Shard: j, Shards: k, Installations: insts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// manifestDoc is the manifest as the control plane sends it
// (xds.ManifestJSON).
func manifestDoc(k int) []byte {
	return []byte(`{"version":"m` + strconv.Itoa(k) + `","manifest":true,"shards":` + strconv.Itoa(k) + `}`)
}

// TestShardedVMFailsClosed: in one VM, shard plugins load their shards into
// the VM's table and the manifest's plugin decides each request with the
// shard of its ingress id; a request whose shard is not loaded is refused
// 503 shard_not_loaded and never goes upstream; a new configuration of a
// shard replaces it (a revocation); a shard plugin's end removes its shard.
func TestShardedVMFailsClosed(t *testing.T) {
	const k = 4
	eachVM(t, func(t *testing.T, h *harness) {
		shards, byShard, insts := shardedFixture(t, k)
		// One emulated plugin at a time (proxytest): a shard's plugin
		// starts, then the next configuration takes the VM's root context.
		load := func(js []byte) { h.mustStart(t, js).reset() }
		load(shards[0])
		load(shards[1])
		r := h.mustStart(t, manifestDoc(k))
		n0, n2 := byShard[0], byShard[2]
		r.send(slackReq(n0, secretOf(n0), now0, slackEvent)).wantAccept(t, identity(insts[n0]), []byte(slackEvent))
		r.send(slackReq(n0, "forged", now0, slackEvent)).wantReject(t, filter.ReasonBadSignature)
		// Shard 2 is not loaded: refused whatever the signature.
		r.send(slackReq(n2, secretOf(n2), now0, slackEvent)).wantReject(t, filter.ReasonShardNotLoaded)
		r.send(req{path: "/v1/other"}).wantReject(t, filter.ReasonUnknownIngress)
		// An unknown ingress id in a loaded shard is unknown; in a missing one, not loaded.
		for n := 5000; ; n++ {
			if _, known := insts[n]; !known && filter.ShardOf(ingress(n), k) == 3 {
				r.send(slackReq(n, "x", now0, slackEvent)).wantReject(t, filter.ReasonShardNotLoaded)
				break
			}
		}
		for n := 5000; ; n++ {
			if _, known := insts[n]; !known && filter.ShardOf(ingress(n), k) == 0 {
				r.send(slackReq(n, "x", now0, slackEvent)).wantReject(t, filter.ReasonUnknownIngress)
				break
			}
		}

		// Shard 2 arrives: its requests are decided.
		r.reset()
		r2 := h.mustStart(t, shards[2])
		r2.send(slackReq(n2, secretOf(n2), now0, slackEvent)).wantAccept(t, identity(insts[n2]), []byte(slackEvent))
		// A new configuration of shard 0 (the installation revoked) replaces the old one.
		rev := insts[n0]
		rev.Revoked, rev.Secrets = true, []filter.Secret{}
		r2.reset()
		r3 := h.mustStart(t, shardDoc(t, 0, k, "s2", []filter.Installation{rev}))
		r3.send(slackReq(n0, secretOf(n0), now0, slackEvent)).wantReject(t, filter.ReasonRevoked)
		// A shard that does not belong to its index fails its start (NACK):
		// the shard in force stays.
		r3.reset()
		bad := shardDoc(t, 1, k, "s3", []filter.Installation{insts[n0]})
		rb := h.start(t, bad)
		if rb.start == types.OnPluginStartStatusOK {
			t.Fatal("a shard holding another shard's installation started")
		}
		rb.reset()
		m := h.mustStart(t, manifestDoc(k))
		m.send(slackReq(n0, secretOf(n0), now0, slackEvent)).wantReject(t, filter.ReasonRevoked)
		n1 := byShard[1]
		m.send(slackReq(n1, secretOf(n1), now0, slackEvent)).wantAccept(t, identity(insts[n1]), []byte(slackEvent))
		// The end of shard 1's plugin (the latest root context of the
		// emulator is shard 1's) removes shard 1.
		m.reset()
		last := h.mustStart(t, shards[1])
		last.host.FinishVM()
		last.reset()
		m2 := h.mustStart(t, manifestDoc(k))
		m2.send(slackReq(n1, secretOf(n1), now0, slackEvent)).wantReject(t, filter.ReasonShardNotLoaded)
		m2.send(slackReq(n2, secretOf(n2), now0, slackEvent)).wantAccept(t, identity(insts[n2]), []byte(slackEvent))
	})
}

// TestShardTableOwner: a replaced shard plugin's end does not remove the
// shard that replaced it.
func TestShardTableOwner(t *testing.T) {
	v := &vmContext{}
	shards, _, _ := shardedFixture(t, 4)
	load := func(js []byte) *filter.Edge {
		e, err := filter.Load(js, edgeKey)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	old, cur := load(shards[3]), load(shards[3])
	v.putShard(old, 1)
	v.putShard(cur, 2)
	v.dropShard(4, 3, 1) // the replaced plugin ends
	if v.shards[4].edges[3] != cur {
		t.Fatal("the replaced plugin's end removed its successor's shard")
	}
	v.dropShard(4, 3, 2)
	if v.shards[4] != nil {
		t.Fatal("the last shard of a K removed, the table kept")
	}
	if _, d := v.resolve(4, "/v1/hooks/slack/"+ingress(100)); d == nil || d.Reason != filter.ReasonShardNotLoaded {
		t.Fatalf("resolve after removal: %+v", d)
	}
}
