package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	edgereport "github.com/switchboard-dev/switchboard/edge/rejection"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

// Edge refusal reports: POST /v1/edge/rejections (edgereport.Path).
//
// The edge has no store, so it sends the refusals that concern a tenant
// (forged, missing or stale signatures, crossed secrets, revoked
// installations, …) here, aggregated per (tenant, provider, reason) and
// window, in a batch signed with filter.SignReport under the attestation
// key. Each row becomes one webhook.reject audit event under its org, target
// the installation (a platform profile for its shared ingress), detail
// {"source":"edge","reason","provider","count","from","to","edge"}; rows
// carry ids and counts only, never a request body or a secret.
//
// Answers: 200 {"audited":N}; 200 {"duplicate":true} for a batch id seen
// within the signature age (a replay); 401 report_signature_missing or
// report_signature_invalid (forged, other key, stale or future); 400
// malformed_report with "field"; 413 body_too_large; 503 store_unavailable.

// Report refusal reasons (the JSON "error" of the answer).
const (
	ReasonReportSignatureMissing Reason = "report_signature_missing"
	ReasonReportSignatureInvalid Reason = "report_signature_invalid"
	ReasonMalformedReport        Reason = "malformed_report"
)

// seenBatches remembers report batch ids for twice the signature age, so a
// captured batch replayed inside its signature window is not audited twice.
type seenBatches struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// forget drops id (its batch was not recorded after all).
func (s *seenBatches) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

// add records id at now and reports whether it was new.
func (s *seenBatches) add(id string, now time.Time, keep time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]time.Time{}
	}
	if _, dup := s.ids[id]; dup {
		return false
	}
	for k, at := range s.ids { // a few entries per edge per window: cheap
		if now.Sub(at) > keep {
			delete(s.ids, k)
		}
	}
	s.ids[id] = now
	return true
}

func (h *Handler) edgeRejections(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Now()
	answer := func(status int, v map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	refuse := func(reason Reason, status int, detail string, extra map[string]any) {
		h.cfg.Logger.Warn("edge report refused", "reason", string(reason), "status", status, "detail", detail)
		v := map[string]any{"error": string(reason)}
		for k, x := range extra {
			v[k] = x
		}
		answer(status, v)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, edgereport.MaxBatchBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(ReasonBodyTooLarge, http.StatusRequestEntityTooLarge, "report over the size limit", nil)
			return
		}
		refuse(ReasonMalformedReport, http.StatusBadRequest, "read body: "+err.Error(), map[string]any{"field": "body"})
		return
	}
	maxAge := h.cfg.MaxAttestationAge
	if err := filter.VerifyReport(h.cfg.AttestationKey, r.Header.Get(filter.HeaderReportSignature), body, now.Unix(), int64(maxAge/time.Second)); err != nil {
		if errors.Is(err, filter.ErrNoAttestation) {
			refuse(ReasonReportSignatureMissing, http.StatusUnauthorized, err.Error(), nil)
			return
		}
		refuse(ReasonReportSignatureInvalid, http.StatusUnauthorized, err.Error(), nil)
		return
	}
	b, err := edgereport.Parse(body)
	if err != nil {
		field := "body"
		var fe *edgereport.FieldError
		if errors.As(err, &fe) {
			field = fe.Field
		}
		refuse(ReasonMalformedReport, http.StatusBadRequest, err.Error(), map[string]any{"field": field, "detail": err.Error()})
		return
	}
	if !h.seenReports.add(b.ID, now, 2*maxAge) {
		h.cfg.Logger.Warn("edge report replayed: ignored", "edge", b.Edge, "batch", b.ID)
		answer(http.StatusOK, map[string]any{"duplicate": true})
		return
	}
	// Written on the request's context but not cancelled with it: a report
	// half-audited because the edge hung up would be lost for good.
	actx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := h.auditReport(actx, b, now); err != nil {
		// Nothing of the batch stays written (one transaction where the store
		// has them) and the id is forgotten, so a resend is audited in full.
		h.seenReports.forget(b.ID)
		h.cfg.Logger.Error("audit edge report failed", "edge", b.Edge, "batch", b.ID, "rows", len(b.Rows), "error", err.Error())
		w.Header().Set("Retry-After", "1")
		refuse(ReasonStoreUnavailable, http.StatusServiceUnavailable, "append audit: "+err.Error(), nil)
		return
	}
	h.cfg.Logger.Info("edge report audited", "edge", b.Edge, "batch", b.ID, "rows", len(b.Rows), "refusals", b.Refusals())
	answer(http.StatusOK, map[string]any{"audited": len(b.Rows)})
}

// auditReport writes one webhook.reject event per row, all in one
// transaction when the store offers them (store.Store does).
func (h *Handler) auditReport(ctx context.Context, b *edgereport.Batch, now time.Time) error {
	write := func(q store.Queries) error {
		for _, row := range b.Rows {
			if _, err := q.AppendAudit(ctx, auditEvent(b, row, now)); err != nil {
				return err
			}
		}
		return nil
	}
	if tx, ok := h.cfg.Store.(interface {
		InTx(context.Context, func(store.Queries) error) error
	}); ok {
		return tx.InTx(ctx, write)
	}
	return write(h.cfg.Store)
}

// auditEvent is the audit event of one report row: webhook.reject, or
// ingress.quarantined for a quarantined row.
func auditEvent(b *edgereport.Batch, row edgereport.Row, now time.Time) store.AuditEvent {
	detail := map[string]any{
		"source": "edge", "reason": row.Reason, "provider": row.Provider, "count": row.Count,
		"from": time.Unix(row.From, 0).UTC().Format(time.RFC3339), "to": time.Unix(row.To, 0).UTC().Format(time.RFC3339),
		"edge": b.Edge,
	}
	target := row.Installation
	switch {
	case row.Summary:
		detail["summary"] = true // refusals beyond the edge's row bound: tenants not itemised
	case row.Platform:
		detail["platform"], detail["profile"] = true, row.Profile
		target = row.Profile
	}
	action := "webhook.reject"
	if row.Reason == string(filter.ReasonQuarantined) {
		// The edge started a quarantine of the tenant's ingress id (a
		// forged flood): its requests are answered 429 until the end of
		// the cool-down (count quarantines, from/to their starts).
		action = "ingress.quarantined"
		if row.Until > 0 {
			detail["until"] = time.Unix(row.Until, 0).UTC().Format(time.RFC3339)
		}
	}
	d, _ := json.Marshal(detail)
	return store.AuditEvent{At: now.UTC(), Actor: "edge", OrgID: row.Org, Action: action, Target: target, Detail: string(d)}
}
