package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var (
	repA    = Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", IngressID: "ing_a"}
	repB    = Identity{Org: "org_b", Installation: "inst_b", Profile: "prof_b", Provider: "telegram", IngressID: "ing_b"}
	repPlat = Identity{Profile: "prof_p", Provider: "slack", IngressID: "ing_p", Platform: true}
)

func TestReportable(t *testing.T) {
	for _, c := range []struct {
		name string
		d    Decision
		want bool
	}{
		{"bad signature of an org's installation", RejectFor(ReasonBadSignature, repA), true},
		{"revoked", RejectFor(ReasonRevoked, repA), true},
		{"malformed request", RejectFor(ReasonMalformedRequest, repA), true},
		{"platform profile's shared ingress", RejectFor(ReasonBadSignature, repPlat), true},
		{"accept", Decision{Accept: true, Identity: repA}, false},
		{"edge-answered handshake", Decision{Respond: true, Identity: repA, Status: 200}, false},
		{"unknown ingress with identity", RejectFor(ReasonUnknownIngress, repA), false},
		{"provider mismatch", RejectFor(ReasonProviderMismatch, repA), false},
		{"no config", RejectFor(ReasonNoConfig, repA), false},
		{"no reason", RejectFor(ReasonNone, repA), false},
		{"reason not the core's", RejectFor("nope", repA), false},
		{"no identity", Reject(ReasonBadSignature), false},
		{"org without installation", RejectFor(ReasonBadSignature, Identity{Org: "org_a", Provider: "slack"}), false},
		{"platform without profile", RejectFor(ReasonBadSignature, Identity{Platform: true, Provider: "slack"}), false},
	} {
		if got := Reportable(c.d); got != c.want {
			t.Errorf("%s: Reportable = %v, want %v", c.name, got, c.want)
		}
	}
	n := 0
	for _, r := range Reasons {
		if ReportableReason(string(r)) {
			n++
		}
	}
	if n != len(Reasons)-4 {
		t.Errorf("%d reportable reasons of %d, want all but no_config, shard_not_loaded, unknown_ingress, provider_mismatch", n, len(Reasons))
	}
}

func TestReportAggregatorWindows(t *testing.T) {
	a := NewReportAggregator(1)
	a.Add(RejectFor(ReasonBadSignature, repA), 102)
	a.Add(RejectFor(ReasonBadSignature, repA), 100)
	a.Add(RejectFor(ReasonBadSignature, repB), 101) // beyond the bound: summary
	a.Add(RejectFor(ReasonRevoked, repPlat), 105)   // summary of another reason
	a.Add(RejectFor(ReasonBadSignature, repPlat), 103)
	if a.Add(Reject(ReasonUnknownIngress), 100) {
		t.Error("unknown ingress counted")
	}
	want := []ReportRow{
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 2, From: 100, To: 102},
		{Reason: "bad_signature", Summary: true, Count: 2, From: 101, To: 103},
		{Reason: "revoked", Summary: true, Count: 1, From: 105, To: 105},
	}
	if got := a.Take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("window:\n got %+v\nwant %+v", got, want)
	}
	if a.Len() != 0 || len(a.Take()) != 0 {
		t.Fatal("Take did not start a new window")
	}
	a.Add(RejectFor(ReasonBadSignature, repB), 110) // the bound is per window
	if got := a.Take(); len(got) != 1 || got[0].Summary || got[0].Org != "org_b" {
		t.Fatalf("next window %+v", got)
	}
}

// TestReportAggregatorQuarantine: quarantines started count into the
// tenant's quarantined row, which keeps the latest end of cool-down; a
// quarantine of an identity that concerns no tenant is not counted.
func TestReportAggregatorQuarantine(t *testing.T) {
	a := NewReportAggregator(0)
	a.Add(RejectFor(ReasonBadSignature, repA), 100)
	if !a.AddQuarantine(repA, 101, 161) || !a.AddQuarantine(repA, 104, 164) || !a.AddQuarantine(repPlat, 102, 132) {
		t.Fatal("quarantine of a tenant not counted")
	}
	a.AddQuarantine(repA, 103, 150) // an earlier end does not shorten the row's
	if a.AddQuarantine(Identity{IngressID: "ing_x"}, 100, 160) {
		t.Fatal("quarantine without a tenant counted")
	}
	want := []ReportRow{
		{Profile: "prof_p", Platform: true, Provider: "slack", Reason: "quarantined", Count: 1, From: 102, To: 102, Until: 132},
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 1, From: 100, To: 100},
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "quarantined", Count: 3, From: 101, To: 104, Until: 164},
	}
	if got := a.Take(); !reflect.DeepEqual(got, want) {
		t.Fatalf("window:\n got %+v\nwant %+v", got, want)
	}
	// Beyond the row bound the summary row keeps the until too.
	b := NewReportAggregator(1)
	b.Add(RejectFor(ReasonBadSignature, repB), 100)
	b.AddQuarantine(repA, 101, 161)
	if got := b.Take(); len(got) != 2 || !got[1].Summary || got[1].Reason != "quarantined" || got[1].Until != 161 {
		t.Fatalf("bounded window %+v", got)
	}
}

// An attack on many tenants' paths holds at most the bound plus one summary
// row per reason, and loses no count.
func TestReportAggregatorBounded(t *testing.T) {
	a := NewReportAggregator(64)
	var total int64
	for i := 0; i < 20000; i++ {
		id := Identity{Org: fmt.Sprintf("org_%d", i), Installation: fmt.Sprintf("inst_%d", i), Provider: "slack"}
		if a.Add(RejectFor(Reasons[i%len(Reasons)], id), 100) {
			total++
		}
	}
	if a.Len() > 64+len(Reasons) {
		t.Fatalf("%d rows held, bound is 64 + %d", a.Len(), len(Reasons))
	}
	if got := (ReportBatch{Rows: a.Take()}).Refusals(); got != total || total == 0 {
		t.Fatalf("rows count %d refusals, %d were added", got, total)
	}
}

func sampleReportBatch() ReportBatch {
	return ReportBatch{Version: 1, ID: strings.Repeat("ab", 16), Edge: "edge-1", Rows: []ReportRow{
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 3, From: 100, To: 104},
		{Profile: "prof_p", Platform: true, Provider: "slack", Reason: "missing_signature", Count: 1, From: 100, To: 100},
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "quarantined", Count: 1, From: 103, To: 103, Until: 163},
		{Reason: "bad_signature", Summary: true, Count: 9, From: 100, To: 104},
	}}
}

// TestEncodeReportLikeEncodingJSON: the hand-written encoder writes the
// bytes encoding/json writes (what the native edge sent before, and what
// ingest parses).
func TestEncodeReportLikeEncodingJSON(t *testing.T) {
	for _, b := range []ReportBatch{
		sampleReportBatch(),
		{Version: 1, ID: strings.Repeat("0", 32), Edge: "e"},                  // nil rows: []
		{Version: 1, ID: "x", Edge: "e<&>", Rows: []ReportRow{{Reason: "r"}}}, // HTML-escaped like encoding/json
	} {
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if b.Rows == nil {
			want = bytes.Replace(want, []byte(`"rows":null`), []byte(`"rows":[]`), 1)
		}
		if got := EncodeReport(b); !bytes.Equal(got, want) {
			t.Errorf("EncodeReport:\n got %s\nwant %s", got, want)
		}
	}
	want := `{"version":1,"id":"abababababababababababababababab","edge":"edge-1","rows":[` +
		`{"org":"org_a","installation":"inst_a","profile":"prof_a","provider":"slack","reason":"bad_signature","count":3,"from":100,"to":104},` +
		`{"profile":"prof_p","platform":true,"provider":"slack","reason":"missing_signature","count":1,"from":100,"to":100},` +
		`{"org":"org_a","installation":"inst_a","profile":"prof_a","provider":"slack","reason":"quarantined","count":1,"from":103,"to":103,"until":163},` +
		`{"reason":"bad_signature","count":9,"from":100,"to":104,"summary":true}]}`
	if got := string(EncodeReport(sampleReportBatch())); got != want {
		t.Errorf("EncodeReport:\n got %s\nwant %s", got, want)
	}
}

// FuzzEncodeReport: for printable-ASCII values (all ingest accepts) the
// encoder matches encoding/json byte for byte; for any value its output is
// JSON that decodes back to the same batch fields.
func FuzzEncodeReport(f *testing.F) {
	f.Add("org_a", "inst_a", "prof_a", "slack", "edge-1", int64(3), int64(100), false, false, int64(0))
	f.Add("", "", "prof_p", "slack", "e", int64(1), int64(1), true, false, int64(0))
	f.Add("", "", "", "", "e\"\\<", int64(9), int64(-1), false, true, int64(-5))
	f.Add("org_a", "inst_a", "prof_a", "slack", "e", int64(1), int64(100), false, false, int64(160))
	f.Fuzz(func(t *testing.T, org, inst, prof, prov, edge string, count, from int64, platform, summary bool, until int64) {
		b := ReportBatch{Version: 1, ID: "id", Edge: edge, Rows: []ReportRow{{Org: org, Installation: inst, Profile: prof,
			Platform: platform, Provider: prov, Reason: "bad_signature", Count: count, From: from, To: from, Until: until, Summary: summary}}}
		got := EncodeReport(b)
		ascii := true
		for _, s := range []string{org, inst, prof, prov, edge} {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x20 || s[i] >= 0x7f {
					ascii = false
				}
			}
		}
		if ascii {
			want, _ := json.Marshal(b)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %s\nwant %s", got, want)
			}
		}
		var back ReportBatch
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if ascii && !reflect.DeepEqual(back, b) {
			t.Fatalf("decoded %+v, want %+v", back, b)
		}
	})
}

func TestNewReportBatchID(t *testing.T) {
	a, b := NewReportBatchID(), NewReportBatchID()
	if len(a) != 32 || strings.Trim(a, "0123456789abcdef") != "" || a == b {
		t.Fatalf("batch ids %q %q", a, b)
	}
}

// BenchmarkReportAdd is the request path's cost of reporting: one refusal
// counted into an existing row.
func BenchmarkReportAdd(b *testing.B) {
	a := NewReportAggregator(0)
	d := RejectFor(ReasonBadSignature, repA)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Add(d, 100)
	}
}
