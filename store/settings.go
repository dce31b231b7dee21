package store

import "context"

// InstallationSettings holds an installation's provider settings (name ->
// value, validated by the provider: Standard Webhooks' conversation pointer,
// reply URL). They are configuration, not secrets. Every Queries and Store of
// the SQL backends implements it (assert with a type check).
type InstallationSettings interface {
	// SetInstallationSettings replaces all settings of the installation
	// (nil or empty: none). ErrNotFound when the installation does not exist.
	SetInstallationSettings(ctx context.Context, installationID string, settings map[string]string) error
	// GetInstallationSettings returns the installation's settings; an empty
	// (non-nil) map when it has none.
	GetInstallationSettings(ctx context.Context, installationID string) (map[string]string, error)
}
