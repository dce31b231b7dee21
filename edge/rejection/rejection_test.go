package rejection

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
)

var (
	idA    = filter.Identity{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", IngressID: "ing_a"}
	idB    = filter.Identity{Org: "org_b", Installation: "inst_b", Profile: "prof_b", Provider: "telegram", IngressID: "ing_b"}
	idPlat = filter.Identity{Profile: "prof_p", Provider: "slack", IngressID: "ing_p", Platform: true}
)

func TestConcerns(t *testing.T) {
	accept := filter.Decision{Accept: true, Identity: idA}
	respond := filter.Decision{Respond: true, Identity: idA, Status: 200}
	for _, c := range []struct {
		name string
		d    filter.Decision
		want bool
	}{
		{"bad signature of an org's installation", filter.RejectFor(filter.ReasonBadSignature, idA), true},
		{"missing signature", filter.RejectFor(filter.ReasonMissingSignature, idA), true},
		{"stale timestamp", filter.RejectFor(filter.ReasonStaleTimestamp, idA), true},
		{"revoked", filter.RejectFor(filter.ReasonRevoked, idA), true},
		{"body too large", filter.RejectFor(filter.ReasonBodyTooLarge, idA), true},
		{"method not allowed", filter.RejectFor(filter.ReasonMethodNotAllowed, idA), true},
		{"no valid secret", filter.RejectFor(filter.ReasonNoValidSecret, idA), true},
		{"bad verify token", filter.RejectFor(filter.ReasonBadVerifyToken, idA), true},
		{"platform profile's shared ingress", filter.RejectFor(filter.ReasonBadSignature, idPlat), true},
		{"accept", accept, false},
		{"edge-answered handshake", respond, false},
		{"unknown ingress", filter.Reject(filter.ReasonUnknownIngress), false},
		{"provider mismatch", filter.Reject(filter.ReasonProviderMismatch), false},
		{"no config", filter.Reject(filter.ReasonNoConfig), false},
		// A tenant-less reason stays out even if an identity came along.
		{"unknown ingress with identity", filter.RejectFor(filter.ReasonUnknownIngress, idA), false},
		{"no identity", filter.Reject(filter.ReasonBadSignature), false},
		{"org without installation", filter.RejectFor(filter.ReasonBadSignature, filter.Identity{Org: "org_a", Provider: "slack"}), false},
		{"platform without profile", filter.RejectFor(filter.ReasonBadSignature, filter.Identity{Platform: true, Provider: "slack"}), false},
	} {
		if got := Concerns(c.d); got != c.want {
			t.Errorf("%s: Concerns = %v, want %v", c.name, got, c.want)
		}
	}
}

type add struct {
	id     filter.Identity
	reason filter.Reason
	at     int64
}

func TestAggregator(t *testing.T) {
	bad, stale := filter.ReasonBadSignature, filter.ReasonStaleTimestamp
	for _, c := range []struct {
		name    string
		max     int
		windows [][]add // Take after each
		want    [][]Row
	}{
		{
			name:    "one key counted over the window, first and last time kept",
			windows: [][]add{{{idA, bad, 103}, {idA, bad, 101}, {idA, bad, 104}}},
			want:    [][]Row{{{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 3, From: 101, To: 104}}},
		},
		{
			name:    "rows per tenant and reason, sorted",
			windows: [][]add{{{idB, bad, 100}, {idA, stale, 100}, {idA, bad, 101}, {idPlat, bad, 102}}},
			want: [][]Row{{
				{Profile: "prof_p", Platform: true, Provider: "slack", Reason: "bad_signature", Count: 1, From: 102, To: 102},
				{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 1, From: 101, To: 101},
				{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "stale_timestamp", Count: 1, From: 100, To: 100},
				{Org: "org_b", Installation: "inst_b", Profile: "prof_b", Provider: "telegram", Reason: "bad_signature", Count: 1, From: 100, To: 100},
			}},
		},
		{
			name: "Take starts a new window",
			windows: [][]add{
				{{idA, bad, 100}, {idA, bad, 101}},
				{},
				{{idA, bad, 110}},
			},
			want: [][]Row{
				{{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 2, From: 100, To: 101}},
				{},
				{{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 1, From: 110, To: 110}},
			},
		},
		{
			name: "beyond the bound: existing keys still counted, new keys summarised by reason",
			max:  1,
			windows: [][]add{{{idA, bad, 100}, {idB, bad, 101}, {idA, bad, 102}, {idPlat, bad, 103},
				{idB, stale, 104}, {filter.Identity{}, bad, 105}}},
			want: [][]Row{{
				{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 2, From: 100, To: 102},
				{Reason: "bad_signature", Summary: true, Count: 2, From: 101, To: 103},
				{Reason: "stale_timestamp", Summary: true, Count: 1, From: 104, To: 104},
			}},
		},
		{
			name:    "refusals that concern no tenant are not counted",
			windows: [][]add{{{filter.Identity{}, filter.ReasonUnknownIngress, 100}, {idA, filter.ReasonProviderMismatch, 100}, {idA, filter.ReasonNoConfig, 100}}},
			want:    [][]Row{{}},
		},
	} {
		a := NewAggregator(c.max)
		for w, adds := range c.windows {
			for _, x := range adds {
				a.Add(filter.RejectFor(x.reason, x.id), x.at)
			}
			if got := a.Take(); !reflect.DeepEqual(got, c.want[w]) {
				t.Errorf("%s: window %d:\n got %+v\nwant %+v", c.name, w, got, c.want[w])
			}
			if a.Len() != 0 {
				t.Errorf("%s: %d rows left after Take", c.name, a.Len())
			}
		}
	}
}

// An attack on many tenants' paths cannot grow the window past the bound
// plus one summary row per reason.
func TestAggregatorBounded(t *testing.T) {
	a := NewAggregator(64)
	var total int64
	for i := 0; i < 100000; i++ {
		id := filter.Identity{Org: fmt.Sprintf("org_%d", i), Installation: fmt.Sprintf("inst_%d", i), Provider: "slack"}
		if a.Add(filter.RejectFor(filter.Reasons[i%len(filter.Reasons)], id), 100) {
			total++
		}
	}
	if a.Len() > 64+len(filter.Reasons) {
		t.Fatalf("%d rows held, bound is 64 + %d summary rows", a.Len(), len(filter.Reasons))
	}
	var sum int64
	for _, r := range a.Take() {
		sum += r.Count
	}
	if sum != total || total == 0 {
		t.Fatalf("rows count %d refusals, %d were added", sum, total)
	}
}

func goodBatch() Batch {
	return Batch{Version: 1, ID: strings.Repeat("ab", 16), Edge: "edge-1", Rows: []Row{
		{Org: "org_a", Installation: "inst_a", Profile: "prof_a", Provider: "slack", Reason: "bad_signature", Count: 3, From: 100, To: 104},
		{Profile: "prof_p", Platform: true, Provider: "slack", Reason: "missing_signature", Count: 1, From: 100, To: 100},
		{Reason: "bad_signature", Summary: true, Count: 9, From: 100, To: 104},
	}}
}

func TestEncodeParseRoundTrip(t *testing.T) {
	b := goodBatch()
	data, err := Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, b) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", *got, b)
	}
	if got.Refusals() != 13 {
		t.Fatalf("Refusals = %d", got.Refusals())
	}
	empty, _ := Encode(Batch{Version: 1, ID: b.ID, Edge: "e"})
	if _, err := Parse(empty); err != nil {
		t.Fatalf("empty batch %s: %v", empty, err)
	}
}

func TestParseErrorsNameTheField(t *testing.T) {
	good, _ := Encode(goodBatch())
	row := func(s string) string {
		return `{"version":1,"id":"` + strings.Repeat("ab", 16) + `","edge":"e","rows":[` + s + `]}`
	}
	for _, c := range []struct{ name, body, field string }{
		{"not json", `{`, "body"},
		{"trailing data", string(good) + `{}`, "body"},
		{"unknown field", `{"version":1,"secret":"x"}`, "body"},
		{"version missing", `{"id":"x"}`, "version"},
		{"version wrong", `{"version":2}`, "version"},
		{"version a string", `{"version":"1"}`, "version"},
		{"id missing", `{"version":1}`, "id"},
		{"id not hex", `{"version":1,"id":"` + strings.Repeat("AB", 16) + `"}`, "id"},
		{"edge missing", `{"version":1,"id":"` + strings.Repeat("ab", 16) + `"}`, "edge"},
		{"edge with a space", `{"version":1,"id":"` + strings.Repeat("ab", 16) + `","edge":"a b"}`, "edge"},
		{"rows missing", `{"version":1,"id":"` + strings.Repeat("ab", 16) + `","edge":"e"}`, "rows"},
		{"rows not a list", `{"version":1,"id":"` + strings.Repeat("ab", 16) + `","edge":"e","rows":{}}`, "rows"},
		{"reason unknown", row(`{"org":"o","installation":"i","provider":"slack","reason":"nope","count":1,"from":1,"to":1}`), "rows[0].reason"},
		{"reason about no tenant", row(`{"org":"o","installation":"i","provider":"slack","reason":"unknown_ingress","count":1,"from":1,"to":1}`), "rows[0].reason"},
		{"count zero", row(`{"org":"o","installation":"i","provider":"slack","reason":"revoked","count":0,"from":1,"to":1}`), "rows[0].count"},
		{"count not a number", row(`{"org":"o","installation":"i","provider":"slack","reason":"revoked","count":"1","from":1,"to":1}`), "rows.count"},
		{"from missing", row(`{"org":"o","installation":"i","provider":"slack","reason":"revoked","count":1,"to":1}`), "rows[0].from"},
		{"to before from", row(`{"org":"o","installation":"i","provider":"slack","reason":"revoked","count":1,"from":5,"to":4}`), "rows[0].to"},
		{"org missing", row(`{"installation":"i","provider":"slack","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].org"},
		{"installation missing", row(`{"org":"o","provider":"slack","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].installation"},
		{"provider missing", row(`{"org":"o","installation":"i","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].provider"},
		{"org with a quote", row(`{"org":"o\"","installation":"i","provider":"slack","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].org"},
		{"platform row without profile", row(`{"platform":true,"provider":"slack","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].profile"},
		{"platform row with an org", row(`{"platform":true,"org":"o","profile":"p","provider":"slack","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].org"},
		{"summary naming a tenant", row(`{"summary":true,"org":"o","reason":"revoked","count":1,"from":1,"to":1}`), "rows[0].summary"},
		{"until on a row that is not quarantined", row(`{"org":"o","installation":"i","provider":"slack","reason":"revoked","count":1,"from":1,"to":1,"until":60}`), "rows[0].until"},
		{"until before to", row(`{"org":"o","installation":"i","provider":"slack","reason":"quarantined","count":2,"from":1,"to":9,"until":5}`), "rows[0].until"},
		{"second row bad", row(`{"summary":true,"reason":"revoked","count":1,"from":1,"to":1},{"summary":true,"reason":"revoked","count":-1,"from":1,"to":1}`), "rows[1].count"},
	} {
		_, err := Parse([]byte(c.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.field)
		}
	}
	if _, err := Parse(good); err != nil {
		t.Fatalf("good batch refused: %v", err)
	}
}

// FuzzParse: never panics; whatever Parse accepts encodes and parses back to
// the same batch, and every accepted row is one the aggregator could make.
func FuzzParse(f *testing.F) {
	good, _ := Encode(goodBatch())
	f.Add(good)
	f.Add([]byte(`{"version":1,"id":"abababababababababababababababab","edge":"e","rows":[]}`))
	f.Add([]byte(`{"version":1,"id":"abababababababababababababababab","edge":"e","rows":[{"summary":true,"reason":"revoked","count":1,"from":1,"to":1}]}`))
	f.Add([]byte(`{"version":1,"rows":[{"count":1e30}]}`))
	f.Add([]byte(`{"version":1,"id":"abababababababababababababababab","edge":"e","rows":[{"org":"o","installation":"i","provider":"slack","reason":"quarantined","count":1,"from":1,"to":1,"until":61}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("error %v names no field", err)
			}
			return
		}
		for i, r := range b.Rows {
			if r.Count < 1 || r.To < r.From || !knownReasons[r.Reason] {
				t.Fatalf("row %d accepted: %+v", i, r)
			}
		}
		again, err := Encode(*b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := Parse(again)
		if err != nil || !reflect.DeepEqual(b, b2) {
			t.Fatalf("re-encoded batch %s: %v (%+v vs %+v)", again, err, b, b2)
		}
	})
}

// BenchmarkAdd is the request path's cost of reporting: one refusal counted
// into an existing row.
func BenchmarkAdd(b *testing.B) {
	a := NewAggregator(0)
	d := filter.RejectFor(filter.ReasonBadSignature, idA)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		a.Add(d, 100)
	}
}
