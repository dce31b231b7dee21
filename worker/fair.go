package worker

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/store"
)

// Tenant fairness. Sessions of every organisation share the shard queues, so
// a slow agent (or a flood) of one organisation must not hold the slots the
// others' sessions need. Each shard runs ShardConcurrency slots; a delivery
// enters only when its organisation is under its in-flight limit on this
// worker (store.OrgLimits.MaxInFlight, else OrgMaxInFlight) and holds fewer
// than ShardConcurrency-1 slots of the shard (one slot of every shard stays
// for the other organisations). A task over either is parked: sent back to
// the retry set for ParkDelay without counting an attempt, and its slot goes
// to the next task. Order is still the fence's: a parked task only waits,
// and a later task of its session finds the fence closed behind it.
//
// Within one worker a session has one task in flight: the direct successor
// of the active task waits for it in its slot (it counts against its
// organisation like any delivery), any later one is parked, so a burst of
// one session does not fill a shard and the successor starts as soon as its
// predecessor completes instead of after a trip through the retry set.

// limitsTTL is how long the worker uses the organisation limits it read
// before reading them again: a change through the API applies within it.
const limitsTTL = 5 * time.Second

// limitsCache holds every organisation's limits, read at most every
// limitsTTL with one query (store.Limits.ListOrgLimits).
type limitsCache struct {
	src store.Limits // nil: the store keeps none
	mu  sync.Mutex
	at  time.Time
	m   map[string]store.OrgLimits
	// loading is set while one caller reads the store; the others use the
	// previous map meanwhile.
	loading bool
}

func (c *limitsCache) get(ctx context.Context, org string, now time.Time, onErr func(error)) store.OrgLimits {
	if c.src == nil {
		return store.OrgLimits{}
	}
	c.mu.Lock()
	fresh := c.m != nil && now.Sub(c.at) < limitsTTL
	if fresh || c.loading && c.m != nil {
		l := c.m[org]
		c.mu.Unlock()
		return l
	}
	c.loading = true
	c.mu.Unlock()
	ls, err := c.src.ListOrgLimits(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loading = false
	if err != nil {
		onErr(err)
		if c.m == nil {
			return store.OrgLimits{} // defaults until the store answers
		}
		return c.m[org]
	}
	m := make(map[string]store.OrgLimits, len(ls))
	for _, l := range ls {
		m[l.OrgID] = l
	}
	c.m, c.at = m, now
	return m[org]
}

// sessionSlots tracks the task of each session in flight on this worker.
type sessionSlots struct {
	mu sync.Mutex
	m  map[string]*sessionRun
}

type sessionRun struct {
	seq     int64
	done    chan struct{}
	waiting bool // the direct successor waits for it
}

// claim makes the task seq of session key its session's task in flight.
// ok: it is (release must be called when it ends). Otherwise wait is the
// active predecessor's end when seq is its direct successor and nobody waits
// on it yet (the caller waits for it, then claims again), or nil: park.
func (s *sessionSlots) claim(key string, seq int64) (release func(), wait <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*sessionRun{}
	}
	if r := s.m[key]; r != nil {
		if seq == r.seq+1 && !r.waiting {
			r.waiting = true
			return nil, r.done
		}
		return nil, nil
	}
	r := &sessionRun{seq: seq, done: make(chan struct{})}
	s.m[key] = r
	return func() {
		s.mu.Lock()
		delete(s.m, key)
		s.mu.Unlock()
		close(r.done)
	}, nil
}

// share is what org may hold on this worker.
func (p *Pool) share(ctx context.Context, org string) orglimit.Share {
	l := p.limits.get(ctx, org, p.cfg.Now(), func(err error) { p.log.Warn("read organisation limits", "err", err) })
	s := orglimit.Share{Max: p.cfg.OrgMaxInFlight}
	if l.MaxInFlight > 0 {
		s.Max = l.MaxInFlight
	}
	if p.cfg.ShardConcurrency > 1 {
		s.ShardMax = p.cfg.ShardConcurrency - 1
	}
	return s
}

// enter admits env's delivery on shard: a release to call when it ends, or
// the waitError that parks it.
func (p *Pool) enter(ctx context.Context, shard int, env envelope.Envelope) (func(), error) {
	if r := p.inflight.Enter(env.OrgID, shard, p.share(ctx, env.OrgID)); r != "" {
		p.parked.WithLabelValues(string(r)).Inc()
		return nil, &waitError{delay: p.cfg.ParkDelay, reason: string(r)}
	}
	for {
		release, wait := p.sessions.claim(env.SessionKey, env.Seq)
		if release != nil {
			return func() { release(); p.inflight.Leave(env.OrgID, shard) }, nil
		}
		if wait == nil {
			p.inflight.Leave(env.OrgID, shard)
			p.parked.WithLabelValues(reasonSessionBusy).Inc()
			return nil, &waitError{delay: p.cfg.FenceRetry, reason: reasonSessionBusy}
		}
		select {
		case <-wait:
		case <-ctx.Done():
			p.inflight.Leave(env.OrgID, shard)
			return nil, &waitError{delay: p.cfg.FenceRetry, reason: "shard stopping"}
		}
	}
}

// reasonSessionBusy: another task of the session (not its predecessor's
// direct successor) is in flight on this worker.
const reasonSessionBusy = "session_busy"
