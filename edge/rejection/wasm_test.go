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
