package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard-dev/switchboard/store"
)

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

type auditPage struct {
	Items     []auditView `json:"items"`
	NextAfter int64       `json:"next_after"` // pass as ?after= for the next page
}

// listAudit pages through the audit log in id order, limited to the
// caller's organisations (the platform admin also sees platform events).
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	qv := r.URL.Query()
	if err := queryParams(r, "org_id", "after", "limit"); err != nil {
		return err
	}
	f := store.AuditFilter{Limit: defaultAuditLimit}
	if v := qv.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fieldErr("after", "must be a non-negative integer (an audit event id)")
		}
		f.AfterID = n
	}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditLimit {
			return fieldErr("limit", "must be an integer from 1 to %d", maxAuditLimit)
		}
		f.Limit = n
	}
	orgs, err := orgsToList(r, p, s.store)
	if err != nil {
		return err
	}
	f.OrgIDs = orgs
	page := auditPage{Items: []auditView{}, NextAfter: f.AfterID}
	if orgs == nil || len(orgs) > 0 {
		events, err := s.store.ListAudit(ctx, f)
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		for _, e := range events {
			d := json.RawMessage(e.Detail)
			if !json.Valid(d) {
				d = json.RawMessage("{}")
			}
			page.Items = append(page.Items, auditView{ID: e.ID, At: e.At, Actor: e.Actor, OrgID: e.OrgID, Action: e.Action, Target: e.Target, Detail: d})
			page.NextAfter = e.ID
		}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
