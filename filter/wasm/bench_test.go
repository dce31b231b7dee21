package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
)

// benchVMs runs fn on the Go code and, when EnvFilterWasm is set, on the
// compiled module, as sub-benchmarks "go" and "wasm".
func benchVMs(b *testing.B, fn func(b *testing.B, h *harness)) {
	b.Run("go", func(b *testing.B) {
		b.Setenv(EnvEdgeKey, base64.StdEncoding.EncodeToString(edgeKey))
		b.Setenv(EnvAttestationKey, base64.StdEncoding.EncodeToString(attKey))
		fn(b, &harness{vm: &vmContext{}, now: now0})
	})
	b.Run("wasm", func(b *testing.B) {
		vm := loadWasm(b)
		fn(b, &harness{vm: vm, guest: guestModule(b, vm), vmConfig: keyLines(edgeKey, attKey), now: now0})
	})
}

// loadWasm loads the compiled plugin named by EnvFilterWasm, or skips.
func loadWasm(tb testing.TB) proxytest.WasmVMContext {
	tb.Helper()
	path := os.Getenv(EnvFilterWasm)
	if path == "" {
		tb.Skip(EnvFilterWasm + " is not set: build the plugin with `make filter` (TinyGo) to measure the compiled module")
	}
	code, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%s: %v", EnvFilterWasm, err)
	}
	vm, err := proxytest.NewWasmVMContext(code)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	tb.Cleanup(func() { vm.Close() })
	return vm
}

// slackEvent2KiB is a Slack event_callback body of exactly 2048 bytes (the
// same shape as the core's BenchmarkDecideSlack2KiB).
func slackEvent2KiB() string {
	head := `{"token":"XXYYZZ","team_id":"T123ABC","api_app_id":"A123ABC","event":{"type":"message","channel":"C123ABC","user":"U123ABC","ts":"1700000000.000100","text":"`
	tail := `"},"type":"event_callback","event_id":"Ev123ABC","event_time":1700000000}`
	return head + strings.Repeat("a", 2048-len(head)-len(tail)) + tail
}

// BenchmarkPluginSlack2KiB is one whole request through the plugin (headers,
// body, verdict, identity headers, context completed and deleted): the
// Envoy path's cost per webhook, on the Go code and on the compiled module
// side by side. Compare with filter's BenchmarkDecideSlack2KiB (the decision
// alone, native).
func BenchmarkPluginSlack2KiB(b *testing.B) {
	body := slackEvent2KiB()
	benchVMs(b, func(b *testing.B, h *harness) {
		cfg, _ := fixture(b)
		r := h.mustStart(b, marshal(b, cfg))
		q := slackReq(inSlackA, slackNew, now0, body)
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if o := r.send(q); !o.forwarded {
				b.Fatalf("request %d not forwarded: %+v", i, o.local)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
	})
}

// bigConfig is an edge configuration of n Slack installations, one sealed
// signing secret each (the shape the control plane pushes).
func bigConfig(tb testing.TB, n int) []byte {
	cfg := filter.Config{Version: fmt.Sprintf("v-bench-%d", n)}
	cfg.Installations = make([]filter.Installation, n)
	for i := range cfg.Installations {
		in := orgInst(i+1, "slack", filter.SchemeSlackV0, fmt.Sprintf("org_%d", i))
		signing(tb, &in, "sec", fmt.Sprintf("signing-secret-%d", i), 0, 0)
		cfg.Installations[i] = in
	}
	return marshal(tb, cfg)
}

// EnvWasmStart100k asks BenchmarkPluginStart for the compiled module's 100k
// start too, which runs for many minutes.
const EnvWasmStart100k = "SWITCHBOARD_WASM_BENCH_100K"

// BenchmarkPluginStart measures what a VM pays per pushed configuration:
// OnPluginStart parses the configuration and unseals every secret. Envoy
// pays it on every ECDS update, on every worker's VM.
func BenchmarkPluginStart(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := bigConfig(b, n)
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			benchVMs(b, func(b *testing.B, h *harness) {
				if h.guest != nil && n > 10_000 && os.Getenv(EnvWasmStart100k) == "" {
					// Measured once: over 11 minutes of CPU without finishing
					// (TinyGo's collector; docs/benchmarks.md). Asked for only.
					b.Skip("the compiled module's 100k start takes many minutes: set " + EnvWasmStart100k + "=1 to run it")
				}
				b.SetBytes(int64(len(data)))
				b.ResetTimer()
				var cpu time.Duration
				for i := 0; i < b.N; i++ {
					cpu0 := cpuTime()
					r := h.start(b, data)
					if r.start != types.OnPluginStartStatusOK {
						b.Fatalf("plugin start failed: %v", r.host.GetCriticalLogs())
					}
					cpu += cpuTime() - cpu0
					b.StopTimer()
					r.reset()
					b.StartTimer()
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
}
