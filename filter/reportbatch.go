package filter

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strconv"
)

// Edge refusal reports, shared by both hosts (the native `switchboard edge`
// and the Envoy Wasm plugin): which refusals concern a tenant, their
// aggregation per (tenant, provider, reason) over a window with a bounded
// number of rows, and the batch JSON an edge sends to ingest (POST
// ReportPath, signed with SignReport), which audits each row as
// webhook.reject. Pure and TinyGo-safe: no encoding/json, no goroutines, no
// clock (the host passes the time), no I/O. Ingest's strict parser lives in
// the main module (edge/rejection.Parse).
//
// Batch JSON (version 1); for the values ingest accepts (ids and names of
// printable ASCII) byte for byte what encoding/json writes for ReportBatch:
//
//	{"version":1,"id":"<32 hex>","edge":"<node id>","rows":[
//	  {"org":"org_…","installation":"inst_…","profile":"prof_…","provider":"slack",
//	   "reason":"bad_signature","count":3,"from":1772000000,"to":1772000004}]}
//
// A platform profile's shared ingress has no org or installation: its rows
// carry "platform":true and the profile. Refusals beyond the row bound are
// summarised per reason in rows with "summary":true and no tenant. A row
// of reason "quarantined" counts quarantines the edge started (package
// quarantine), from/to their starts, and carries "until", the end of the
// latest one's cool-down (AddQuarantine).

// ReportPath is ingest's endpoint for edge reports.
const ReportPath = "/v1/edge/rejections"

// ReportVersion is the batch format version.
const ReportVersion = 1

// Limits of a batch ingest accepts.
const (
	ReportMaxBatchBytes = 1 << 20
	ReportMaxRows       = 4096
)

// DefaultReportMaxKeys bounds the rows one window itemises.
const DefaultReportMaxKeys = 1024

// IngestCluster is the Envoy cluster of ingest that the xDS translation
// emits (xds.IngestName is this constant); the Wasm plugin dispatches its
// reports to it.
const IngestCluster = "switchboard-ingest"

// ReportRow is one aggregated refusal count.
type ReportRow struct {
	Org          string `json:"org,omitempty"`
	Installation string `json:"installation,omitempty"`
	Profile      string `json:"profile,omitempty"`
	Platform     bool   `json:"platform,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Reason       string `json:"reason"`
	Count        int64  `json:"count"`
	From         int64  `json:"from"` // unix seconds of the first refusal counted
	To           int64  `json:"to"`   // unix seconds of the last
	// Until is, on a quarantined row (a quarantine the edge started), the
	// end of its cool-down (unix seconds; the latest when the row counts
	// several); 0 on every other row.
	Until int64 `json:"until,omitempty"`
	// Summary rows count refusals beyond the row bound, per reason only.
	Summary bool `json:"summary,omitempty"`
}

// ReportBatch is what one flush sends.
type ReportBatch struct {
	Version int         `json:"version"`
	ID      string      `json:"id"` // random; ingest drops a batch id it has seen (replay)
	Edge    string      `json:"edge"`
	Rows    []ReportRow `json:"rows"`
}

// Refusals counts the refusals a batch's rows hold.
func (b ReportBatch) Refusals() int64 {
	var n int64
	for _, r := range b.Rows {
		n += r.Count
	}
	return n
}

// ReportableReason reports whether reason is one whose refusals are
// reported: every refusal reason except those whose request has no
// established owner (the path names no installation this configuration
// knows, or there is no configuration).
func ReportableReason(reason string) bool {
	switch Reason(reason) {
	case ReasonNone, ReasonNoConfig, ReasonShardNotLoaded, ReasonUnknownIngress, ReasonProviderMismatch:
		return false
	}
	for _, r := range Reasons {
		if string(r) == reason {
			return true
		}
	}
	return false
}

// Reportable reports whether d is a refusal that concerns a tenant: a
// reject (not an accept, not an edge-answered handshake) with a reportable
// reason, whose identity names an org's installation or a platform profile.
func Reportable(d Decision) bool {
	if d.Accept || d.Respond || !ReportableReason(string(d.Reason)) {
		return false
	}
	id := d.Identity
	if id.Platform {
		return id.Profile != ""
	}
	return id.Org != "" && id.Installation != ""
}

type reportKey struct {
	org, installation, profile, provider, reason string
	platform                                     bool
}

// ReportAggregator counts refusals of one window in bounded memory: at most
// maxKeys itemised rows plus one summary row per reason. It is not safe for
// concurrent use; a host with threads locks around it.
type ReportAggregator struct {
	max     int
	rows    map[reportKey]*ReportRow
	summary map[string]*ReportRow // by reason: bounded by Reasons
}

// NewReportAggregator itemises at most maxKeys rows per window (<= 0:
// DefaultReportMaxKeys).
func NewReportAggregator(maxKeys int) *ReportAggregator {
	if maxKeys <= 0 {
		maxKeys = DefaultReportMaxKeys
	}
	return &ReportAggregator{max: maxKeys, rows: map[reportKey]*ReportRow{}, summary: map[string]*ReportRow{}}
}

// Add counts d at time now (unix seconds) if it is Reportable, and reports
// whether it did.
func (a *ReportAggregator) Add(d Decision, now int64) bool {
	if !Reportable(d) {
		return false
	}
	id := d.Identity
	k := reportKey{org: id.Org, installation: id.Installation, profile: id.Profile, provider: id.Provider,
		reason: string(d.Reason), platform: id.Platform}
	r := a.rows[k]
	if r == nil {
		if len(a.rows) >= a.max {
			r = a.summary[k.reason]
			if r == nil {
				r = &ReportRow{Reason: k.reason, Summary: true, From: now, To: now}
				a.summary[k.reason] = r
			}
		} else {
			r = &ReportRow{Org: k.org, Installation: k.installation, Profile: k.profile, Platform: k.platform,
				Provider: k.provider, Reason: k.reason, From: now, To: now}
			a.rows[k] = r
		}
	}
	r.Count++
	if now < r.From {
		r.From = now
	}
	if now > r.To {
		r.To = now
	}
	return true
}

// AddQuarantine counts a quarantine of id's ingress started at now (unix
// seconds) that lasts until until, and reports whether it did (id concerns a
// tenant). The row is the one of reason ReasonQuarantined; its Until is the
// latest until added in the window.
func (a *ReportAggregator) AddQuarantine(id Identity, now, until int64) bool {
	if !a.Add(RejectFor(ReasonQuarantined, id), now) {
		return false
	}
	k := reportKey{org: id.Org, installation: id.Installation, profile: id.Profile, provider: id.Provider,
		reason: string(ReasonQuarantined), platform: id.Platform}
	r := a.rows[k]
	if r == nil {
		r = a.summary[k.reason]
	}
	if r != nil && until > r.Until {
		r.Until = until
	}
	return true
}

// Len is the number of rows (itemised and summary) the window holds.
func (a *ReportAggregator) Len() int { return len(a.rows) + len(a.summary) }

// Take returns the window's rows in a stable order (itemised, then
// summaries) and starts a new window.
func (a *ReportAggregator) Take() []ReportRow {
	out := make([]ReportRow, 0, a.Len())
	for _, r := range a.rows {
		out = append(out, *r)
	}
	sort.Sort(byReportKey(out))
	n := len(out)
	for _, r := range a.summary {
		out = append(out, *r)
	}
	sort.Sort(byReportKey(out[n:]))
	// Fresh maps rather than clear(): a window after a burst gives the
	// burst's buckets back.
	a.rows = map[reportKey]*ReportRow{}
	a.summary = map[string]*ReportRow{}
	return out
}

type byReportKey []ReportRow

func (s byReportKey) Len() int      { return len(s) }
func (s byReportKey) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s byReportKey) Less(i, j int) bool {
	a, b := s[i], s[j]
	for _, p := range [...][2]string{{a.Org, b.Org}, {a.Installation, b.Installation}, {a.Profile, b.Profile},
		{a.Provider, b.Provider}, {a.Reason, b.Reason}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return !a.Platform && b.Platform
}

// NewReportBatchID returns a random batch id (32 lowercase hex).
func NewReportBatchID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// EncodeReport returns the batch JSON, field for field as encoding/json
// writes ReportBatch (omitempty fields left out, nil rows as []); the bytes
// are the same for every value ingest accepts (a test compares them).
func EncodeReport(b ReportBatch) []byte {
	out := make([]byte, 0, 64+len(b.Rows)*160)
	out = append(out, `{"version":`...)
	out = strconv.AppendInt(out, int64(b.Version), 10)
	out = append(out, `,"id":`...)
	out = appendJSONString(out, b.ID)
	out = append(out, `,"edge":`...)
	out = appendJSONString(out, b.Edge)
	out = append(out, `,"rows":[`...)
	for i, r := range b.Rows {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendReportRow(out, r)
	}
	return append(out, "]}"...)
}

func appendReportRow(out []byte, r ReportRow) []byte {
	out = append(out, '{')
	str := func(name, v string) {
		if v == "" {
			return
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, `":`...)
		out = appendJSONString(out, v)
		out = append(out, ',')
	}
	str("org", r.Org)
	str("installation", r.Installation)
	str("profile", r.Profile)
	if r.Platform {
		out = append(out, `"platform":true,`...)
	}
	str("provider", r.Provider)
	out = append(out, `"reason":`...)
	out = appendJSONString(out, r.Reason)
	out = append(out, `,"count":`...)
	out = strconv.AppendInt(out, r.Count, 10)
	out = append(out, `,"from":`...)
	out = strconv.AppendInt(out, r.From, 10)
	out = append(out, `,"to":`...)
	out = strconv.AppendInt(out, r.To, 10)
	if r.Until != 0 {
		out = append(out, `,"until":`...)
		out = strconv.AppendInt(out, r.Until, 10)
	}
	if r.Summary {
		out = append(out, `,"summary":true`...)
	}
	return append(out, '}')
}
