package sqlstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/switchboard-dev/switchboard/store"
)

// Installation settings (migration 000008).

var _ store.InstallationSettings = (*DB)(nil)

func (q *queries) SetInstallationSettings(ctx context.Context, installationID string, settings map[string]string) error {
	var n int
	if err := q.row(ctx, `SELECT COUNT(*) FROM installations WHERE id = ?`, installationID).Scan(&n); err != nil {
		return fmt.Errorf("set settings of installation %s: %w", installationID, q.d.mapErr(err))
	}
	if n == 0 {
		return fmt.Errorf("installation %s: %w", installationID, store.ErrNotFound)
	}
	if err := q.bump(ctx); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM installation_settings WHERE installation_id = ?`, installationID); err != nil {
		return fmt.Errorf("set settings of installation %s: %w", installationID, err)
	}
	names := make([]string, 0, len(settings))
	for k := range settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, err := q.exec(ctx, `INSERT INTO installation_settings (installation_id, name, value) VALUES (?, ?, ?)`,
			installationID, k, settings[k]); err != nil {
			return fmt.Errorf("set setting %q of installation %s: %w", k, installationID, err)
		}
	}
	return nil
}

func (q *queries) GetInstallationSettings(ctx context.Context, installationID string) (map[string]string, error) {
	rows, err := q.query(ctx, `SELECT name, value FROM installation_settings WHERE installation_id = ? ORDER BY name`, installationID)
	if err != nil {
		return nil, fmt.Errorf("settings of installation %s: %w", installationID, q.d.mapErr(err))
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("settings of installation %s: %w", installationID, err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("settings of installation %s: %w", installationID, err)
	}
	return out, nil
}

func (s *DB) SetInstallationSettings(ctx context.Context, installationID string, settings map[string]string) error {
	return s.tx(ctx, func(q *queries) error { return q.SetInstallationSettings(ctx, installationID, settings) })
}

func (s *DB) GetInstallationSettings(ctx context.Context, installationID string) (map[string]string, error) {
	return s.q.GetInstallationSettings(ctx, installationID)
}
