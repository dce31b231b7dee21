package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tetratelabs/wazero/api"

	"github.com/switchboard-dev/switchboard/filter"
)

// EnvFilterWasm names a compiled plugin (TinyGo, `make filter`); when set,
// every test also runs on it through proxytest.NewWasmVMContext.
const EnvFilterWasm = "SWITCHBOARD_FILTER_WASM"

var (
	edgeKey = bytes.Repeat([]byte{0x11}, 32)
	attKey  = bytes.Repeat([]byte{0x22}, 32)
)

// now0 is the pinned clock: passed to the plugin as Envoy's request.time.
const now0 = int64(1_800_000_000)

// nodeID is Envoy's node id as the plugin sees it (node.id property).
const nodeID = "envoy-test-1"

// harness runs the plugin on one VM: the Go code or the compiled module.
type harness struct {
	vm       types.VMContext
	guest    api.Module // the compiled module (nil for the Go code): see guest_test.go
	vmConfig []byte     // keys for the compiled module, which sees no environment
	now      int64
}

// eachVM runs fn on the Go code and, when EnvFilterWasm is set, on the
// compiled module (the pattern of the SDK's own examples' tests).
func eachVM(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Helper()
	t.Run("go", func(t *testing.T) {
		t.Setenv(EnvEdgeKey, base64.StdEncoding.EncodeToString(edgeKey))
		t.Setenv(EnvAttestationKey, base64.StdEncoding.EncodeToString(attKey))
		fn(t, &harness{vm: &vmContext{}, now: now0})
	})
	t.Run("wasm", func(t *testing.T) {
		path := os.Getenv(EnvFilterWasm)
		if path == "" {
			t.Skip(EnvFilterWasm + " is not set: build the plugin with `make filter` (needs TinyGo) and set " +
				EnvFilterWasm + "=$PWD/bin/filter.wasm (an absolute path: the test runs in filter/wasm) to run this test on the compiled module too")
		}
		code, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", EnvFilterWasm, err)
		}
		vm, err := proxytest.NewWasmVMContext(code)
		if err != nil {
			t.Fatalf("load %s: %v", path, err)
		}
		t.Cleanup(func() { vm.Close() })
		fn(t, &harness{vm: vm, guest: guestModule(t, vm), vmConfig: keyLines(edgeKey, attKey), now: now0})
	})
}

func keyLines(edge, att []byte) []byte {
	return []byte(EnvEdgeKey + "=" + base64.StdEncoding.EncodeToString(edge) + "\n" +
		EnvAttestationKey + "=" + base64.StdEncoding.EncodeToString(att) + "\n")
}

// run is one plugin context (one configuration) on the harness's VM.
type run struct {
	t     testing.TB
	host  proxytest.HostEmulator
	guest api.Module
	start types.OnPluginStartStatus
	reset func()
}

// start creates an emulator with configuration cfg on the harness's VM and
// starts the plugin. Starting another run on the same VM is a
// reconfiguration: Envoy creates a new plugin context in the same VM.
func (h *harness) start(t testing.TB, cfg []byte) *run {
	t.Helper()
	r := h.emulate(t, cfg)
	if st := r.host.StartVM(); st != types.OnVMStartStatusOK {
		t.Fatalf("StartVM = %v", st)
	}
	r.start = r.host.StartPlugin()
	return r
}

// startVM reports whether the VM starts with the harness's VM configuration
// (and environment); the plugin is not started.
func (h *harness) startVM(t testing.TB, cfg []byte) bool {
	t.Helper()
	return h.emulate(t, cfg).host.StartVM() == types.OnVMStartStatusOK
}

// emulate creates the host emulator of a run on the harness's VM.
func (h *harness) emulate(t testing.TB, cfg []byte) *run {
	t.Helper()
	le := make([]byte, 8)
	binary.LittleEndian.PutUint64(le, uint64(h.now*1e9))
	opt := proxytest.NewEmulatorOption().
		WithVMContext(h.vm).
		WithPluginConfiguration(cfg).
		WithVMConfiguration(h.vmConfig).
		WithProperty([]string{"request", "time"}, le).
		WithProperty([]string{"node", "id"}, []byte(nodeID))
	host, reset := proxytest.NewHostEmulator(opt)
	var once sync.Once
	r := &run{t: t, host: host, guest: h.guest, reset: func() { once.Do(reset) }}
	t.Cleanup(r.reset)
	return r
}

// mustStart is start that requires the plugin to accept the configuration.
func (h *harness) mustStart(t testing.TB, cfg []byte) *run {
	t.Helper()
	r := h.start(t, cfg)
	if r.start != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start failed; logs: %v", r.host.GetCriticalLogs())
	}
	return r
}

// req is one request as Envoy hands it to the filter.
type req struct {
	method, path string
	headers      [][2]string
	body         []byte
	chunks       int  // body split into this many frames (default 1)
	noLength     bool // no content-length (chunked transfer)
}

// outcome is what the plugin did with a request.
type outcome struct {
	forwarded bool                         // the final action let the request through
	leaked    bool                         // some callback continued before the verdict
	local     *proxytest.LocalHttpResponse // local reply, if any
	upstream  [][2]string                  // request headers as they would go upstream
	frames    int                          // body frames the plugin was given
}

func (r *run) send(q req) outcome {
	r.t.Helper()
	host := r.host
	id := host.InitializeHttpContext()
	defer r.complete(id)
	method := q.method
	if method == "" {
		method = "POST"
	}
	hs := [][2]string{{":method", method}, {":path", q.path}, {":authority", "hooks.example.com"}, {":scheme", "https"}}
	hs = append(hs, q.headers...)
	if len(q.body) > 0 && !q.noLength {
		hs = append(hs, [2]string{"content-length", strconv.Itoa(len(q.body))})
	}
	var o outcome
	act := host.CallOnRequestHeaders(id, hs, len(q.body) == 0)
	if o.local = host.GetSentLocalResponse(id); o.local != nil || len(q.body) == 0 {
		o.forwarded = o.local == nil && act == types.ActionContinue
		o.upstream = host.GetCurrentRequestHeaders(id)
		return o
	}
	if act == types.ActionContinue {
		o.leaked = true // headers went upstream before the body was verified
	}
	n := q.chunks
	if n < 1 {
		n = 1
	}
	size := (len(q.body) + n - 1) / n
	for i := 0; i < len(q.body); i += size {
		end := i + size
		if end > len(q.body) {
			end = len(q.body)
		}
		last := end == len(q.body)
		act = host.CallOnRequestBody(id, q.body[i:end], last)
		o.frames++
		if o.local = host.GetSentLocalResponse(id); o.local != nil {
			return o
		}
		if !last && act == types.ActionContinue {
			o.leaked = true
		}
	}
	o.forwarded = act == types.ActionContinue
	o.upstream = host.GetCurrentRequestHeaders(id)
	return o
}

// complete ends a context as Envoy does: proxy_on_log, then proxy_on_delete
// (which proxytest does not pass on to a compiled guest: guest_test.go).
func (r *run) complete(id uint32) {
	r.host.CompleteHttpContext(id)
	if r.guest != nil {
		deleteContext(r.t, r.guest, id)
	}
}

// wantReject checks a local refusal with reason's status and JSON body, and
// that nothing went upstream.
func (o outcome) wantReject(t *testing.T, reason filter.Reason) {
	t.Helper()
	if o.leaked || o.forwarded {
		t.Fatalf("want reject %s: request was let through (leaked=%v forwarded=%v)", reason, o.leaked, o.forwarded)
	}
	if o.local == nil {
		t.Fatalf("want reject %s: no local response", reason)
	}
	if int(o.local.StatusCode) != reason.Status() {
		t.Errorf("status %d, want %d (%s); body %s", o.local.StatusCode, reason.Status(), reason, o.local.Data)
	}
	if want := `{"error":"` + string(reason) + `"}`; string(o.local.Data) != want {
		t.Errorf("body %s, want %s", o.local.Data, want)
	}
	if ct := header(o.local.Headers, "content-type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
}

// wantAccept checks the request went through with exactly the trusted
// identity headers of id and an attestation that verifies over body.
func (o outcome) wantAccept(t *testing.T, id filter.Identity, body []byte) {
	t.Helper()
	if o.local != nil {
		t.Fatalf("want accept: local response %d %s", o.local.StatusCode, o.local.Data)
	}
	if o.leaked || !o.forwarded {
		t.Fatalf("want accept: leaked=%v forwarded=%v", o.leaked, o.forwarded)
	}
	seen := map[string]int{}
	for _, kv := range o.upstream {
		if strings.HasPrefix(kv[0], filter.HeaderPrefix) {
			seen[kv[0]]++
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s appears %d times upstream", name, n)
		}
	}
	got, err := filter.VerifyAttestation(attKey, func(name string) string { return header(o.upstream, name) }, body, now0, 60)
	if err != nil {
		t.Fatalf("attestation does not verify: %v; headers %v", err, o.upstream)
	}
	if got != id {
		t.Errorf("identity %+v, want %+v", got, id)
	}
}

func header(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func ingress(n int) string { return fmt.Sprintf("%032x", n) }

func hookPath(provider string, n int) string { return "/v1/hooks/" + provider + "/" + ingress(n) }

func sealed(t testing.TB, ingressID, secretID, plaintext string) string {
	t.Helper()
	s, err := filter.Seal(edgeKey, []byte(plaintext), filter.SealAAD(ingressID, secretID))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func marshal(t testing.TB, cfg filter.Config) []byte {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexKey(k ed25519.PublicKey) string { return hex.EncodeToString(k) }
