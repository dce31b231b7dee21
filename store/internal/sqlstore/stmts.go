package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// maxStmts bounds the prepared statements one DB keeps. The store's queries
// are fixed strings with placeholders, a few hundred at most (ListAudit's
// org lists vary in length); past the bound a query runs unprepared.
const maxStmts = 512

// stmtCache keeps one prepared statement per query text of a pool. Without
// it every call hands the driver the SQL text again, and SQLite parses and
// plans it each time (most of the cost of a small read). database/sql
// prepares a Stmt on each pool connection the first time it runs there and
// re-prepares when a connection is replaced; inside a transaction Tx.Stmt
// reuses the connection's statement.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]struct{} // being prepared in the background
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), pending: make(map[string]struct{})}
}

// get returns the prepared statement of query (already rebound), preparing
// it on first use; nil (and no error) when the cache is full or closed.
// Inside a transaction (inTx) a missing statement is prepared in the
// background and nil returned: preparing takes a second pool connection,
// and transactions holding every connection of a bounded pool would each
// wait for one.
func (c *stmtCache) get(ctx context.Context, query string, inTx bool) (*sql.Stmt, error) {
	c.mu.RLock()
	s, ok := c.m[query]
	full := c.closed || len(c.m)+len(c.pending) >= maxStmts
	c.mu.RUnlock()
	if ok || full {
		return s, nil
	}
	if inTx {
		c.mu.Lock()
		if _, busy := c.pending[query]; !busy && !c.closed {
			c.pending[query] = struct{}{}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _ = c.prepare(ctx, query)
			}()
		}
		c.mu.Unlock()
		return nil, nil
	}
	return c.prepare(ctx, query)
}

// prepare prepares query on the pool (no lock held meanwhile) and keeps it.
func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	// The context bounds the preparation only, not the statement's life.
	s, err := c.db.PrepareContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, query)
	if err != nil {
		return nil, err
	}
	if old, ok := c.m[query]; ok || c.closed || len(c.m) >= maxStmts {
		s.Close()
		return old, nil
	}
	c.m[query] = s
	return s, nil
}

// close closes every statement; later calls run unprepared.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, s := range c.m {
		errs = append(errs, s.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// size is the number of statements kept (tests).
func (c *stmtCache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// PreparedStatements is how many prepared statements the store keeps (tests,
// diagnostics).
func (s *DB) PreparedStatements() int { return s.stmts.size() }

// GenerationAndRevocation reads the store generation and the revocation of
// one conversation of an installation ("" conversation: the installation's)
// in one statement: the worker's read per task (rev nil: not revoked).
func (s *DB) GenerationAndRevocation(ctx context.Context, installationID, conversation string) (int64, *store.Revocation, error) {
	var g int64
	var r store.Revocation
	var at *time.Time
	var inst string
	err := s.q.row(ctx, `SELECT g.value, r.installation_id, r.conversation, r.reason, r.event_id, r.revoked_at
		FROM store_generation g LEFT JOIN revocations r ON r.installation_id = ? AND r.conversation = ?
		WHERE g.id = 1`, installationID, conversation).
		Scan(&g, nullStrScan{&inst}, nullStrScan{&r.Conversation}, nullStrScan{&r.Reason}, nullStrScan{&r.EventID}, tmp(&at))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: read generation and revocation: %w", s.d.Name, s.d.mapErr(err))
	}
	if inst == "" {
		return g, nil, nil
	}
	r.InstallationID = inst
	if at != nil {
		r.RevokedAt = *at
	}
	return g, &r, nil
}
