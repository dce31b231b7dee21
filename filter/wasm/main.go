// Command wasm is the Switchboard edge verifier as a Proxy-Wasm plugin for
// Envoy (github.com/tetratelabs/proxy-wasm-go-sdk v0.24.0, built with TinyGo:
// `make filter`). It is a thin adapter: every decision is made by the core in
// package filter; this file only moves bytes between Envoy and the core.
//
// Host configuration it needs (see docs/wasm.md):
//   - config.configuration: the filter Config JSON (secrets sealed), delivered
//     by ECDS as resource "switchboard-verify". Empty means "no configuration":
//     plugin start succeeds and every request is refused (503 no_config).
//     A configuration that does not parse or unseal fails plugin start, which
//     Envoy turns into a NACK that keeps the previous configuration.
//   - allow_on_headers_stop_iteration: true (Envoy >= 1.35): the request is held
//     at the headers and no byte of it reaches the upstream before the verdict.
//   - vm_config.environment_variables.host_env_keys: SWITCHBOARD_EDGE_KEY and
//     SWITCHBOARD_ATTESTATION_KEY (read with os.Getenv).
//   - failure_policy: FAIL_CLOSED (the default) or FAIL_RELOAD, never FAIL_OPEN.
//   - a cluster named switchboard-ingest (filter.IngestCluster, which the xDS
//     translation emits): refusal reports are dispatched to it (report.go).
//   - optionally SWITCHBOARD_QUARANTINE_THRESHOLD (refusals per minute, >= 1,
//     default 100) and SWITCHBOARD_QUARANTINE_COOL_DOWN (a Go duration,
//     >= 1s, default 1m): the forged-flood quarantine (quarantine.go), the
//     native edge's --quarantine-threshold and --quarantine-cool-down. Not
//     secret: from the environment or as KEY=VALUE lines of
//     vm_config.configuration.
package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
)

// Environment variables the plugin reads its keys from.
const (
	EnvEdgeKey        = "SWITCHBOARD_EDGE_KEY"
	EnvAttestationKey = "SWITCHBOARD_ATTESTATION_KEY"
	// The quarantine policy (not secret; quarantine.go).
	EnvQuarantineThreshold = "SWITCHBOARD_QUARANTINE_THRESHOLD"
	EnvQuarantineCoolDown  = "SWITCHBOARD_QUARANTINE_COOL_DOWN"
)

func main() {
	proxywasm.SetVMContext(&vmContext{})
}

// vmContext holds what is shared by every plugin context of one VM: the key
// fallback read from vm_config.configuration.
type vmContext struct {
	types.DefaultVMContext
	// vmKeys holds keys given in vm_config.configuration as KEY=VALUE lines.
	// Only for hosts that cannot pass environment variables (the proxytest
	// emulator running the compiled .wasm): vm_config.configuration shows in
	// Envoy's /config_dump, so production passes keys with host_env_keys.
	vmKeys map[string]string
	// reports is the refusal window shared by the VM's plugin contexts
	// (report.go); nil until the first reportable refusal.
	reports *filter.ReportAggregator
	// quarPolicy is read at VM start; quar, the quarantine state shared by
	// the VM's plugin contexts (quarantine.go), is nil until first used.
	quarPolicy quarantine.Policy
	quar       *quarantine.Set
	// shards is the sharded configuration's table by K (shards.go);
	// plugins counts plugin contexts (each plugin's serial).
	shards  map[int]*shardTable
	plugins uint64
}

func (v *vmContext) OnVMStart(vmConfigurationSize int) types.OnVMStartStatus {
	if vmConfigurationSize > 0 {
		data, err := proxywasm.GetVMConfiguration()
		if err != nil {
			proxywasm.LogCriticalf("switchboard: read vm configuration: %v", err)
			return types.OnVMStartStatusFailed
		}
		keys, err := parseKeyLines(string(data))
		if err != nil {
			proxywasm.LogCriticalf("switchboard: vm configuration: %v", err)
			return types.OnVMStartStatusFailed
		}
		v.vmKeys = keys
		if keys[EnvEdgeKey] != "" || keys[EnvAttestationKey] != "" {
			proxywasm.LogWarn("switchboard: keys taken from vm_config.configuration, which /config_dump shows; use host_env_keys in production")
		}
	}
	p, err := quarantinePolicy(v.setting(EnvQuarantineThreshold), v.setting(EnvQuarantineCoolDown))
	if err != nil {
		proxywasm.LogCriticalf("switchboard: %v", err)
		return types.OnVMStartStatusFailed
	}
	v.quarPolicy = p
	return types.OnVMStartStatusOK
}

// setting is the named variable from the environment, else from the VM
// configuration.
func (v *vmContext) setting(name string) string {
	if s := os.Getenv(name); s != "" {
		return s
	}
	return v.vmKeys[name]
}

// quarantinePolicy parses the quarantine settings (empty: the default),
// bounded like the native edge's flags.
func quarantinePolicy(threshold, coolDown string) (quarantine.Policy, error) {
	var p quarantine.Policy
	if threshold != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(threshold), 10, 64)
		if err != nil || n < 1 {
			return p, fmt.Errorf("%s=%q: want an integer >= 1", EnvQuarantineThreshold, threshold)
		}
		p.Threshold = n
	}
	if coolDown != "" {
		d, err := time.ParseDuration(strings.TrimSpace(coolDown))
		if err != nil || d < time.Second {
			return p, fmt.Errorf("%s=%q: want a duration of at least 1s", EnvQuarantineCoolDown, coolDown)
		}
		p.CoolDown = d
	}
	return p.Defaults(), nil
}

// parseKeyLines reads KEY=VALUE lines (blank lines and # comments allowed);
// only the two key variables and the quarantine settings are accepted.
func parseKeyLines(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", i+1)
		}
		k, val := line[:eq], line[eq+1:]
		if !knownSetting(k) {
			return nil, fmt.Errorf("line %d: unknown key %q", i+1, k)
		}
		out[k] = val
	}
	return out, nil
}

func knownSetting(k string) bool {
	switch k {
	case EnvEdgeKey, EnvAttestationKey, EnvQuarantineThreshold, EnvQuarantineCoolDown:
		return true
	}
	return false
}

func (v *vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	v.plugins++
	return &pluginContext{vm: v, serial: v.plugins, counters: map[string]proxywasm.MetricCounter{}}
}

// key returns the named key, base64 (std) of 32 bytes, from the environment,
// else from the VM configuration.
func (v *vmContext) key(name string) ([]byte, error) {
	s := os.Getenv(name)
	if s == "" {
		s = v.vmKeys[name]
	}
	if s == "" {
		return nil, fmt.Errorf("%s is not set (pass it with vm_config.environment_variables.host_env_keys)", name)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %w", name, err)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%s: %d bytes, want 32", name, len(k))
	}
	return k, nil
}

// pluginContext is one plugin configuration. Envoy creates a new one for
// every configuration update; each holds its own edge, so in-flight streams
// keep the configuration they started with.
type pluginContext struct {
	types.DefaultPluginContext
	vm *vmContext
	// edge is nil until a configuration is loaded: requests are then refused.
	edge     *filter.Edge
	counters map[string]proxywasm.MetricCounter
	// attKey signs refusal reports; set with the configuration.
	attKey []byte
	// reportsInFlight counts report batches dispatched and not yet answered.
	reportsInFlight int
	// Sharded (shards.go): shards is K when the configuration is a manifest
	// or a shard (requests are then decided by the VM's shard table);
	// loader and shard say this plugin loaded shard `shard`.
	serial        uint64
	shards, shard int
	loader        bool
}

func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	var data []byte
	if pluginConfigurationSize > 0 {
		var err error
		if data, err = proxywasm.GetPluginConfiguration(); err != nil {
			proxywasm.LogCriticalf("switchboard: read plugin configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	if blank(data) {
		// Fail closed without failing start: Envoy must come up and refuse.
		proxywasm.LogWarn("switchboard: no configuration; every request is refused (no_config)")
		return types.OnPluginStartStatusOK
	}
	edge, attKey, err := p.load(data)
	if err != nil {
		// Keep whatever this context had: Envoy NACKs and keeps the previous one.
		proxywasm.LogCriticalf("switchboard: configuration refused: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.attKey = attKey
	if !p.startSharded(edge) {
		p.edge = edge
	}
	p.startReports()
	proxywasm.LogInfo("switchboard: configuration loaded")
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) load(data []byte) (*filter.Edge, []byte, error) {
	edgeKey, err := p.vm.key(EnvEdgeKey)
	if err != nil {
		return nil, nil, err
	}
	attKey, err := p.vm.key(EnvAttestationKey)
	if err != nil {
		return nil, nil, err
	}
	edge, err := loadEdge(data, edgeKey, attKey)
	if err != nil {
		return nil, nil, err
	}
	return edge, attKey, nil
}

// blank reports whether data is only white space (without copying it: a
// configuration can be tens of megabytes).
func blank(data []byte) bool {
	for _, c := range data {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p, edge: p.edge}
}

// count increments a counter, defining it on first use. Names are built only
// from configured providers and the core's fixed reasons, never from request
// bytes, so their number is bounded.
func (p *pluginContext) count(name string) { p.countN(name, 1) }

func (p *pluginContext) countN(name string, n uint64) {
	c, ok := p.counters[name]
	if !ok {
		c = proxywasm.DefineCounterMetric(name)
		p.counters[name] = c
	}
	c.Increment(n)
}
