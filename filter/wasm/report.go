package main

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/switchboard-dev/switchboard/filter"
)

// Refusal reports (docs/audit.md, docs/wasm.md): the refusals that concern a
// tenant are counted into the core's filter.ReportAggregator (the native
// edge's code), and every tick the window goes to ingest as one signed batch
// through Envoy's ingest cluster. A request only adds to a map in memory;
// the dispatch happens from the tick, never from an HTTP context, and Envoy
// answers it asynchronously.
const (
	// reportTickMillis is the window (the native edge's --report-interval default).
	reportTickMillis = 5000
	// reportTimeoutMillis bounds one dispatch to ingest.
	reportTimeoutMillis = 5000
	// maxReportsInFlight bounds the batches awaiting ingest's answer per
	// plugin context (the native edge's queue of 8); a tick beyond it drops
	// its window.
	maxReportsInFlight = 8
	// defaultEdgeName names the edge in a batch when Envoy gives no node id.
	defaultEdgeName = "envoy"
)

// noteRefusal counts d into the VM's window if it concerns a tenant.
func (p *pluginContext) noteRefusal(d filter.Decision) {
	if !filter.Reportable(d) {
		return
	}
	p.vm.reportWindow().Add(d, now())
}

// reportWindow is the VM's aggregator. It lives in the VM context, not the
// plugin context, so a reconfiguration (a new plugin context in the same VM)
// does not lose the refusals counted under the previous one.
func (v *vmContext) reportWindow() *filter.ReportAggregator {
	if v.reports == nil {
		v.reports = filter.NewReportAggregator(0)
	}
	return v.reports
}

// startReports asks Envoy for ticks; called once a configuration (and with
// it the attestation key) is loaded.
func (p *pluginContext) startReports() {
	if err := proxywasm.SetTickPeriodMilliSeconds(reportTickMillis); err != nil {
		proxywasm.LogErrorf("switchboard: refusal reports disabled: set tick period: %v", err)
	}
}

func (p *pluginContext) OnTick() { p.flushReports() }

// flushReports closes the window and dispatches it to ingest. An empty
// window sends nothing; with maxReportsInFlight batches unanswered, or a
// dispatch Envoy refuses, the batch is dropped and its refusals counted.
func (p *pluginContext) flushReports() {
	if p.vm.reports == nil || p.vm.reports.Len() == 0 || len(p.attKey) == 0 {
		return
	}
	b := filter.ReportBatch{Version: filter.ReportVersion, ID: filter.NewReportBatchID(), Edge: edgeName(), Rows: p.vm.reports.Take()}
	refusals := b.Refusals()
	if p.reportsInFlight >= maxReportsInFlight {
		p.count(metricReports("queue_full"))
		p.countN(metricReportsDropped, uint64(refusals))
		proxywasm.LogWarnf("switchboard: refusal report dropped: %d batches await ingest; rows=%d refusals=%d",
			p.reportsInFlight, len(b.Rows), refusals)
		return
	}
	body := filter.EncodeReport(b)
	headers := [][2]string{
		{":method", "POST"},
		{":path", filter.ReportPath},
		{":authority", filter.IngestCluster},
		{"content-type", "application/json"},
		{filter.HeaderReportSignature, filter.SignReport(p.attKey, body, now())},
	}
	p.reportsInFlight++
	_, err := proxywasm.DispatchHttpCall(filter.IngestCluster, headers, body, nil, reportTimeoutMillis,
		func(numHeaders, _, _ int) {
			p.reportsInFlight--
			status := 0
			if numHeaders > 0 {
				if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
					status, _ = strconv.Atoi(headerValue(hs, ":status"))
				}
			}
			if status/100 == 2 {
				p.count(metricReports("sent"))
				return
			}
			// status 0: no answer (timeout, reset, no healthy host).
			p.count(metricReports("failed"))
			p.countN(metricReportsDropped, uint64(refusals))
			proxywasm.LogWarnf("switchboard: refusal report dropped: ingest answered %d; batch=%s rows=%d refusals=%d",
				status, b.ID, len(b.Rows), refusals)
		})
	if err != nil {
		p.reportsInFlight--
		p.count(metricReports("failed"))
		p.countN(metricReportsDropped, uint64(refusals))
		proxywasm.LogWarnf("switchboard: refusal report dropped: dispatch to cluster %s: %v; rows=%d refusals=%d",
			filter.IngestCluster, err, len(b.Rows), refusals)
	}
}

// edgeName is Envoy's node id, kept to what ingest accepts as an edge name
// (at most 128 printable ASCII characters without space, quote or
// backslash; anything else becomes '_'), so an odd node id cannot make
// ingest refuse every batch.
func edgeName() string {
	id, err := proxywasm.GetProperty([]string{"node", "id"})
	if err != nil || len(id) == 0 {
		return defaultEdgeName
	}
	if len(id) > 128 {
		id = id[:128]
	}
	out := make([]byte, len(id))
	for i, c := range id {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			c = '_'
		}
		out[i] = c
	}
	return string(out)
}
