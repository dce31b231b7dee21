package rejection

import (
	"bytes"
	"os"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
)

// TestParsesWasmPluginReport: the batch the Envoy Wasm plugin sends (its
// tests pin the exact bytes, batch id zeroed, in this golden file) is one
// ingest's parser accepts, with the rows the plugin counted.
func TestParsesWasmPluginReport(t *testing.T) {
	data, err := os.ReadFile("../../filter/wasm/testdata/report.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(bytes.TrimSuffix(data, []byte("\n")))
	if err != nil {
		t.Fatalf("ingest refuses the plugin's report: %v", err)
	}
	if b.Edge != "envoy-test-1" || len(b.Rows) != 4 || b.Refusals() != 5 {
		t.Fatalf("batch %+v", b)
	}
	plat := b.Rows[0]
	if !plat.Platform || plat.Profile != "prof_platform_slack" || plat.Org != "" || plat.Reason != string(filter.ReasonBadSignature) {
		t.Errorf("platform row %+v", plat)
	}
	if r := b.Rows[1]; r.Org != "org_a" || r.Installation == "" || r.Count != 2 {
		t.Errorf("org row %+v", r)
	}
	if again := filter.EncodeReport(*b); !bytes.Equal(again, bytes.TrimSuffix(data, []byte("\n"))) {
		t.Errorf("re-encoded batch differs:\n%s\n%s", again, data)
	}
}

// TestParsesWasmPluginQuarantineReport: the batch the plugin sends when it
// quarantines an ingress id (filter/wasm TestQuarantineForgedFlood pins
// it) is accepted by ingest's parser, its quarantined row with its until.
func TestParsesWasmPluginQuarantineReport(t *testing.T) {
	data, err := os.ReadFile("../../filter/wasm/testdata/report-quarantine.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(bytes.TrimSuffix(data, []byte("\n")))
	if err != nil {
		t.Fatalf("ingest refuses the plugin's report: %v", err)
	}
	var q *Row
	for i := range b.Rows {
		if b.Rows[i].Reason == string(filter.ReasonQuarantined) {
			q = &b.Rows[i]
		}
	}
	if q == nil || q.Org != "org_a" || q.Count != 1 || q.Until != q.From+30 {
		t.Fatalf("quarantined row %+v in %+v", q, b.Rows)
	}
}
