package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
)

// shardedBigConfig is bigConfig's n installations split into k shard
// documents (what the control plane pushes with k ECDS shards).
func shardedBigConfig(tb testing.TB, n, k int) [][]byte {
	groups := make([][]filter.Installation, k)
	for i := 0; i < n; i++ {
		in := orgInst(i+1, "slack", filter.SchemeSlackV0, fmt.Sprintf("org_%d", i))
		signing(tb, &in, "sec", fmt.Sprintf("signing-secret-%d", i), 0, 0)
		j := filter.ShardOf(in.IngressID, k)
		groups[j] = append(groups[j], in)
	}
	out := make([][]byte, k)
	for j, g := range groups {
		b, err := json.Marshal(filter.Config{Version: fmt.Sprintf("s%d", j), Shard: j, Shards: k, Installations: g})
		if err != nil {
			tb.Fatal(err)
		}
		out[j] = b
	}
	return out
}

// BenchmarkShardStart is item 6's measure with the configuration sharded
// (100,000 installations in 1024 shards, about 98 each):
//
//   - one: a push of one changed shard (OnPluginStart of that shard's
//     plugin: parse and unseal its installations), what a VM pays per
//     change;
//   - fleet: every shard started in one VM, one after the other (a cold
//     start or a reconnect: the sum over shards, with every loaded shard
//     kept live in the VM's table as in Envoy).
func BenchmarkShardStart(b *testing.B) {
	const n, k = 100_000, 1024
	docs := shardedBigConfig(b, n, k)
	b.Run(fmt.Sprintf("%dk-of-%d/one", n/1000, k), func(b *testing.B) {
		benchVMs(b, func(b *testing.B, h *harness) {
			b.SetBytes(int64(len(docs[7])))
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				cpu0 := cpuTime()
				r := h.start(b, docs[7])
				if r.start != types.OnPluginStartStatusOK {
					b.Fatalf("plugin start failed: %v", r.host.GetCriticalLogs())
				}
				cpu += cpuTime() - cpu0
				b.StopTimer()
				r.reset()
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		})
	})
	b.Run(fmt.Sprintf("%dk-of-%d/fleet", n/1000, k), func(b *testing.B) {
		benchVMs(b, func(b *testing.B, h *harness) {
			size := 0
			for _, d := range docs {
				size += len(d)
			}
			b.SetBytes(int64(size))
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				for _, d := range docs {
					cpu0 := cpuTime()
					r := h.start(b, d)
					if r.start != types.OnPluginStartStatusOK {
						b.Fatalf("plugin start failed: %v", r.host.GetCriticalLogs())
					}
					cpu += cpuTime() - cpu0
					b.StopTimer()
					r.reset()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
			if h.guest != nil {
				b.ReportMetric(float64(h.guest.Memory().Size())/(1<<20), "guest-MiB")
			} else {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
			}
		})
	})
}
