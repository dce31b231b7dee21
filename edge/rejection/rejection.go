// Package rejection is the edge's refusal report: which refusals concern a
// tenant, their aggregation per (tenant, provider, reason) over a window with
// a bounded number of rows, and the signed batch the edge sends to ingest
// (POST /v1/edge/rejections), which audits each row as webhook.reject.
//
// The edge has no store; ingest has one and already audits its own
// refusals, so the edge reports there. Everything here is pure: the host
// (edge.Host) owns the clock, the lock, the queue and the HTTP client.
//
// Batch JSON (version 1):
//
//	{"version":1,"id":"<32 hex>","edge":"<node id>","rows":[
//	  {"org":"org_…","installation":"inst_…","profile":"prof_…","provider":"slack",
//	   "reason":"bad_signature","count":3,"from":1772000000,"to":1772000004}]}
//
// A platform profile's shared ingress has no org or installation: its rows
// carry "platform":true and the profile. Refusals beyond the row bound are
// summarised per reason in rows with "summary":true and no tenant.
package rejection

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/switchboard-dev/switchboard/filter"
)

// Path is ingest's endpoint for edge reports.
const Path = "/v1/edge/rejections"

// Version is the batch format version.
const Version = 1

// Limits of a batch ingest accepts.
const (
	MaxBatchBytes = 1 << 20
	MaxRows       = 4096
	maxField      = 128
)

// DefaultMaxKeys bounds the rows one window itemises.
const DefaultMaxKeys = 1024

// Row is one aggregated refusal count.
type Row struct {
	Org          string `json:"org,omitempty"`
	Installation string `json:"installation,omitempty"`
	Profile      string `json:"profile,omitempty"`
	Platform     bool   `json:"platform,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Reason       string `json:"reason"`
	Count        int64  `json:"count"`
	From         int64  `json:"from"` // unix seconds of the first refusal counted
	To           int64  `json:"to"`   // unix seconds of the last
	// Summary rows count refusals beyond the row bound, per reason only.
	Summary bool `json:"summary,omitempty"`
}

// Batch is what one flush sends.
type Batch struct {
	Version int    `json:"version"`
	ID      string `json:"id"` // random; ingest drops a batch id it has seen (replay)
	Edge    string `json:"edge"`
	Rows    []Row  `json:"rows"`
}

// Refusals counts the refusals a batch's rows hold.
func (b Batch) Refusals() int64 {
	var n int64
	for _, r := range b.Rows {
		n += r.Count
	}
	return n
}

// notTenant are the reasons whose request has no established owner: the
// path names no installation this configuration knows (or none at all).
var notTenant = map[filter.Reason]bool{
	filter.ReasonNoConfig:         true,
	filter.ReasonUnknownIngress:   true,
	filter.ReasonProviderMismatch: true,
}

var knownReasons = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range filter.Reasons {
		if !notTenant[r] {
			m[string(r)] = true
		}
	}
	return m
}()

// Concerns reports whether d is a refusal that concerns a tenant: a reject
// (not an accept, not an edge-answered handshake) with a reason about a
// known ingress, whose identity names an org's installation or a platform
// profile.
func Concerns(d filter.Decision) bool {
	if d.Accept || d.Respond || !knownReasons[string(d.Reason)] {
		return false
	}
	id := d.Identity
	if id.Platform {
		return id.Profile != ""
	}
	return id.Org != "" && id.Installation != ""
}

type key struct {
	org, installation, profile, provider, reason string
	platform                                     bool
}

// Aggregator counts refusals of one window. It is not safe for concurrent
// use; the host locks around it.
type Aggregator struct {
	max     int
	rows    map[key]*Row
	summary map[string]*Row // by reason: bounded by filter.Reasons
}

// NewAggregator itemises at most maxKeys rows per window (<= 0: DefaultMaxKeys).
func NewAggregator(maxKeys int) *Aggregator {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Aggregator{max: maxKeys, rows: map[key]*Row{}, summary: map[string]*Row{}}
}

// Add counts d at time now (unix seconds) if it concerns a tenant, and
// reports whether it did.
func (a *Aggregator) Add(d filter.Decision, now int64) bool {
	if !Concerns(d) {
		return false
	}
	id := d.Identity
	k := key{org: id.Org, installation: id.Installation, profile: id.Profile, provider: id.Provider,
		reason: string(d.Reason), platform: id.Platform}
	r := a.rows[k]
	if r == nil {
		if len(a.rows) >= a.max {
			r = a.summary[k.reason]
			if r == nil {
				r = &Row{Reason: k.reason, Summary: true, From: now}
				a.summary[k.reason] = r
			}
		} else {
			r = &Row{Org: k.org, Installation: k.installation, Profile: k.profile, Platform: k.platform,
				Provider: k.provider, Reason: k.reason, From: now}
			a.rows[k] = r
		}
	}
	r.Count++
	r.From, r.To = min(r.From, now), max(r.To, now)
	return true
}

// Len is the number of rows (itemised and summary) the window holds.
func (a *Aggregator) Len() int { return len(a.rows) + len(a.summary) }

// Take returns the window's rows in a stable order (itemised, then
// summaries) and starts a new window.
func (a *Aggregator) Take() []Row {
	out := make([]Row, 0, a.Len())
	for _, r := range a.rows {
		out = append(out, *r)
	}
	sort.Sort(byKey(out))
	n := len(out)
	for _, r := range a.summary {
		out = append(out, *r)
	}
	sort.Sort(byKey(out[n:]))
	clear(a.rows)
	clear(a.summary)
	return out
}

type byKey []Row

func (s byKey) Len() int      { return len(s) }
func (s byKey) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s byKey) Less(i, j int) bool {
	a, b := s[i], s[j]
	for _, p := range [...][2]string{{a.Org, b.Org}, {a.Installation, b.Installation}, {a.Profile, b.Profile},
		{a.Provider, b.Provider}, {a.Reason, b.Reason}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return !a.Platform && b.Platform
}

// NewBatchID returns a random batch id (32 lowercase hex).
func NewBatchID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Encode returns the batch JSON.
func Encode(b Batch) ([]byte, error) {
	if b.Rows == nil {
		b.Rows = []Row{}
	}
	return json.Marshal(b)
}

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
// tenant (or a summary row with one), a count below 1 or a window that ends
// before it starts are refused with a *FieldError naming the field.
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
