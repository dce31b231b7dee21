package worker

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/store"
)

// Tenant fairness. Sessions of every organisation share the shard queues, so
// a slow agent (or a flood) of one organisation must not hold the slots the
// others' sessions need. Each shard runs ShardConcurrency slots; a delivery
// enters only when its organisation is under its in-flight limit on this
// worker (store.OrgLimits.MaxInFlight, else OrgMaxInFlight) and holds fewer
// than ShardConcurrency-1 slots of the shard (one slot of every shard stays
// for the other organisations). A task over either is parked: sent back to
// the retry set (for about as long as its organisation's share needs to
// reach it, see parkBook) without counting an attempt, and its slot goes to
// the next task. Order is still the fence's: a parked task only waits,
// and a later task of its session finds the fence closed behind it.
//
// Within one worker, the direct successor of a session's running task waits
// for it in its slot (it counts against its organisation like any
// delivery) instead of a trip through the retry set, so a conversation's
// burst flows at the agent's pace; any later task is parked as the fence
// says.

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
		// Keep what was read (defaults when nothing was) and try again
		// after limitsTTL: one warning per attempt, not per task.
		onErr(err)
		if c.m == nil {
			c.m = map[string]store.OrgLimits{}
		}
		c.at = now
		return c.m[org]
	}
	m := make(map[string]store.OrgLimits, len(ls))
	for _, l := range ls {
		m[l.OrgID] = l
	}
	c.m, c.at = m, now
	return m[org]
}

// sessionSlots tracks, per session, the task running on this worker (the
// one the fence let through), so that its direct successor can wait for it
// in its slot instead of a trip through the retry set. A successor never
// holds back its predecessor: it waits only once the fence said the
// predecessor is the one to run.
type sessionSlots struct {
	mu sync.Mutex
	m  map[string]*sessionRun
}

type sessionRun struct {
	seq     int64
	done    chan struct{}
	waiting bool // its direct successor waits for it
}

// start records that task seq of session key runs; the returned func ends
// it (and wakes a successor waiting for it).
func (s *sessionSlots) start(key string, seq int64) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*sessionRun{}
	}
	if s.m[key] != nil {
		return func() {} // a Late task beside the session's current one
	}
	r := &sessionRun{seq: seq, done: make(chan struct{})}
	s.m[key] = r
	return func() {
		s.mu.Lock()
		if s.m[key] == r {
			delete(s.m, key)
		}
		s.mu.Unlock()
		close(r.done)
	}
}

// successor returns when task missing of session key runs on this worker
// and nobody waits for it yet: the channel closed when it ends. nil: the
// caller parks as the fence says.
func (s *sessionSlots) successor(key string, missing int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[key]
	if r == nil || r.seq != missing || r.waiting {
		return nil
	}
	r.waiting = true
	return r.done
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

// enter admits env's delivery on shard under its organisation's share: a
// release to call when it ends, or the waitError that parks it.
func (p *Pool) enter(ctx context.Context, shard int, env envelope.Envelope) (func(), error) {
	if r := p.inflight.Enter(env.OrgID, shard, p.share(ctx, env.OrgID)); r != "" {
		p.parked.WithLabelValues(string(r)).Inc()
		d := p.parks.park(env.OrgID, env.ID, p.inflight.Of(env.OrgID), p.cfg.ParkDelay, p.cfg.Now())
		return nil, &waitError{delay: d, reason: string(r)}
	}
	p.parks.admit(env.OrgID, env.ID)
	start := time.Now()
	return func() {
		p.inflight.Leave(env.OrgID, shard)
		p.parks.served(env.OrgID, time.Since(start))
	}, nil
}

// parkBook spreads the return of an organisation's parked tasks over the
// time its share needs to take them: a task is parked for about
// parked/in-flight deliveries of its organisation times its average
// delivery time (at least ParkDelay, at most maxPark), so a backlog far
// over its share (a flood to a slow agent) comes back to the shard queues
// at about the rate the organisation's share can take it, instead of
// cycling through the queues and delaying the other organisations' tasks
// queued behind it.
type parkBook struct {
	mu    sync.Mutex
	orgs  map[string]*orgParks
	task  map[string]parkedTask // by task id
	swept time.Time
}

// parkedTask is a task this worker parked and has not admitted since. One
// that does not come back within parkForget (another worker took its
// shard, it was dead-lettered or replayed elsewhere) is forgotten, so the
// organisation's count does not grow with tasks that are gone.
type parkedTask struct {
	org string
	at  time.Time // last parked
}

const parkForget = 4 * maxPark

type orgParks struct {
	parked int           // tasks of the org parked by this worker, not admitted since
	svc    time.Duration // moving average of its delivery times (enter to leave)
}

// maxPark caps one park.
const maxPark = 30 * time.Second

func (b *parkBook) org(org string) *orgParks {
	if b.orgs == nil || len(b.orgs) > 1<<16 || len(b.task) > 1<<20 {
		b.orgs, b.task = map[string]*orgParks{}, map[string]parkedTask{}
	}
	o := b.orgs[org]
	if o == nil {
		o = &orgParks{}
		b.orgs[org] = o
	}
	return o
}

// park records task id of org parked (inFlight: the org's deliveries in
// flight) and returns how long it waits.
func (b *parkBook) park(org, id string, inFlight int, base time.Duration, now time.Time) time.Duration {
	b.mu.Lock()
	b.sweep(now)
	o := b.org(org)
	if _, ok := b.task[id]; !ok {
		o.parked++
	}
	b.task[id] = parkedTask{org: org, at: now}
	svc := max(o.svc, base)
	d := time.Duration(float64(o.parked) / float64(max(inFlight, 1)) * float64(svc))
	b.mu.Unlock()
	d = min(max(d, base), maxPark)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// sweep forgets the tasks parked longer than parkForget ago (at most once
// every maxPark: amortised over the parks in between).
func (b *parkBook) sweep(now time.Time) {
	if now.Sub(b.swept) < maxPark {
		return
	}
	b.swept = now
	for id, t := range b.task {
		if now.Sub(t.at) > parkForget {
			delete(b.task, id)
			if o := b.orgs[t.org]; o != nil && o.parked > 0 {
				o.parked--
			}
		}
	}
}

// admit records that task id of org was let through.
func (b *parkBook) admit(org, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.task[id]; !ok {
		return
	}
	delete(b.task, id)
	if o := b.orgs[org]; o != nil && o.parked > 0 {
		o.parked--
	}
}

// served records one delivery time of org.
func (b *parkBook) served(org string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := b.org(org)
	if o.svc == 0 {
		o.svc = d
		return
	}
	o.svc = (4*o.svc + d) / 5
}

// awaitPredecessor waits, when the fence is closed on the task running on
// this worker just before env, for that task to end and reads the fence
// again; otherwise it returns c as it is.
//
// The wait can be as long as the predecessor's delivery: the shard's lease
// is checked again after it (the check of fence.Start is that old by then),
// so a worker that lost the shard meanwhile leaves the task to its new owner.
func (p *Pool) awaitPredecessor(ctx context.Context, shard int, token string, fence *queue.Fence, env envelope.Envelope, c queue.Check) (queue.Check, error) {
	if c.Verdict != queue.Wait {
		return c, nil
	}
	done := p.sessions.successor(env.SessionKey, c.Missing)
	if done == nil {
		return c, nil
	}
	select {
	case <-done:
	case <-ctx.Done():
		return c, &waitError{delay: p.cfg.FenceRetry, reason: "shard stopping"}
	}
	holds, err := p.leases.Holds(ctx, shard, token)
	if err != nil {
		return c, &retryError{delay: p.cfg.FenceRetry, err: err}
	}
	if !holds {
		return c, &waitError{delay: p.cfg.FenceRetry, reason: "shard lease lost"}
	}
	c, err = fence.Check(ctx, env.SessionKey, env.ID, env.Seq)
	if err != nil {
		return c, &retryError{delay: p.cfg.FenceRetry, err: err}
	}
	return c, nil
}
