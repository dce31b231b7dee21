package api

import (
	"context"
	"time"
)

// Store operations the API needs beyond store.Queries. The transaction's
// Queries is checked for them at run time so the API builds against a store
// that does not have them yet; routes needing a missing one answer 501.
// (Reported to the lead for addition to store.Queries.)

// AgencyRevoker revokes an agency (sets revoked_at if unset).
type AgencyRevoker interface {
	RevokeAgency(ctx context.Context, id string, at time.Time) error
}

// PlatformCredentialsSetter records an installation's explicit opt-in (or
// opt-out) to send with the platform profile's credentials.
type PlatformCredentialsSetter interface {
	SetPlatformCredentials(ctx context.Context, installationID string, enabled bool) error
}
