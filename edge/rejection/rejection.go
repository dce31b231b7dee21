// Package rejection is the main module's view of the edge refusal report
// (shared by the native edge and the Envoy Wasm plugin): its types and
// aggregation are the filter core's (filter.ReportAggregator,
// filter.EncodeReport; TinyGo-safe, so the plugin uses the same code), and
// this package adds ingest's strict, fuzzed parser of the batch ingest
// audits (POST /v1/edge/rejections, each row a webhook.reject).
//
// Batch JSON (version 1):
//
//	{"version":1,"id":"<32 hex>","edge":"<node id>","rows":[
//	  {"org":"org_…","installation":"inst_…","profile":"prof_…","provider":"slack",
//	   "reason":"bad_signature","count":3,"from":1772000000,"to":1772000004}]}
//
// A platform profile's shared ingress has no org or installation: its rows
// carry "platform":true and the profile. Refusals beyond the row bound are
// summarised per reason in rows with "summary":true and no tenant. A
// "quarantined" row (quarantines the edge started) may carry "until", the
// end of the cool-down (unix seconds, not before "to"); no other row does.
package rejection

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/switchboard-dev/switchboard/filter"
)

// The shared definitions (filter/reportbatch.go) under this package's names.
const (
	Path           = filter.ReportPath
	Version        = filter.ReportVersion
	MaxBatchBytes  = filter.ReportMaxBatchBytes
	MaxRows        = filter.ReportMaxRows
	DefaultMaxKeys = filter.DefaultReportMaxKeys
	maxField       = 128
)

type (
	// Row is one aggregated refusal count.
	Row = filter.ReportRow
	// Batch is what one flush sends.
	Batch = filter.ReportBatch
	// Aggregator counts refusals of one window (bounded); not safe for
	// concurrent use.
	Aggregator = filter.ReportAggregator
)

// Concerns reports whether d is a refusal that concerns a tenant.
func Concerns(d filter.Decision) bool { return filter.Reportable(d) }

// NewAggregator itemises at most maxKeys rows per window (<= 0: DefaultMaxKeys).
func NewAggregator(maxKeys int) *Aggregator { return filter.NewReportAggregator(maxKeys) }

// NewBatchID returns a random batch id (32 lowercase hex).
func NewBatchID() string { return filter.NewReportBatchID() }

// Encode returns the batch JSON (filter.EncodeReport; never fails).
func Encode(b Batch) ([]byte, error) { return filter.EncodeReport(b), nil }

var knownReasons = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range filter.Reasons {
		if filter.ReportableReason(string(r)) {
			m[string(r)] = true
		}
	}
	return m
}()

// FieldError names the field of a batch that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, a ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Parse decodes and checks a batch strictly: unknown fields, trailing data,
// a wrong version, a malformed id, an unknown reason, a row without its
// tenant (or a summary row with one), a count below 1, a window that ends
// before it starts or an until on a row that is not quarantined (or before
// its window's end) are refused with a *FieldError naming the field.
func Parse(data []byte) (*Batch, error) {
	if len(data) > MaxBatchBytes {
		return nil, fieldErr("body", "over %d bytes", MaxBatchBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b struct {
		Version *int    `json:"version"`
		ID      *string `json:"id"`
		Edge    *string `json:"edge"`
		Rows    []Row   `json:"rows"`
	}
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, fieldErr(te.Field, "want a JSON %s", te.Type)
		}
		return nil, fieldErr("body", "not a batch: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fieldErr("body", "data after the batch object")
	}
	switch {
	case b.Version == nil:
		return nil, fieldErr("version", "missing")
	case *b.Version != Version:
		return nil, fieldErr("version", "unsupported %d (want %d)", *b.Version, Version)
	case b.ID == nil:
		return nil, fieldErr("id", "missing")
	case !isHexID(*b.ID):
		return nil, fieldErr("id", "want 32 lowercase hex characters")
	case b.Edge == nil || *b.Edge == "":
		return nil, fieldErr("edge", "missing")
	case !isToken(*b.Edge):
		return nil, fieldErr("edge", "want at most %d printable ASCII characters without spaces", maxField)
	case b.Rows == nil:
		return nil, fieldErr("rows", "missing")
	case len(b.Rows) > MaxRows:
		return nil, fieldErr("rows", "%d rows, at most %d", len(b.Rows), MaxRows)
	}
	for i, r := range b.Rows {
		if err := checkRow(r); err != nil {
			fe := err.(*FieldError)
			fe.Field = "rows[" + strconv.Itoa(i) + "]." + fe.Field
			return nil, fe
		}
	}
	return &Batch{Version: *b.Version, ID: *b.ID, Edge: *b.Edge, Rows: b.Rows}, nil
}

func checkRow(r Row) error {
	if !knownReasons[r.Reason] {
		return fieldErr("reason", "not a refusal reason that concerns a tenant")
	}
	if r.Count < 1 {
		return fieldErr("count", "must be at least 1")
	}
	if r.From <= 0 {
		return fieldErr("from", "want unix seconds")
	}
	if r.To < r.From {
		return fieldErr("to", "before from")
	}
	switch {
	case r.Until != 0 && r.Reason != string(filter.ReasonQuarantined):
		return fieldErr("until", "only on a quarantined row")
	case r.Until != 0 && r.Until < r.To:
		return fieldErr("until", "before to")
	}
	for _, f := range [...]struct{ name, v string }{{"org", r.Org}, {"installation", r.Installation},
		{"profile", r.Profile}, {"provider", r.Provider}} {
		if f.v != "" && !isToken(f.v) {
			return fieldErr(f.name, "want at most %d printable ASCII characters without spaces", maxField)
		}
	}
	switch {
	case r.Summary:
		if r.Org != "" || r.Installation != "" || r.Profile != "" || r.Platform || r.Provider != "" {
			return fieldErr("summary", "a summary row names no tenant or provider")
		}
		return nil
	case r.Provider == "":
		return fieldErr("provider", "missing")
	case r.Platform:
		if r.Profile == "" {
			return fieldErr("profile", "missing on a platform row")
		}
		if r.Org != "" || r.Installation != "" {
			return fieldErr("org", "a platform row names no org or installation")
		}
	case r.Org == "":
		return fieldErr("org", "missing")
	case r.Installation == "":
		return fieldErr("installation", "missing")
	}
	return nil
}

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isToken: non-empty, bounded, printable ASCII without space, quote or
// backslash (ids, provider names, node ids; never free text).
func isToken(s string) bool {
	if s == "" || len(s) > maxField {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
