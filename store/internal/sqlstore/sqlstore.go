// Package sqlstore implements store.Store over database/sql once for both
// backends. Queries are written with '?' placeholders; a Dialect rebinds them
// and maps driver errors and time values.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Dialect is what differs between SQLite and PostgreSQL.
type Dialect struct {
	Name string
	// Numbered placeholders ($1, $2, …) instead of '?'.
	Numbered bool
	// TimeText stores timestamps as fixed-width UTC text (SQLite).
	TimeText bool
	// Classify maps a driver error to store.ErrConflict (unique violation) or
	// store.ErrNotFound (foreign key to a missing row); nil when neither.
	Classify func(err error) error
}

// TimeFormat is the text form of timestamps where the database has no time
// type: fixed width, so text order is time order.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// DB is a store.Store. Reads run as single statements; writes run in a
// transaction that also bumps the store generation.
type DB struct {
	db    *sql.DB
	d     *Dialect
	q     *queries
	stmts *stmtCache
}

// New wraps an open pool whose schema is migrated.
func New(db *sql.DB, d *Dialect) *DB {
	st := newStmtCache(db)
	return &DB{db: db, d: d, q: &queries{x: db, d: d, st: st}, stmts: st}
}

// SQL exposes the pool (tests, maintenance).
func (s *DB) SQL() *sql.DB { return s.db }

func (s *DB) Close() error {
	serr := s.stmts.close()
	return errors.Join(serr, s.db.Close())
}

// InTx runs fn in one transaction, committed only when fn returns nil.
func (s *DB) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", s.d.Name, err)
	}
	if err := fn(&queries{x: tx, d: s.d, st: s.stmts, tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", s.d.Name, s.d.mapErr(err))
	}
	return nil
}

func (s *DB) Generation(ctx context.Context) (int64, error) {
	var g int64
	if err := s.q.row(ctx, `SELECT value FROM store_generation WHERE id = 1`).Scan(&g); err != nil {
		return 0, fmt.Errorf("%s: read generation: %w", s.d.Name, err)
	}
	return g, nil
}

func (s *DB) tx(ctx context.Context, fn func(q *queries) error) error {
	return s.InTx(ctx, func(q store.Queries) error { return fn(q.(*queries)) })
}

// Reads: one statement each, no transaction needed.

func (s *DB) GetAgency(ctx context.Context, id string) (store.Agency, error) {
	return s.q.GetAgency(ctx, id)
}
func (s *DB) ListAgencies(ctx context.Context) ([]store.Agency, error) { return s.q.ListAgencies(ctx) }
func (s *DB) GetOrg(ctx context.Context, id string) (store.Org, error) { return s.q.GetOrg(ctx, id) }
func (s *DB) ListOrgs(ctx context.Context, agencyID string) ([]store.Org, error) {
	return s.q.ListOrgs(ctx, agencyID)
}
func (s *DB) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	return s.q.GetProfile(ctx, id)
}
func (s *DB) ListProfiles(ctx context.Context, ownerOrgID *string) ([]store.AppProfile, error) {
	return s.q.ListProfiles(ctx, ownerOrgID)
}
func (s *DB) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	return s.q.GetInstallation(ctx, id)
}
func (s *DB) GetInstallationByIngress(ctx context.Context, ingressID string) (store.Installation, error) {
	return s.q.GetInstallationByIngress(ctx, ingressID)
}
func (s *DB) FindInstallation(ctx context.Context, profileID, externalID string) (store.Installation, error) {
	return s.q.FindInstallation(ctx, profileID, externalID)
}
func (s *DB) ListLiveInstallations(ctx context.Context, profileID string, limit int) ([]store.Installation, error) {
	return s.q.ListLiveInstallations(ctx, profileID, limit)
}
func (s *DB) ListInstallations(ctx context.Context, orgID string) ([]store.Installation, error) {
	return s.q.ListInstallations(ctx, orgID)
}
func (s *DB) ListSecrets(ctx context.Context, ownerKind, ownerID string) ([]store.Secret, error) {
	return s.q.ListSecrets(ctx, ownerKind, ownerID)
}
func (s *DB) ListAllSecrets(ctx context.Context) ([]store.Secret, error) {
	return s.q.ListAllSecrets(ctx)
}
func (s *DB) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	return s.q.GetAgent(ctx, id)
}
func (s *DB) ListAgents(ctx context.Context, orgID string) ([]store.Agent, error) {
	return s.q.ListAgents(ctx, orgID)
}
func (s *DB) GetBinding(ctx context.Context, id string) (store.Binding, error) {
	return s.q.GetBinding(ctx, id)
}
func (s *DB) ListBindings(ctx context.Context, installationID string) ([]store.Binding, error) {
	return s.q.ListBindings(ctx, installationID)
}
func (s *DB) ListOrgBindings(ctx context.Context, orgID string) ([]store.Binding, error) {
	return s.q.ListOrgBindings(ctx, orgID)
}
func (s *DB) GetStage(ctx context.Context, provider string) (store.RolloutStage, error) {
	return s.q.GetStage(ctx, provider)
}
func (s *DB) ListStages(ctx context.Context) ([]store.RolloutStage, error) {
	return s.q.ListStages(ctx)
}
func (s *DB) GetEvidence(ctx context.Context, id string) (store.Evidence, error) {
	return s.q.GetEvidence(ctx, id)
}
func (s *DB) ListEvidence(ctx context.Context, provider string, limit int) ([]store.Evidence, error) {
	return s.q.ListEvidence(ctx, provider, limit)
}
func (s *DB) CreateEvidence(ctx context.Context, e store.Evidence) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateEvidence(ctx, e) })
}
func (s *DB) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	return s.q.ListAudit(ctx, f)
}
func (s *DB) GetTokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	return s.q.GetTokenByHash(ctx, hash)
}

// Writes: each in its own transaction.

func (s *DB) CreateAgency(ctx context.Context, a store.Agency) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateAgency(ctx, a) })
}
func (s *DB) CreateOrg(ctx context.Context, o store.Org) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateOrg(ctx, o) })
}
func (s *DB) RevokeOrg(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeOrg(ctx, id, at) })
}
func (s *DB) CreateProfile(ctx context.Context, p store.AppProfile) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateProfile(ctx, p) })
}
func (s *DB) RevokeProfile(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeProfile(ctx, id, at) })
}
func (s *DB) CreateInstallation(ctx context.Context, i store.Installation) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateInstallation(ctx, i) })
}
func (s *DB) PutRevocation(ctx context.Context, r store.Revocation) error {
	return s.tx(ctx, func(q *queries) error { return q.PutRevocation(ctx, r) })
}
func (s *DB) GetRevocation(ctx context.Context, installationID, conversation string) (store.Revocation, error) {
	return s.q.GetRevocation(ctx, installationID, conversation)
}
func (s *DB) DeleteRevocation(ctx context.Context, installationID, conversation string) error {
	return s.tx(ctx, func(q *queries) error { return q.DeleteRevocation(ctx, installationID, conversation) })
}
func (s *DB) RevokeInstallation(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeInstallation(ctx, id, at) })
}
func (s *DB) CreateSecret(ctx context.Context, sec store.Secret) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateSecret(ctx, sec) })
}
func (s *DB) ExpireSecrets(ctx context.Context, ownerKind, ownerID, purpose string, notAfter time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.ExpireSecrets(ctx, ownerKind, ownerID, purpose, notAfter) })
}
func (s *DB) UpdateSecretCiphertext(ctx context.Context, id, keyID string, ciphertext []byte) error {
	return s.tx(ctx, func(q *queries) error { return q.UpdateSecretCiphertext(ctx, id, keyID, ciphertext) })
}
func (s *DB) CreateAgent(ctx context.Context, a store.Agent) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateAgent(ctx, a) })
}
func (s *DB) RevokeAgent(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeAgent(ctx, id, at) })
}
func (s *DB) CreateBinding(ctx context.Context, b store.Binding) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateBinding(ctx, b) })
}
func (s *DB) RevokeBinding(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeBinding(ctx, id, at) })
}
func (s *DB) SetStage(ctx context.Context, st store.RolloutStage) error {
	return s.tx(ctx, func(q *queries) error { return q.SetStage(ctx, st) })
}
func (s *DB) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	var id int64
	err := s.tx(ctx, func(q *queries) error {
		var err error
		id, err = q.AppendAudit(ctx, e)
		return err
	})
	return id, err
}
func (s *DB) CreateToken(ctx context.Context, t store.APIToken) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateToken(ctx, t) })
}
func (s *DB) RevokeAgency(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeAgency(ctx, id, at) })
}
func (s *DB) SetPlatformCredentials(ctx context.Context, installationID string, enabled bool) error {
	return s.tx(ctx, func(q *queries) error { return q.SetPlatformCredentials(ctx, installationID, enabled) })
}
func (s *DB) GetToken(ctx context.Context, id string) (store.APIToken, error) {
	return s.q.GetToken(ctx, id)
}
func (s *DB) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	return s.q.ListTokens(ctx)
}
func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.RevokeToken(ctx, id, at) })
}

func (s *DB) ExpireToken(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.ExpireToken(ctx, id, at) })
}

var _ store.Store = (*DB)(nil)

// execer is *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on a pool (reads) or a transaction.
type queries struct {
	x  execer
	d  *Dialect
	st *stmtCache // the pool's prepared statements
	tx *sql.Tx    // set when x is a transaction
}

// stmt returns query's prepared statement, bound to q's transaction when q
// runs in one; nil when it is not kept (the caller runs the text instead,
// which also reports a statement that does not prepare).
func (q *queries) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.st == nil {
		return nil
	}
	s, err := q.st.get(ctx, query, q.tx != nil)
	if err != nil || s == nil {
		return nil
	}
	if q.tx != nil {
		return q.tx.StmtContext(ctx, s)
	}
	return s
}

// query runs a statement that answers rows.
func (q *queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.d.rebind(query)
	if s := q.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return q.x.QueryContext(ctx, query, args...)
}

var _ store.Queries = (*queries)(nil)

func (d *Dialect) rebind(q string) string {
	if !d.Numbered {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (d *Dialect) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if d.Classify != nil {
		if kind := d.Classify(err); kind != nil {
			return fmt.Errorf("%w: %v", kind, err)
		}
	}
	return err
}

// timeArg normalises a time for storage: UTC, microseconds (PostgreSQL's
// precision, so both backends round-trip the same value).
func (d *Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d.TimeText {
		return t.Format(TimeFormat)
	}
	return t
}

func (d *Dialect) timePtrArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// nullStr stores "" as NULL (optional foreign keys).
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeScan reads a timestamp stored as time or text.
type timeScan struct {
	t     *time.Time
	ptr   **time.Time // nullable target
	valid bool
}

func (ts *timeScan) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if ts.ptr != nil {
			*ts.ptr = nil
			return nil
		}
		return errors.New("NULL timestamp in a NOT NULL column")
	case time.Time:
		t = v
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", v, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return fmt.Errorf("timestamp %q: %w", v, err)
		}
		t = p
	default:
		return fmt.Errorf("timestamp of type %T", src)
	}
	t = t.UTC()
	if ts.ptr != nil {
		*ts.ptr = &t
	} else {
		*ts.t = t
	}
	return nil
}

func tm(t *time.Time) *timeScan   { return &timeScan{t: t} }
func tmp(t **time.Time) *timeScan { return &timeScan{ptr: t} }

// nullStrScan reads NULL as "".
type nullStrScan struct{ s *string }

func (n nullStrScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = v
	case []byte:
		*n.s = string(v)
	default:
		return fmt.Errorf("text of type %T", src)
	}
	return nil
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = q.d.rebind(query)
	var r sql.Result
	var err error
	if s := q.stmt(ctx, query); s != nil {
		r, err = s.ExecContext(ctx, args...)
	} else {
		r, err = q.x.ExecContext(ctx, query, args...)
	}
	return r, q.d.mapErr(err)
}

func (q *queries) row(ctx context.Context, query string, args ...any) *sql.Row {
	query = q.d.rebind(query)
	if s := q.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return q.x.QueryRowContext(ctx, query, args...)
}

// bump advances the generation. In PostgreSQL the row lock it takes is held to
// commit, so writers that bump first also commit in generation order.
func (q *queries) bump(ctx context.Context) error {
	if _, err := q.exec(ctx, `UPDATE store_generation SET value = value + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump generation: %w", err)
	}
	return nil
}

// lockGeneration takes the generation row lock without advancing it: audit
// appends must commit in id order (readers page by id) but must not make the
// control plane rebuild, since rejected webhooks are audited at a high rate.
func (q *queries) lockGeneration(ctx context.Context) error {
	if _, err := q.exec(ctx, `UPDATE store_generation SET value = value WHERE id = 1`); err != nil {
		return fmt.Errorf("lock generation: %w", err)
	}
	return nil
}

// write bumps the generation and runs one statement.
func (q *queries) write(ctx context.Context, what string, query string, args ...any) error {
	if err := q.bump(ctx); err != nil {
		return err
	}
	if _, err := q.exec(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// revoke sets revoked_at once (a second revoke keeps the first time).
func (q *queries) revoke(ctx context.Context, table, kind, id string, at time.Time) error {
	if err := q.bump(ctx); err != nil {
		return err
	}
	r, err := q.exec(ctx, `UPDATE `+table+` SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, q.d.timeArg(at), id)
	if err != nil {
		return fmt.Errorf("revoke %s %s: %w", kind, id, err)
	}
	return affected(r, kind, id)
}

func affected(r sql.Result, kind, id string) error {
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %s: %w", kind, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", kind, id, store.ErrNotFound)
	}
	return nil
}

// list runs a query and scans each row with scan.
func list[T any](ctx context.Context, q *queries, what string, scan func(sc func(...any) error) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, q.d.mapErr(err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, q.d.mapErr(err))
	}
	return out, nil
}

func get[T any](ctx context.Context, q *queries, what, id string, scan func(sc func(...any) error) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.row(ctx, query, args...).Scan)
	if err != nil {
		return v, fmt.Errorf("get %s %s: %w", what, id, q.d.mapErr(err))
	}
	return v, nil
}

// Agencies

const agencyCols = `id, name, created_at, revoked_at`

func scanAgency(sc func(...any) error) (store.Agency, error) {
	var a store.Agency
	err := sc(&a.ID, &a.Name, tm(&a.CreatedAt), tmp(&a.RevokedAt))
	return a, err
}

func (q *queries) CreateAgency(ctx context.Context, a store.Agency) error {
	return q.write(ctx, "create agency "+a.ID,
		`INSERT INTO agencies (`+agencyCols+`) VALUES (?, ?, ?, ?)`,
		a.ID, a.Name, q.d.timeArg(a.CreatedAt), q.d.timePtrArg(a.RevokedAt))
}

func (q *queries) GetAgency(ctx context.Context, id string) (store.Agency, error) {
	return get(ctx, q, "agency", id, scanAgency, `SELECT `+agencyCols+` FROM agencies WHERE id = ?`, id)
}

func (q *queries) ListAgencies(ctx context.Context) ([]store.Agency, error) {
	return list(ctx, q, "agencies", scanAgency, `SELECT `+agencyCols+` FROM agencies ORDER BY created_at, id`)
}

// Orgs

const orgCols = `id, name, agency_id, created_at, revoked_at`

func scanOrg(sc func(...any) error) (store.Org, error) {
	var o store.Org
	err := sc(&o.ID, &o.Name, nullStrScan{&o.AgencyID}, tm(&o.CreatedAt), tmp(&o.RevokedAt))
	return o, err
}

func (q *queries) CreateOrg(ctx context.Context, o store.Org) error {
	return q.write(ctx, "create org "+o.ID,
		`INSERT INTO orgs (`+orgCols+`) VALUES (?, ?, ?, ?, ?)`,
		o.ID, o.Name, nullStr(o.AgencyID), q.d.timeArg(o.CreatedAt), q.d.timePtrArg(o.RevokedAt))
}

func (q *queries) GetOrg(ctx context.Context, id string) (store.Org, error) {
	return get(ctx, q, "org", id, scanOrg, `SELECT `+orgCols+` FROM orgs WHERE id = ?`, id)
}

func (q *queries) ListOrgs(ctx context.Context, agencyID string) ([]store.Org, error) {
	if agencyID == "" {
		return list(ctx, q, "orgs", scanOrg, `SELECT `+orgCols+` FROM orgs ORDER BY created_at, id`)
	}
	return list(ctx, q, "orgs", scanOrg, `SELECT `+orgCols+` FROM orgs WHERE agency_id = ? ORDER BY created_at, id`, agencyID)
}

func (q *queries) RevokeAgency(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "agencies", "agency", id, at)
}

func (q *queries) RevokeOrg(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "orgs", "org", id, at)
}

// App profiles

const profileCols = `id, owner_org_id, provider, name, external_app_id, ingress_id, created_at, revoked_at`

func scanProfile(sc func(...any) error) (store.AppProfile, error) {
	var p store.AppProfile
	err := sc(&p.ID, nullStrScan{&p.OwnerOrgID}, &p.Provider, &p.Name, &p.ExternalAppID, &p.IngressID,
		tm(&p.CreatedAt), tmp(&p.RevokedAt))
	return p, err
}

func (q *queries) CreateProfile(ctx context.Context, p store.AppProfile) error {
	return q.write(ctx, "create profile "+p.ID,
		`INSERT INTO app_profiles (`+profileCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, nullStr(p.OwnerOrgID), p.Provider, p.Name, p.ExternalAppID, p.IngressID,
		q.d.timeArg(p.CreatedAt), q.d.timePtrArg(p.RevokedAt))
}

func (q *queries) GetProfile(ctx context.Context, id string) (store.AppProfile, error) {
	return get(ctx, q, "profile", id, scanProfile, `SELECT `+profileCols+` FROM app_profiles WHERE id = ?`, id)
}

func (q *queries) ListProfiles(ctx context.Context, ownerOrgID *string) ([]store.AppProfile, error) {
	switch {
	case ownerOrgID == nil:
		return list(ctx, q, "profiles", scanProfile, `SELECT `+profileCols+` FROM app_profiles ORDER BY created_at, id`)
	case *ownerOrgID == store.OwnerPlatform:
		return list(ctx, q, "profiles", scanProfile, `SELECT `+profileCols+` FROM app_profiles WHERE owner_org_id IS NULL ORDER BY created_at, id`)
	default:
		return list(ctx, q, "profiles", scanProfile, `SELECT `+profileCols+` FROM app_profiles WHERE owner_org_id = ? ORDER BY created_at, id`, *ownerOrgID)
	}
}

func (q *queries) RevokeProfile(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "app_profiles", "profile", id, at)
}

// Installations

const installationCols = `id, org_id, profile_id, provider, external_id, ingress_id, platform_credentials, created_at, revoked_at`

func scanInstallation(sc func(...any) error) (store.Installation, error) {
	var i store.Installation
	err := sc(&i.ID, &i.OrgID, &i.ProfileID, &i.Provider, &i.ExternalID, &i.IngressID, &i.PlatformCredentials,
		tm(&i.CreatedAt), tmp(&i.RevokedAt))
	return i, err
}

func (q *queries) CreateInstallation(ctx context.Context, i store.Installation) error {
	return q.write(ctx, "create installation "+i.ID,
		`INSERT INTO installations (`+installationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.OrgID, i.ProfileID, i.Provider, i.ExternalID, i.IngressID, i.PlatformCredentials,
		q.d.timeArg(i.CreatedAt), q.d.timePtrArg(i.RevokedAt))
}

func (q *queries) GetInstallation(ctx context.Context, id string) (store.Installation, error) {
	return get(ctx, q, "installation", id, scanInstallation, `SELECT `+installationCols+` FROM installations WHERE id = ?`, id)
}

func (q *queries) GetInstallationByIngress(ctx context.Context, ingressID string) (store.Installation, error) {
	return get(ctx, q, "installation with ingress", ingressID, scanInstallation,
		`SELECT `+installationCols+` FROM installations WHERE ingress_id = ?`, ingressID)
}

// FindInstallation prefers the live installation; when every one is revoked it
// returns the newest (the caller sees RevokedAt and refuses).
func (q *queries) FindInstallation(ctx context.Context, profileID, externalID string) (store.Installation, error) {
	if externalID == "" {
		return store.Installation{}, fmt.Errorf("find installation of profile %s: empty external id: %w", profileID, store.ErrNotFound)
	}
	return get(ctx, q, "installation of profile "+profileID+" for", externalID, scanInstallation,
		`SELECT `+installationCols+` FROM installations WHERE profile_id = ? AND external_id = ?
		 ORDER BY CASE WHEN revoked_at IS NULL THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1`,
		profileID, externalID)
}

func (q *queries) ListInstallations(ctx context.Context, orgID string) ([]store.Installation, error) {
	if orgID == "" {
		return list(ctx, q, "installations", scanInstallation, `SELECT `+installationCols+` FROM installations ORDER BY created_at, id`)
	}
	return list(ctx, q, "installations", scanInstallation, `SELECT `+installationCols+` FROM installations WHERE org_id = ? ORDER BY created_at, id`, orgID)
}

func (q *queries) ListLiveInstallations(ctx context.Context, profileID string, limit int) ([]store.Installation, error) {
	if limit <= 0 {
		limit = 1
	}
	return list(ctx, q, "live installations of profile "+profileID, scanInstallation,
		`SELECT `+installationCols+` FROM installations WHERE profile_id = ? AND revoked_at IS NULL ORDER BY created_at, id LIMIT ?`, profileID, limit)
}

func (q *queries) SetPlatformCredentials(ctx context.Context, installationID string, enabled bool) error {
	if err := q.bump(ctx); err != nil {
		return err
	}
	r, err := q.exec(ctx, `UPDATE installations SET platform_credentials = ? WHERE id = ?`, enabled, installationID)
	if err != nil {
		return fmt.Errorf("set platform credentials of installation %s: %w", installationID, err)
	}
	return affected(r, "installation", installationID)
}

func (q *queries) RevokeInstallation(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "installations", "installation", id, at)
}

// Revocations

const revocationCols = `installation_id, conversation, reason, event_id, revoked_at`

func scanRevocation(sc func(...any) error) (store.Revocation, error) {
	var r store.Revocation
	err := sc(&r.InstallationID, &r.Conversation, &r.Reason, &r.EventID, tm(&r.RevokedAt))
	return r, err
}

func (q *queries) PutRevocation(ctx context.Context, r store.Revocation) error {
	if r.Conversation == "" {
		// The installation's own revocation changes what the edge serves
		// (RevokeInstallation bumps too); a conversation's does not.
		if err := q.bump(ctx); err != nil {
			return err
		}
	}
	_, err := q.exec(ctx, `INSERT INTO revocations (`+revocationCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (installation_id, conversation) DO NOTHING`,
		r.InstallationID, r.Conversation, r.Reason, r.EventID, q.d.timeArg(r.RevokedAt))
	if err != nil {
		return fmt.Errorf("put revocation of installation %s: %w", r.InstallationID, err)
	}
	return nil
}

func (q *queries) GetRevocation(ctx context.Context, installationID, conversation string) (store.Revocation, error) {
	return get(ctx, q, "revocation of installation", installationID, scanRevocation,
		`SELECT `+revocationCols+` FROM revocations WHERE installation_id = ? AND conversation = ?`, installationID, conversation)
}

func (q *queries) DeleteRevocation(ctx context.Context, installationID, conversation string) error {
	if conversation == "" {
		return fmt.Errorf("delete revocation of installation %s: an installation's revocation is final: %w", installationID, store.ErrConflict)
	}
	r, err := q.exec(ctx, `DELETE FROM revocations WHERE installation_id = ? AND conversation = ?`, installationID, conversation)
	if err != nil {
		return fmt.Errorf("delete revocation of installation %s: %w", installationID, err)
	}
	return affected(r, "revocation of installation", installationID)
}

// Secrets

const secretCols = `id, owner_kind, owner_id, purpose, key_id, ciphertext, fingerprint, not_before, not_after, created_at`

func scanSecret(sc func(...any) error) (store.Secret, error) {
	var s store.Secret
	err := sc(&s.ID, &s.OwnerKind, &s.OwnerID, &s.Purpose, &s.KeyID, &s.Ciphertext, &s.Fingerprint,
		tm(&s.NotBefore), tmp(&s.NotAfter), tm(&s.CreatedAt))
	return s, err
}

func (q *queries) CreateSecret(ctx context.Context, s store.Secret) error {
	if s.KeyID == "" || len(s.Ciphertext) == 0 {
		return fmt.Errorf("create secret %s: key id and ciphertext are required (plaintext never enters the store)", s.ID)
	}
	return q.write(ctx, "create secret "+s.ID,
		`INSERT INTO secrets (`+secretCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.OwnerKind, s.OwnerID, s.Purpose, s.KeyID, s.Ciphertext, s.Fingerprint,
		q.d.timeArg(s.NotBefore), q.d.timePtrArg(s.NotAfter), q.d.timeArg(s.CreatedAt))
}

func (q *queries) ListSecrets(ctx context.Context, ownerKind, ownerID string) ([]store.Secret, error) {
	return list(ctx, q, "secrets", scanSecret,
		`SELECT `+secretCols+` FROM secrets WHERE owner_kind = ? AND owner_id = ? ORDER BY created_at, id`, ownerKind, ownerID)
}

func (q *queries) ListAllSecrets(ctx context.Context) ([]store.Secret, error) {
	return list(ctx, q, "secrets", scanSecret, `SELECT `+secretCols+` FROM secrets ORDER BY created_at, id`)
}

func (q *queries) ExpireSecrets(ctx context.Context, ownerKind, ownerID, purpose string, notAfter time.Time) error {
	return q.write(ctx, "expire secrets of "+ownerKind+" "+ownerID,
		`UPDATE secrets SET not_after = ? WHERE owner_kind = ? AND owner_id = ? AND purpose = ? AND not_after IS NULL`,
		q.d.timeArg(notAfter), ownerKind, ownerID, purpose)
}

func (q *queries) UpdateSecretCiphertext(ctx context.Context, id, keyID string, ciphertext []byte) error {
	if keyID == "" || len(ciphertext) == 0 {
		return fmt.Errorf("update secret %s: key id and ciphertext are required", id)
	}
	if err := q.bump(ctx); err != nil {
		return err
	}
	r, err := q.exec(ctx, `UPDATE secrets SET key_id = ?, ciphertext = ? WHERE id = ?`, keyID, ciphertext, id)
	if err != nil {
		return fmt.Errorf("update secret %s: %w", id, err)
	}
	return affected(r, "secret", id)
}

// Agents

const agentCols = `id, org_id, name, url, created_at, revoked_at`

func scanAgent(sc func(...any) error) (store.Agent, error) {
	var a store.Agent
	err := sc(&a.ID, &a.OrgID, &a.Name, &a.URL, tm(&a.CreatedAt), tmp(&a.RevokedAt))
	return a, err
}

func (q *queries) CreateAgent(ctx context.Context, a store.Agent) error {
	return q.write(ctx, "create agent "+a.ID,
		`INSERT INTO agents (`+agentCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.OrgID, a.Name, a.URL, q.d.timeArg(a.CreatedAt), q.d.timePtrArg(a.RevokedAt))
}

func (q *queries) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	return get(ctx, q, "agent", id, scanAgent, `SELECT `+agentCols+` FROM agents WHERE id = ?`, id)
}

func (q *queries) ListAgents(ctx context.Context, orgID string) ([]store.Agent, error) {
	if orgID == "" {
		return list(ctx, q, "agents", scanAgent, `SELECT `+agentCols+` FROM agents ORDER BY created_at, id`)
	}
	return list(ctx, q, "agents", scanAgent, `SELECT `+agentCols+` FROM agents WHERE org_id = ? ORDER BY created_at, id`, orgID)
}

func (q *queries) RevokeAgent(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "agents", "agent", id, at)
}

// Bindings

const bindingCols = `id, org_id, installation_id, sel_account, sel_channel, sel_peer, sel_mention, agent_id, persona, priority, created_at, revoked_at`

func scanBinding(sc func(...any) error) (store.Binding, error) {
	var b store.Binding
	err := sc(&b.ID, &b.OrgID, &b.InstallationID, &b.Selector.Account, &b.Selector.Channel, &b.Selector.Peer,
		&b.Selector.Mention, &b.AgentID, &b.Persona, &b.Priority, tm(&b.CreatedAt), tmp(&b.RevokedAt))
	return b, err
}

func (q *queries) CreateBinding(ctx context.Context, b store.Binding) error {
	return q.write(ctx, "create binding "+b.ID,
		`INSERT INTO bindings (`+bindingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		b.ID, b.OrgID, b.InstallationID, b.Selector.Account, b.Selector.Channel, b.Selector.Peer, b.Selector.Mention,
		b.AgentID, b.Persona, b.Priority, q.d.timeArg(b.CreatedAt), q.d.timePtrArg(b.RevokedAt))
}

func (q *queries) GetBinding(ctx context.Context, id string) (store.Binding, error) {
	return get(ctx, q, "binding", id, scanBinding, `SELECT `+bindingCols+` FROM bindings WHERE id = ?`, id)
}

func (q *queries) ListBindings(ctx context.Context, installationID string) ([]store.Binding, error) {
	if installationID == "" {
		return list(ctx, q, "bindings", scanBinding, `SELECT `+bindingCols+` FROM bindings ORDER BY created_at, id`)
	}
	return list(ctx, q, "bindings", scanBinding, `SELECT `+bindingCols+` FROM bindings WHERE installation_id = ? ORDER BY created_at, id`, installationID)
}

func (q *queries) ListOrgBindings(ctx context.Context, orgID string) ([]store.Binding, error) {
	return list(ctx, q, "bindings", scanBinding, `SELECT `+bindingCols+` FROM bindings WHERE org_id = ? ORDER BY created_at, id`, orgID)
}

func (q *queries) RevokeBinding(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "bindings", "binding", id, at)
}

// Rollout stages

const stageCols = `provider, stage, canary_orgs, updated_at, previous_stage, probe_orgs`

func scanStage(sc func(...any) error) (store.RolloutStage, error) {
	var s store.RolloutStage
	var orgs, probes string
	if err := sc(&s.Provider, &s.Stage, &orgs, tm(&s.UpdatedAt), &s.PreviousStage, &probes); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(orgs), &s.CanaryOrgs); err != nil {
		return s, fmt.Errorf("stage %s: canary orgs: %w", s.Provider, err)
	}
	if err := json.Unmarshal([]byte(probes), &s.ProbeOrgs); err != nil {
		return s, fmt.Errorf("stage %s: probe orgs: %w", s.Provider, err)
	}
	return s, nil
}

func jsonList(l []string) (string, error) {
	if l == nil {
		l = []string{}
	}
	j, err := json.Marshal(l)
	return string(j), err
}

func (q *queries) SetStage(ctx context.Context, s store.RolloutStage) error {
	orgs, err := jsonList(s.CanaryOrgs)
	if err != nil {
		return fmt.Errorf("set stage %s: %w", s.Provider, err)
	}
	probes, err := jsonList(s.ProbeOrgs)
	if err != nil {
		return fmt.Errorf("set stage %s: %w", s.Provider, err)
	}
	return q.write(ctx, "set stage "+s.Provider,
		`INSERT INTO rollout_stages (`+stageCols+`) VALUES (?, ?, ?, ?, ?, ?)
		 ON CONFLICT (provider) DO UPDATE SET stage = excluded.stage, canary_orgs = excluded.canary_orgs, updated_at = excluded.updated_at,
		 previous_stage = excluded.previous_stage, probe_orgs = excluded.probe_orgs`,
		s.Provider, s.Stage, orgs, q.d.timeArg(s.UpdatedAt), s.PreviousStage, probes)
}

func (q *queries) GetStage(ctx context.Context, provider string) (store.RolloutStage, error) {
	return get(ctx, q, "stage", provider, scanStage,
		`SELECT `+stageCols+` FROM rollout_stages WHERE provider = ?`, provider)
}

func (q *queries) ListStages(ctx context.Context) ([]store.RolloutStage, error) {
	return list(ctx, q, "stages", scanStage, `SELECT `+stageCols+` FROM rollout_stages ORDER BY provider`)
}

// Rollout evidence

const evidenceCols = `id, provider, kind, passed, stage, canary_orgs, recorded_at, actor, report, signature, key_id`

func scanEvidence(sc func(...any) error) (store.Evidence, error) {
	var e store.Evidence
	var orgs string
	if err := sc(&e.ID, &e.Provider, &e.Kind, &e.Passed, &e.Stage, &orgs, tm(&e.RecordedAt), &e.Actor, &e.Report, &e.Signature, &e.KeyID); err != nil {
		return e, err
	}
	if err := json.Unmarshal([]byte(orgs), &e.CanaryOrgs); err != nil {
		return e, fmt.Errorf("evidence %s: canary orgs: %w", e.ID, err)
	}
	return e, nil
}

func (q *queries) CreateEvidence(ctx context.Context, e store.Evidence) error {
	orgs, err := jsonList(e.CanaryOrgs)
	if err != nil {
		return fmt.Errorf("create evidence %s: %w", e.ID, err)
	}
	return q.write(ctx, "create evidence "+e.ID,
		`INSERT INTO rollout_evidence (`+evidenceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Provider, e.Kind, e.Passed, e.Stage, orgs, q.d.timeArg(e.RecordedAt), e.Actor, e.Report, e.Signature, e.KeyID)
}

func (q *queries) GetEvidence(ctx context.Context, id string) (store.Evidence, error) {
	return get(ctx, q, "evidence", id, scanEvidence, `SELECT `+evidenceCols+` FROM rollout_evidence WHERE id = ?`, id)
}

func (q *queries) ListEvidence(ctx context.Context, provider string, limit int) ([]store.Evidence, error) {
	query := `SELECT ` + evidenceCols + ` FROM rollout_evidence`
	var args []any
	if provider != "" {
		query += ` WHERE provider = ?`
		args = append(args, provider)
	}
	query += ` ORDER BY recorded_at DESC, id DESC`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	return list(ctx, q, "evidence", scanEvidence, query, args...)
}

// Audit events

const auditCols = `id, at, actor, org_id, action, target, detail`

func scanAudit(sc func(...any) error) (store.AuditEvent, error) {
	var e store.AuditEvent
	err := sc(&e.ID, tm(&e.At), &e.Actor, &e.OrgID, &e.Action, &e.Target, &e.Detail)
	return e, err
}

func (q *queries) AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error) {
	if e.Detail == "" {
		e.Detail = "{}"
	}
	if err := q.lockGeneration(ctx); err != nil {
		return 0, err
	}
	var id int64
	err := q.row(ctx, `INSERT INTO audit_events (at, actor, org_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		q.d.timeArg(e.At), e.Actor, e.OrgID, e.Action, e.Target, e.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Action, q.d.mapErr(err))
	}
	return id, nil
}

// ListAudit returns events in id order. OrgIDs nil means every event; a
// non-nil list (even empty) limits to those orgs ("" selects platform events).
// Limit <= 0 means no limit.
func (q *queries) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	query := `SELECT ` + auditCols + ` FROM audit_events WHERE id > ?`
	args := []any{f.AfterID}
	if f.OrgIDs != nil {
		if len(f.OrgIDs) == 0 {
			return nil, nil
		}
		query += ` AND org_id IN (?` + strings.Repeat(`, ?`, len(f.OrgIDs)-1) + `)`
		for _, o := range f.OrgIDs {
			args = append(args, o)
		}
	}
	if f.Action != "" {
		query += ` AND action = ?`
		args = append(args, f.Action)
	}
	query += ` ORDER BY id`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	return list(ctx, q, "audit events", scanAudit, query, args...)
}

// API tokens

const tokenCols = `id, kind, subject_id, hash, created_at, revoked_at, expires_at`

func scanToken(sc func(...any) error) (store.APIToken, error) {
	var t store.APIToken
	err := sc(&t.ID, &t.Kind, &t.SubjectID, &t.Hash, tm(&t.CreatedAt), tmp(&t.RevokedAt), tmp(&t.ExpiresAt))
	return t, err
}

func (q *queries) CreateToken(ctx context.Context, t store.APIToken) error {
	if len(t.Hash) == 0 {
		return fmt.Errorf("create token %s: hash is required", t.ID)
	}
	return q.write(ctx, "create token "+t.ID,
		`INSERT INTO api_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Kind, t.SubjectID, t.Hash, q.d.timeArg(t.CreatedAt), q.d.timePtrArg(t.RevokedAt), q.d.timePtrArg(t.ExpiresAt))
}

// GetTokenByHash returns revoked tokens too; the caller checks RevokedAt.
func (q *queries) GetToken(ctx context.Context, id string) (store.APIToken, error) {
	return get(ctx, q, "token", id, scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id)
}

func (q *queries) GetTokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	return get(ctx, q, "token", "by hash", scanToken, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash)
}

func (q *queries) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	return list(ctx, q, "tokens", scanToken, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at, id`)
}

func (q *queries) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return q.revoke(ctx, "api_tokens", "token", id, at)
}

// Import keys

var _ store.ImportKeys = (*queries)(nil)
var _ store.ImportKeys = (*DB)(nil)

const importKeyCols = `org_id, import_key, kind, object_id, digest, run_id, created_at`

func scanImportKey(sc func(...any) error) (store.ImportKey, error) {
	var k store.ImportKey
	err := sc(&k.OrgID, &k.Key, &k.Kind, &k.ObjectID, &k.Digest, &k.RunID, tm(&k.CreatedAt))
	return k, err
}

// CreateImportKey records an imported object. It leaves the generation alone:
// the object it names was created (and bumped it) in the same transaction.
func (q *queries) CreateImportKey(ctx context.Context, k store.ImportKey) error {
	if _, err := q.exec(ctx, `INSERT INTO import_keys (`+importKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.OrgID, k.Key, k.Kind, k.ObjectID, k.Digest, k.RunID, q.d.timeArg(k.CreatedAt)); err != nil {
		return fmt.Errorf("create import key %q of org %s: %w", k.Key, k.OrgID, err)
	}
	return nil
}

func (q *queries) ListImportKeys(ctx context.Context, orgID string) ([]store.ImportKey, error) {
	return list(ctx, q, "import keys", scanImportKey,
		`SELECT `+importKeyCols+` FROM import_keys WHERE org_id = ? ORDER BY import_key`, orgID)
}

func (s *DB) CreateImportKey(ctx context.Context, k store.ImportKey) error {
	return s.tx(ctx, func(q *queries) error { return q.CreateImportKey(ctx, k) })
}

func (s *DB) ListImportKeys(ctx context.Context, orgID string) ([]store.ImportKey, error) {
	return s.q.ListImportKeys(ctx, orgID)
}

// Setup records (handoffs, OAuth clients, used OAuth states)

var _ store.SetupRecords = (*queries)(nil)
var _ store.SetupRecords = (*DB)(nil)
var _ store.ActivityRecords = (*queries)(nil)
var _ store.ActivityRecords = (*DB)(nil)

func (q *queries) PutHandoff(ctx context.Context, h store.Handoff) error {
	return q.write(ctx, "put handoff of "+h.InstallationID,
		`INSERT INTO installation_handoffs (installation_id, record, updated_at, updated_by) VALUES (?, ?, ?, ?)
		 ON CONFLICT (installation_id) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		h.InstallationID, h.Record, q.d.timeArg(h.UpdatedAt), h.UpdatedBy)
}

func (q *queries) GetHandoff(ctx context.Context, installationID string) (store.Handoff, error) {
	return get(ctx, q, "handoff", installationID, func(sc func(...any) error) (store.Handoff, error) {
		var h store.Handoff
		err := sc(&h.InstallationID, &h.Record, tm(&h.UpdatedAt), &h.UpdatedBy)
		return h, err
	}, `SELECT installation_id, record, updated_at, updated_by FROM installation_handoffs WHERE installation_id = ?`, installationID)
}

func (q *queries) PutOAuthClient(ctx context.Context, c store.OAuthClient) error {
	return q.write(ctx, "put oauth client of "+c.ProfileID,
		`INSERT INTO oauth_clients (profile_id, client_id, updated_at) VALUES (?, ?, ?)
		 ON CONFLICT (profile_id) DO UPDATE SET client_id = excluded.client_id, updated_at = excluded.updated_at`,
		c.ProfileID, c.ClientID, q.d.timeArg(c.UpdatedAt))
}

func (q *queries) GetOAuthClient(ctx context.Context, profileID string) (store.OAuthClient, error) {
	return get(ctx, q, "oauth client", profileID, func(sc func(...any) error) (store.OAuthClient, error) {
		var c store.OAuthClient
		err := sc(&c.ProfileID, &c.ClientID, tm(&c.UpdatedAt))
		return c, err
	}, `SELECT profile_id, client_id, updated_at FROM oauth_clients WHERE profile_id = ?`, profileID)
}

// RecordAccepted upserts the installation's activity. It leaves the
// generation alone: ingest writes it at traffic rate and it changes no
// configuration.
func (q *queries) RecordAccepted(ctx context.Context, installationID string, at time.Time) error {
	if _, err := q.exec(ctx, `INSERT INTO installation_activity (installation_id, first_accepted_at, last_accepted_at) VALUES (?, ?, ?)
		 ON CONFLICT (installation_id) DO UPDATE SET last_accepted_at = excluded.last_accepted_at`,
		installationID, q.d.timeArg(at), q.d.timeArg(at)); err != nil {
		return fmt.Errorf("record activity of %s: %w", installationID, q.d.mapErr(err))
	}
	return nil
}

func (q *queries) GetActivity(ctx context.Context, installationID string) (store.Activity, error) {
	return get(ctx, q, "activity", installationID, func(sc func(...any) error) (store.Activity, error) {
		var a store.Activity
		err := sc(&a.InstallationID, tm(&a.FirstAcceptedAt), tm(&a.LastAcceptedAt))
		return a, err
	}, `SELECT installation_id, first_accepted_at, last_accepted_at FROM installation_activity WHERE installation_id = ?`, installationID)
}

// UseOAuthState leaves the generation alone (no configuration changes) and
// prunes states that expired before at.
func (q *queries) UseOAuthState(ctx context.Context, nonce string, at, expiresAt time.Time) error {
	if _, err := q.exec(ctx, `DELETE FROM oauth_states_used WHERE expires_at < ?`, q.d.timeArg(at)); err != nil {
		return fmt.Errorf("prune oauth states: %w", err)
	}
	if _, err := q.exec(ctx, `INSERT INTO oauth_states_used (nonce, used_at, expires_at) VALUES (?, ?, ?)`,
		nonce, q.d.timeArg(at), q.d.timeArg(expiresAt)); err != nil {
		return fmt.Errorf("use oauth state: %w", err)
	}
	return nil
}

func (s *DB) PutHandoff(ctx context.Context, h store.Handoff) error {
	return s.tx(ctx, func(q *queries) error { return q.PutHandoff(ctx, h) })
}
func (s *DB) GetHandoff(ctx context.Context, installationID string) (store.Handoff, error) {
	return s.q.GetHandoff(ctx, installationID)
}
func (s *DB) PutOAuthClient(ctx context.Context, c store.OAuthClient) error {
	return s.tx(ctx, func(q *queries) error { return q.PutOAuthClient(ctx, c) })
}
func (s *DB) GetOAuthClient(ctx context.Context, profileID string) (store.OAuthClient, error) {
	return s.q.GetOAuthClient(ctx, profileID)
}
func (s *DB) RecordAccepted(ctx context.Context, installationID string, at time.Time) error {
	return s.q.RecordAccepted(ctx, installationID, at)
}
func (s *DB) GetActivity(ctx context.Context, installationID string) (store.Activity, error) {
	return s.q.GetActivity(ctx, installationID)
}
func (s *DB) UseOAuthState(ctx context.Context, nonce string, at, expiresAt time.Time) error {
	return s.tx(ctx, func(q *queries) error { return q.UseOAuthState(ctx, nonce, at, expiresAt) })
}

// ExpireToken moves the token's expiry to at unless it already expires sooner.
func (q *queries) ExpireToken(ctx context.Context, id string, at time.Time) error {
	if err := q.bump(ctx); err != nil {
		return err
	}
	r, err := q.exec(ctx, `UPDATE api_tokens SET expires_at = ? WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)`,
		q.d.timeArg(at), id, q.d.timeArg(at))
	if err != nil {
		return fmt.Errorf("expire token %s: %w", id, err)
	}
	if n, err := r.RowsAffected(); err == nil && n == 0 {
		if _, err := q.GetToken(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
