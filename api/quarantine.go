package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Forged-flood quarantine as the control plane sees it (docs/scaling.md):
// an edge (native or Wasm) that quarantines an ingress id reports it to
// ingest, which writes an ingress.quarantined audit event for the tenant,
// target the installation, detail {"from","until","edge","count",…}. The
// audit log is the only source: the state below is computed from it (no
// table of its own), so every control-plane replica answers the same.

// quarantineView is the quarantine state of an installation's ingress id:
// GET /v1/installations/{id}/quarantine, and the data of the health
// check "quarantine".
type quarantineView struct {
	InstallationID string `json:"installation_id"`
	IngressID      string `json:"ingress_id"`
	// Quarantined: some edge answers the ingress id 429 quarantined now.
	Quarantined bool       `json:"quarantined"`
	Since       *time.Time `json:"since,omitempty"` // start of the quarantine in force (the earliest edge's)
	Until       *time.Time `json:"until,omitempty"` // end of its cool-down (the latest edge's)
	// RefusedPerMinute is what the edges reported refusing in the minute
	// before the quarantine started (in force, else the latest one), by
	// reason in Reasons.
	RefusedPerMinute int64            `json:"refused_per_minute"`
	Reasons          map[string]int64 `json:"reasons,omitempty"`
	Edges            []string         `json:"edges,omitempty"` // edges that reported it
	// Quarantines counts those started in the last 24 hours; LastSince and
	// LastUntil are the latest one's when none is in force.
	Quarantines int64      `json:"quarantines_24h"`
	LastSince   *time.Time `json:"last_since,omitempty"`
	LastUntil   *time.Time `json:"last_until,omitempty"`
	Detail      string     `json:"detail"`
	Fix         string     `json:"fix,omitempty"`
}

// defaultCoolDown is assumed for an ingress.quarantined event without
// "until" (an edge built before it was reported): the edges' default.
const defaultCoolDown = time.Minute

// edgeRow is the detail of an edge-reported audit event (ingest's
// edgereport.go writes it).
type edgeRow struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
	From   string `json:"from"`
	To     string `json:"to"`
	Until  string `json:"until"`
	Edge   string `json:"edge"`
	Source string `json:"source"`
}

func parseRow(detail string) (edgeRow, bool) {
	var r edgeRow
	if json.Unmarshal([]byte(detail), &r) != nil {
		return r, false
	}
	return r, true
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

// refusalCount is how many refusals one webhook.reject event stands for:
// an edge row's count, else one (ingest audits each refusal it makes).
func refusalCount(r edgeRow) int64 {
	if r.Source == "edge" && r.Count > 0 {
		return r.Count
	}
	return 1
}

// quarantineOf is the pure computation of the state at now from the
// installation's ingress.quarantined and webhook.reject events of the
// window (any order).
func quarantineOf(inst store.Installation, quarantines, rejects []store.AuditEvent, now time.Time) quarantineView {
	v := quarantineView{InstallationID: inst.ID, IngressID: inst.IngressID}
	type span struct {
		from, until time.Time
		edge        string
	}
	var spans []span
	for _, e := range quarantines {
		r, ok := parseRow(e.Detail)
		if !ok {
			continue
		}
		from, ok := parseTime(r.From)
		if !ok {
			from = e.At
		}
		until, ok := parseTime(r.Until)
		if !ok {
			until = from.Add(defaultCoolDown)
		}
		if r.To != "" { // a row counting several quarantines: the last started at to
			if to, ok := parseTime(r.To); ok && until.Before(to) {
				until = to.Add(defaultCoolDown)
			}
		}
		spans = append(spans, span{from, until, r.Edge})
		v.Quarantines += max(r.Count, 1)
	}
	if len(spans) == 0 {
		v.Detail = "not quarantined in the last 24 hours"
		return v
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from.Before(spans[b].from) })
	var since, until time.Time
	edges := map[string]bool{}
	for _, sp := range spans {
		if sp.until.After(now) {
			if since.IsZero() || sp.from.Before(since) {
				since = sp.from
			}
			if sp.until.After(until) {
				until = sp.until
			}
			if sp.edge != "" {
				edges[sp.edge] = true
			}
		}
	}
	v.Quarantined = !since.IsZero()
	if !v.Quarantined {
		last := spans[len(spans)-1]
		since, until = last.from, last.until
		for _, sp := range spans {
			if sp.until.After(until) {
				until = sp.until
			}
		}
		if last.edge != "" {
			edges[last.edge] = true
		}
	}
	for e := range edges {
		v.Edges = append(v.Edges, e)
	}
	sort.Strings(v.Edges)
	// The refusals reported in the minute before the start.
	v.Reasons = map[string]int64{}
	for _, e := range rejects {
		r, ok := parseRow(e.Detail)
		if !ok {
			continue
		}
		to, ok := parseTime(r.To)
		if !ok {
			to = e.At
		}
		if to.Before(since.Add(-time.Minute)) || to.After(since) {
			continue
		}
		n := refusalCount(r)
		v.RefusedPerMinute += n
		v.Reasons[r.Reason] += n
	}
	if len(v.Reasons) == 0 {
		v.Reasons = nil
	}
	s, u := since.UTC(), until.UTC()
	if v.Quarantined {
		v.Since, v.Until = &s, &u
		v.Detail = fmt.Sprintf("quarantined since %s, until %s, %d refused/min: the edge answers 429 quarantined without verifying",
			s.Format(time.RFC3339), u.Format(time.RFC3339), v.RefusedPerMinute)
		if len(v.Edges) > 0 {
			v.Detail += " (" + strings.Join(v.Edges, ", ") + ")"
		}
		v.Fix = quarantineFix(v.Reasons, u)
		return v
	}
	v.LastSince, v.LastUntil = &s, &u
	v.Detail = fmt.Sprintf("not quarantined now; %d quarantine(s) in the last 24 hours, the latest since %s, until %s (%d refused/min)",
		v.Quarantines, s.Format(time.RFC3339), u.Format(time.RFC3339), v.RefusedPerMinute)
	return v
}

// quarantineFix says what to do, after the reason most refused.
func quarantineFix(reasons map[string]int64, until time.Time) string {
	fix := "the ingress id drew more refused requests a minute than the edge's quarantine threshold; it is verified again from " +
		until.Format(time.RFC3339) + " on"
	top, n := "", int64(0)
	for r, c := range reasons {
		if c > n || c == n && r < top {
			top, n = r, c
		}
	}
	switch top {
	case "":
		return fix + "; see the recent_refusals check and the edge's logs for what was refused"
	case "bad_signature", "missing_signature", "stale_timestamp", "bad_timestamp":
		return fix + "; mostly " + top + ": if the provider sends them, " + refusalFix(top) +
			"; if not (a forged flood), block the senders in front of the edge or wait for the cool-down"
	}
	return fix + "; mostly " + top + ": " + refusalFix(top)
}

// installationEvents lists the installation's audit events of action
// (target the installation or its ingress id) since since.
func (s *Server) installationEvents(ctx context.Context, i store.Installation, action string, since time.Time) ([]store.AuditEvent, error) {
	var out []store.AuditEvent
	after := int64(0)
	for page := 0; page < 50; page++ {
		evs, err := s.store.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{i.OrgID}, Action: action, AfterID: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		for _, e := range evs {
			after = e.ID
			if e.At.Before(since) || (e.Target != i.ID && e.Target != i.IngressID) {
				continue
			}
			out = append(out, e)
		}
		if len(evs) < 1000 {
			break
		}
	}
	return out, nil
}

// quarantineState reads the installation's quarantine (rejects: its
// webhook.reject events of the window, when the caller has them).
func (s *Server) quarantineState(ctx context.Context, i store.Installation, rejects []store.AuditEvent) (quarantineView, error) {
	since := s.now().Add(-healthWindow)
	qs, err := s.installationEvents(ctx, i, "ingress.quarantined", since)
	if err != nil {
		return quarantineView{}, err
	}
	if rejects == nil && len(qs) > 0 {
		if rejects, err = s.installationEvents(ctx, i, "webhook.reject", since); err != nil {
			return quarantineView{}, err
		}
	}
	return quarantineOf(i, qs, rejects, s.now()), nil
}

// checkQuarantine: no edge answers the installation's ingress id 429
// quarantined now.
func (s *Server) checkQuarantine(ctx context.Context, i store.Installation, rejects []store.AuditEvent) (healthCheck, error) {
	const name = "quarantine"
	v, err := s.quarantineState(ctx, i, rejects)
	if err != nil {
		return healthCheck{}, err
	}
	if v.Quarantined {
		return fail(name, v.Detail, v.Fix, v), nil
	}
	return pass(name, v.Detail, v), nil
}

// quarantine answers GET /v1/installations/{id}/quarantine.
func (s *Server) quarantine(w http.ResponseWriter, r *http.Request, p principal) error {
	i, err := visibleInstallation(r.Context(), s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := s.quarantineState(r.Context(), i, nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
