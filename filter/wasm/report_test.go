package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
)

var update = flag.Bool("update", false, "rewrite testdata/report*.golden.json")

// tick runs one tick of the plugin and returns the HTTP calls it dispatched.
func (r *run) tick() []proxytest.HttpCalloutAttribute {
	r.t.Helper()
	before := len(r.host.GetCalloutAttributesFromContext(proxytest.PluginContextID))
	r.host.Tick()
	return r.host.GetCalloutAttributesFromContext(proxytest.PluginContextID)[before:]
}

// answer delivers ingest's answer to a dispatched call (no headers: a timeout).
func (r *run) answer(c proxytest.HttpCalloutAttribute, status string) {
	var hs [][2]string
	if status != "" {
		hs = [][2]string{{":status", status}, {"content-type", "application/json"}}
	}
	r.host.CallOnHttpCallResponse(c.CalloutID, hs, nil, []byte(`{}`))
}

// forged is a Slack request to installation n with a signature that does
// not verify.
func forged(n int) req {
	q := slackReq(n, slackNew, now0, slackEvent)
	q.headers[2][1] = "v0=" + strings.Repeat("ab", 32)
	return q
}

// wantReport checks one dispatched call is a report as ingest expects it:
// the ingest cluster, POST /v1/edge/rejections, JSON, a report signature
// under the attestation key over the body, and a strict batch of version 1
// from this node; it returns the batch.
func wantReport(t *testing.T, c proxytest.HttpCalloutAttribute) filter.ReportBatch {
	t.Helper()
	if c.Upstream != "switchboard-ingest" { // xds.IngestName (= filter.IngestCluster)
		t.Errorf("dispatched to cluster %q, want switchboard-ingest", c.Upstream)
	}
	for name, want := range map[string]string{":method": "POST", ":path": "/v1/edge/rejections", "content-type": "application/json"} {
		if got := header(c.Headers, name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	sig := header(c.Headers, filter.HeaderReportSignature)
	if err := filter.VerifyReport(attKey, sig, c.Body, now0, 120); err != nil {
		t.Errorf("report signature %q does not verify: %v", sig, err)
	}
	if err := filter.VerifyReport(edgeKey, sig, c.Body, now0, 120); err == nil {
		t.Error("report signature verifies under the edge key")
	}
	// Strict like ingest's parser (edge/rejection.Parse, which a test there
	// runs on testdata/report.golden.json): no unknown field, one object.
	dec := json.NewDecoder(bytes.NewReader(c.Body))
	dec.DisallowUnknownFields()
	var b filter.ReportBatch
	if err := dec.Decode(&b); err != nil || dec.More() {
		t.Fatalf("report body %s: %v", c.Body, err)
	}
	if b.Version != 1 || len(b.ID) != 32 || strings.Trim(b.ID, "0123456789abcdef") != "" || b.Edge != nodeID {
		t.Errorf("batch version %d id %q edge %q", b.Version, b.ID, b.Edge)
	}
	for i, row := range b.Rows {
		if row.Count < 1 || row.To < row.From || !filter.ReportableReason(row.Reason) {
			t.Errorf("row %d: %+v", i, row)
		}
	}
	return b
}

func row(id filter.Identity, reason filter.Reason, count int64) filter.ReportRow {
	return filter.ReportRow{Org: id.Org, Installation: id.Installation, Profile: id.Profile, Platform: id.Platform,
		Provider: id.Provider, Reason: string(reason), Count: count, From: now0, To: now0}
}

// TestRefusalReportSent: the tenant refusals of a window go to ingest as one
// signed batch on the next tick, with exactly the rows the native edge would
// send; refusals that concern no tenant, accepts and handshakes do not.
func TestRefusalReportSent(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		if p := r.host.GetTickPeriod(); p != 5000 {
			t.Fatalf("tick period %d ms, want 5000", p)
		}
		for _, q := range []req{
			forged(inSlackA), forged(inSlackA), forged(inSlackPlatform),
			slackReq(inSlackRevoked, slackB, now0, slackEvent),
			{method: "GET", path: hookPath("slack", inSlackA)},
			// Not reported: no tenant, accepted, answered handshake.
			slackReq(99, slackNew, now0, slackEvent),
			{path: hookPath("github", inSlackA), body: []byte("{}")},
			slackReq(inSlackA, slackNew, now0, slackEvent),
			{method: "GET", path: hookPath("whatsapp", inWhatsApp) + "?" + sign.MetaVerifyQuery(verifyToken, "7")},
		} {
			r.send(q)
		}
		calls := r.tick()
		if len(calls) != 1 {
			t.Fatalf("%d calls on tick, want 1", len(calls))
		}
		b := wantReport(t, calls[0])
		want := []filter.ReportRow{
			row(identity(in[inSlackPlatform]), filter.ReasonBadSignature, 1),
			row(identity(in[inSlackA]), filter.ReasonBadSignature, 2),
			row(identity(in[inSlackA]), filter.ReasonMethodNotAllowed, 1),
			row(identity(in[inSlackRevoked]), filter.ReasonRevoked, 1),
		}
		if !reflect.DeepEqual(b.Rows, want) {
			t.Fatalf("rows:\n got %+v\nwant %+v", b.Rows, want)
		}
		checkGolden(t, bytes.Replace(calls[0].Body, []byte(b.ID), []byte(strings.Repeat("0", 32)), 1))

		r.answer(calls[0], "200")
		wantCounter(t, r, metricReports("sent"), 1)
		if n := counter(r, metricReportsDropped); n != 0 {
			t.Errorf("%s = %d after a sent batch", metricReportsDropped, n)
		}
		if calls := r.tick(); len(calls) != 0 {
			t.Fatalf("a tick after the window was sent dispatched %d calls", len(calls))
		}
		noSecretInLogs(t, r)
	})
}

// checkGolden compares the report body (batch id zeroed) with
// testdata/report.golden.json, which edge/rejection's tests parse with
// ingest's parser: the bytes the plugin sends are bytes ingest accepts.
func checkGolden(t *testing.T, body []byte) {
	t.Helper()
	checkGoldenFile(t, "report.golden.json", body)
}

// checkGoldenFile compares body with testdata/name (-update rewrites it).
func checkGoldenFile(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(body, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(append(body, '\n'), want) {
		t.Errorf("report body differs from %s:\n got %s\nwant %s", path, body, want)
	}
}

// TestRefusalReportNothingToSend: no tenant refusal in the window (only
// accepts, unknown paths, provider mismatches, or no configuration at all)
// dispatches nothing.
func TestRefusalReportNothingToSend(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		r.send(slackReq(inSlackA, slackNew, now0, slackEvent))
		r.send(slackReq(99, slackNew, now0, slackEvent))
		r.send(req{path: hookPath("github", inSlackA), body: []byte("{}")})
		if calls := r.tick(); len(calls) != 0 {
			t.Fatalf("%d calls with no tenant refusal", len(calls))
		}
		r.reset()

		r = h.start(t, nil) // no configuration: no key to sign with, nothing to report
		r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantReject(t, filter.ReasonNoConfig)
		if p := r.host.GetTickPeriod(); p != 0 {
			t.Errorf("tick period %d without a configuration", p)
		}
		if calls := r.tick(); len(calls) != 0 {
			t.Fatalf("%d calls without a configuration", len(calls))
		}
	})
}

// TestRefusalReportFailureCounted: a batch ingest refuses (503) or does not
// answer (timeout: no headers) is dropped and counted, and its refusals are
// counted as dropped; the plugin keeps reporting afterwards.
func TestRefusalReportFailureCounted(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		for i, status := range []string{"503", "", "401"} {
			for j := 0; j <= i; j++ {
				r.send(forged(inSlackA))
			}
			calls := r.tick()
			if len(calls) != 1 {
				t.Fatalf("window %d: %d calls", i, len(calls))
			}
			wantReport(t, calls[0])
			r.answer(calls[0], status)
		}
		wantCounter(t, r, metricReports("failed"), 3)
		wantCounter(t, r, metricReportsDropped, 1+2+3)
		if n := counter(r, metricReports("sent")); n != 0 {
			t.Errorf("sent = %d", n)
		}
		warned := false
		for _, l := range r.host.GetWarnLogs() {
			warned = warned || strings.Contains(l, "refusal report dropped: ingest answered 503")
		}
		if !warned {
			t.Errorf("no warning for the refused batch; warn logs %q", r.host.GetWarnLogs())
		}
		r.send(forged(inSlackA))
		calls := r.tick()
		if len(calls) != 1 {
			t.Fatalf("after failures: %d calls", len(calls))
		}
		r.answer(calls[0], "200")
		wantCounter(t, r, metricReports("sent"), 1)
	})
}

// TestRefusalReportInFlightBound: at most 8 batches await ingest's answer;
// a window closed beyond that is dropped (counted queue_full, its refusals
// dropped) rather than held, and an answer frees a slot.
func TestRefusalReportInFlightBound(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		var pending []proxytest.HttpCalloutAttribute
		for i := 0; i < maxReportsInFlight; i++ {
			r.send(forged(inSlackA))
			calls := r.tick()
			if len(calls) != 1 {
				t.Fatalf("tick %d: %d calls", i, len(calls))
			}
			pending = append(pending, calls[0])
		}
		r.send(forged(inSlackA))
		r.send(forged(inSlackB))
		if calls := r.tick(); len(calls) != 0 {
			t.Fatalf("%d calls with %d batches in flight", len(calls), maxReportsInFlight)
		}
		wantCounter(t, r, metricReports("queue_full"), 1)
		wantCounter(t, r, metricReportsDropped, 2)
		if calls := r.tick(); len(calls) != 0 { // the dropped window is gone, not retried
			t.Fatalf("dropped window resent: %d calls", len(calls))
		}
		// Answer the newest (the emulator reuses the lowest free callout id).
		r.answer(pending[len(pending)-1], "200")
		r.send(forged(inSlackB))
		calls := r.tick()
		if len(calls) != 1 {
			t.Fatalf("after an answer: %d calls", len(calls))
		}
		if b := wantReport(t, calls[0]); len(b.Rows) != 1 || b.Rows[0].Org != "org_b" || b.Rows[0].Count != 1 {
			t.Errorf("rows %+v", b.Rows)
		}
	})
}

// TestRefusalReportSurvivesReconfiguration: the window belongs to the VM, so
// refusals counted under one configuration are reported by the next plugin
// context of the same VM.
func TestRefusalReportSurvivesReconfiguration(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		r.send(forged(inSlackA))
		r.reset()
		cfg.Version = "v-test-2"
		r = h.mustStart(t, marshal(t, cfg))
		calls := r.tick()
		if len(calls) != 1 {
			t.Fatalf("%d calls after reconfiguration", len(calls))
		}
		if b := wantReport(t, calls[0]); !reflect.DeepEqual(b.Rows, []filter.ReportRow{row(identity(in[inSlackA]), filter.ReasonBadSignature, 1)}) {
			t.Errorf("rows %+v", b.Rows)
		}
	})
}
