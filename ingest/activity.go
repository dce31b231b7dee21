package ingest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// activityMemo remembers when this process last recorded each
// installation's activity, so an accepted event writes to the store at most
// once per installation every store.ActivityInterval.
type activityMemo struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// maxActivityMemo bounds the memo; when full it starts over (a few extra
// writes, never unbounded memory).
const maxActivityMemo = 100_000

// due reports whether the installation's activity should be recorded at now,
// and if so marks it recorded.
func (m *activityMemo) due(id string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil || len(m.last) >= maxActivityMemo {
		m.last = map[string]time.Time{}
	}
	if t, ok := m.last[id]; ok && now.Sub(t) < store.ActivityInterval && !now.Before(t) {
		return false
	}
	m.last[id] = now
	return true
}

// forget lets the next event record again (after a failed write).
func (m *activityMemo) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.last, id)
}

// recordActivity notes that ingest accepted a verified request of the
// request's installations (the console's "first verified event", the
// installation's last_accepted_at): those its events resolved to, and for
// an installation's own ingress the installation itself, also when the
// request held no event (a handshake, an edit: the health self-test). Best
// effort: a failure is logged, the request stays accepted.
func (h *Handler) recordActivity(ctx context.Context, req *request) {
	ar, ok := h.cfg.Store.(store.ActivityRecords)
	if !ok {
		return
	}
	ids := req.accepted
	if req.attested && !req.id.Platform && req.id.Installation != "" && !slices.Contains(ids, req.id.Installation) {
		ids = append(ids, req.id.Installation)
	}
	for _, id := range ids {
		if !h.activity.due(id, req.now) {
			continue
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		err := ar.RecordAccepted(actx, id, req.now.UTC())
		cancel()
		if err != nil {
			h.activity.forget(id)
			h.cfg.Logger.Warn("record installation activity failed", "installation", id, "error", err.Error())
		}
	}
}
