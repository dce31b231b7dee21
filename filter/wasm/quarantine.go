package main

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/quarantine"
)

// Forged-flood quarantine (docs/scaling.md), the native edge's rule
// (package quarantine): an ingress id drawing more than the threshold of
// refusals within a minute is answered 429 quarantined, at the headers,
// before its body is buffered or any signature computed, for the
// cool-down. The state lives in the VM context, like the report window, so
// a reconfiguration does not lift a quarantine; each Envoy worker thread has
// its own VM, so each counts the refusals it sees (a flood spread over N
// workers is quarantined after at most N × threshold refusals). A quarantine
// started is counted (switchboard_edge.quarantines.provider.<provider>),
// logged once and reported to ingest once (reason quarantined, with its
// end), which audits ingress.quarantined for the tenant.

// metricQuarantines counts quarantines started (the native edge's
// switchboard_edge_quarantines_total{provider}).
func metricQuarantines(provider string) string {
	return metricPrefix + "quarantines.provider." + label(provider)
}

// quarantine is the VM's quarantine state.
func (v *vmContext) quarantine() *quarantine.Set {
	if v.quar == nil {
		v.quar = quarantine.NewSet(v.quarPolicy)
	}
	return v.quar
}

// quarantined answers a request to a quarantined ingress id: 429 with
// Retry-After, counted; not logged or reported per request (a flood would
// fill the log; the start was logged and reported).
func (h *httpContext) quarantined() types.Action {
	h.finished = true
	d := filter.RejectFor(filter.ReasonQuarantined, h.identity)
	h.plugin.count(metricRejected(h.provider, d.Reason))
	retry := strconv.Itoa(int(h.plugin.vm.quarantine().CoolDown().Seconds()))
	hs := append(contentType(d), [2]string{"retry-after", retry})
	if err := proxywasm.SendHttpResponse(uint32(d.Status), hs, d.Body, -1); err != nil {
		proxywasm.LogErrorf("switchboard: send response: %v", err)
	}
	return types.ActionPause
}

// refused feeds the quarantine with a refusal of the core for id's ingress
// at now; a quarantine it starts is counted, logged and reported.
func (p *pluginContext) refused(id filter.Identity, now int64) {
	if id.IngressID == "" {
		return
	}
	started, until := p.vm.quarantine().Refuse(id.IngressID, now)
	if !started {
		return
	}
	p.count(metricQuarantines(id.Provider))
	p.vm.reportWindow().AddQuarantine(id, now, until)
	proxywasm.LogWarnf("switchboard: ingress quarantined: too many refused requests; ingress=%s provider=%s org=%s installation=%s profile=%s until=%d",
		id.IngressID, label(id.Provider), id.Org, id.Installation, id.Profile, until)
}
