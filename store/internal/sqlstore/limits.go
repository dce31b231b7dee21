package sqlstore

import (
	"context"
	"fmt"

	"github.com/switchboard-dev/switchboard/store"
)

// Organisation limits (migration 000011).

var _ store.Limits = (*DB)(nil)

const limitCols = `org_id, rate_per_sec, burst, max_in_flight, updated_at`

func scanLimits(sc func(...any) error) (store.OrgLimits, error) {
	var l store.OrgLimits
	err := sc(&l.OrgID, &l.RatePerSec, &l.Burst, &l.MaxInFlight, tm(&l.UpdatedAt))
	return l, err
}

func (q *queries) SetOrgLimits(ctx context.Context, l store.OrgLimits) error {
	if l.RatePerSec < 0 || l.Burst < 0 || l.MaxInFlight < 0 {
		return fmt.Errorf("set limits of org %s: negative limit", l.OrgID)
	}
	var n int
	if err := q.row(ctx, `SELECT COUNT(*) FROM orgs WHERE id = ?`, l.OrgID).Scan(&n); err != nil {
		return fmt.Errorf("set limits of org %s: %w", l.OrgID, q.d.mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("org %s: %w", l.OrgID, store.ErrNotFound)
	}
	if err := q.bump(ctx); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM org_limits WHERE org_id = ?`, l.OrgID); err != nil {
		return fmt.Errorf("set limits of org %s: %w", l.OrgID, err)
	}
	if l.IsZero() {
		return nil
	}
	if _, err := q.exec(ctx, `INSERT INTO org_limits (`+limitCols+`) VALUES (?, ?, ?, ?, ?)`,
		l.OrgID, l.RatePerSec, l.Burst, l.MaxInFlight, q.d.timeArg(l.UpdatedAt)); err != nil {
		return fmt.Errorf("set limits of org %s: %w", l.OrgID, err)
	}
	return nil
}

func (q *queries) GetOrgLimits(ctx context.Context, orgID string) (store.OrgLimits, error) {
	if _, err := q.GetOrg(ctx, orgID); err != nil {
		return store.OrgLimits{}, err
	}
	ls, err := list(ctx, q, "org limits", scanLimits, `SELECT `+limitCols+` FROM org_limits WHERE org_id = ?`, orgID)
	if err != nil {
		return store.OrgLimits{}, err
	}
	if len(ls) == 0 {
		return store.OrgLimits{OrgID: orgID}, nil
	}
	return ls[0], nil
}

func (q *queries) ListOrgLimits(ctx context.Context) ([]store.OrgLimits, error) {
	return list(ctx, q, "org limits", scanLimits, `SELECT `+limitCols+` FROM org_limits ORDER BY org_id`)
}

func (s *DB) SetOrgLimits(ctx context.Context, l store.OrgLimits) error {
	return s.tx(ctx, func(q *queries) error { return q.SetOrgLimits(ctx, l) })
}

func (s *DB) GetOrgLimits(ctx context.Context, orgID string) (store.OrgLimits, error) {
	return s.q.GetOrgLimits(ctx, orgID)
}

func (s *DB) ListOrgLimits(ctx context.Context) ([]store.OrgLimits, error) {
	return s.q.ListOrgLimits(ctx)
}
