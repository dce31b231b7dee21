package store

import (
	"context"
	"time"
)

// OrgLimits are an organisation's traffic limits, set by the platform (an
// organisation raising its own limit would defeat it). A zero field is "not
// set": the deployment's default applies (see docs/scaling.md, "Tenant
// fairness").
type OrgLimits struct {
	OrgID string
	// RatePerSec is the sustained rate of webhooks the edge accepts for the
	// organisation's installations, per edge process (a token bucket of
	// Burst tokens refilled at RatePerSec); over it the edge answers 429
	// rate_limited with Retry-After before reading the body.
	RatePerSec int
	// Burst is the bucket size [RatePerSec].
	Burst int
	// MaxInFlight is the most deliveries to the organisation's agents a
	// worker process has in flight at once; a task over it is parked
	// (requeued with a short delay) so other organisations' sessions on the
	// same shards keep flowing.
	MaxInFlight int
	UpdatedAt   time.Time // zero when never set
}

// IsZero reports whether no limit is set.
func (l OrgLimits) IsZero() bool { return l.RatePerSec == 0 && l.Burst == 0 && l.MaxInFlight == 0 }

// Limits is implemented by every Queries and Store of the SQL backends
// (assert with a type check), migration 000011.
type Limits interface {
	// SetOrgLimits replaces the organisation's limits (all zero: none set)
	// and bumps the generation (the edge configuration carries them).
	// ErrNotFound when the organisation does not exist.
	SetOrgLimits(ctx context.Context, l OrgLimits) error
	// GetOrgLimits returns the organisation's limits; zero fields (and a
	// zero UpdatedAt) when none were set. ErrNotFound when the organisation
	// does not exist.
	GetOrgLimits(ctx context.Context, orgID string) (OrgLimits, error)
	// ListOrgLimits returns every organisation's limits that has any set,
	// ordered by org id.
	ListOrgLimits(ctx context.Context) ([]OrgLimits, error)
}
