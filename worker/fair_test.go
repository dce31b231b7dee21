package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/store"
)

// slowOrg makes the fake agent hang on every delivery of org until release
// is called, counting that org's deliveries in flight and their maximum.
type slowOrg struct {
	mu        sync.Mutex
	in, max   int
	gate      chan struct{}
	closeOnce sync.Once
}

func (s *slowOrg) hold() {
	s.mu.Lock()
	s.in++
	if s.in > s.max {
		s.max = s.in
	}
	s.mu.Unlock()
	<-s.gate
	s.mu.Lock()
	s.in--
	s.mu.Unlock()
}

func (s *slowOrg) inFlight() (in, max int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in, s.max
}

func (s *slowOrg) release() { s.closeOnce.Do(func() { close(s.gate) }) }

// addOrgB creates a second organisation with its own installation and an
// agent at the same fake endpoint.
func (e *env) addOrgB() {
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	for _, err := range []error{
		e.st.CreateOrg(ctx, store.Org{ID: "org_b", Name: "B", CreatedAt: now}),
		e.st.CreateAgent(ctx, store.Agent{ID: "agt_b", OrgID: "org_b", Name: "bot", URL: e.agent.srv.URL + "/hook", CreatedAt: now}),
		e.st.CreateInstallation(ctx, store.Installation{ID: "inst_b", OrgID: "org_b", ProfileID: "prof_plat", Provider: "slack", ExternalID: "T2", IngressID: "00000000000000000000000000000003", CreatedAt: now}),
	} {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	e.secret("sec_agent_b", store.OwnerAgent, "agt_b", store.PurposeSigning, agentSecret)
}

func eventB(conv string, n int) envelope.Envelope {
	return envelope.Envelope{
		Provider: "slack", OrgID: "org_b", InstallationID: "inst_b", ProfileID: "prof_plat",
		Conversation: conv, EventID: fmt.Sprintf("Ev-%s-%d", conv, n), AgentID: "agt_b",
		Text: fmt.Sprintf("message %d", n), ReceivedAt: time.Now().UTC(),
	}.Finish()
}

// fairnessRun: org A's agent hangs on every delivery; org B's events, on the
// same shard queue(s), are all delivered in order while A's are stuck; then
// A's agent recovers and A's events are delivered in order too. It returns
// the most deliveries of A that were in flight at once.
func fairnessRun(t *testing.T, shards int, tweak func(*Config), setup func(e *env)) int {
	e := newEnv(t, shards)
	e.addOrgB()
	if setup != nil {
		setup(e)
	}
	slow := &slowOrg{gate: make(chan struct{})}
	t.Cleanup(slow.release)
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		if env.OrgID == "org_a" {
			slow.hold()
		}
		return 0, ""
	})
	run(t, e.pool("w1", tweak))
	ctx := context.Background()
	var aSessions []string
	for s := 0; s < 6; s++ {
		conv := fmt.Sprintf("CA%d", s)
		aSessions = append(aSessions, event(conv, 1).SessionKey)
		for n := 1; n <= 3; n++ {
			if err := e.client.Enqueue(ctx, event(conv, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "org A's agent to hold deliveries", 20*time.Second, func() bool { in, _ := slow.inFlight(); return in > 0 })
	var bSessions []string
	for s := 0; s < 2; s++ {
		conv := fmt.Sprintf("CB%d", s)
		bSessions = append(bSessions, eventB(conv, 1).SessionKey)
		for n := 1; n <= 5; n++ {
			if err := e.client.Enqueue(ctx, eventB(conv, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "org B's events delivered while org A's agent hangs", 60*time.Second, func() bool {
		for _, s := range bSessions {
			if len(e.agent.seqs(s)) < 5 {
				return false
			}
		}
		return true
	})
	for _, s := range bSessions {
		if got := e.agent.seqs(s); !ordered(got, 5) {
			t.Fatalf("org B session %s delivered as %v, want 1..5 in order", s, got)
		}
	}
	if e.agent.delivered() != 10 {
		t.Fatalf("%d deliveries completed while org A's agent hangs, want org B's 10 only", e.agent.delivered())
	}
	_, max := slow.inFlight()
	slow.release()
	// Parked tasks return over the time org A's share needs for them.
	waitFor(t, "org A's events delivered after its agent recovered", 3*time.Minute, func() bool { return e.agent.delivered() == 28 })
	for _, s := range aSessions {
		if got := e.agent.seqs(s); !ordered(got, 3) {
			t.Fatalf("org A session %s delivered as %v, want 1..3 in order", s, got)
		}
	}
	return max
}

// TestSlowAgentDoesNotStallOtherOrgs: one shard (every session of both
// organisations in one queue), org A's agent hangs: A holds at most all but
// one of the shard's slots, and org B's sessions flow through the last one.
func TestSlowAgentDoesNotStallOtherOrgs(t *testing.T) {
	max := fairnessRun(t, 1, func(c *Config) { c.ShardConcurrency = 4 }, nil)
	if max > 3 {
		t.Fatalf("org A had %d deliveries in flight on a 4-slot shard, want at most 3", max)
	}
}

// TestOrgMaxInFlight: org A's limit set through the store (max_in_flight 1)
// holds it to one delivery in flight on the worker across its shards.
func TestOrgMaxInFlight(t *testing.T) {
	max := fairnessRun(t, 4, func(c *Config) { c.ShardConcurrency = 4 }, func(e *env) {
		if err := e.st.(store.Limits).SetOrgLimits(context.Background(), store.OrgLimits{OrgID: "org_a", MaxInFlight: 1, UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	})
	if max != 1 {
		t.Fatalf("org A had %d deliveries in flight, its limit is 1", max)
	}
}

// TestParkBook: a parked task waits about parked/in-flight times the
// organisation's delivery time, within [base, maxPark] (±20% jitter); a task
// parked again is not counted twice; an admitted one no longer counts.
func TestParkBook(t *testing.T) {
	var b parkBook
	base := 250 * time.Millisecond
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	within := func(got, want time.Duration) bool {
		return got >= time.Duration(float64(want)*0.8)-time.Millisecond && got <= time.Duration(float64(want)*1.2)+time.Millisecond
	}
	if d := b.park("org_a", "t1", 4, base, now); !within(d, base) {
		t.Fatalf("first park %v, want about %v (no delivery time known)", d, base)
	}
	b.served("org_a", time.Second)
	for i := 2; i <= 8; i++ {
		b.park("org_a", fmt.Sprintf("t%d", i), 4, base, now)
	}
	// 8 parked, 4 in flight, 1 s each: about 2 s.
	if d := b.park("org_a", "t8", 4, base, now); !within(d, 2*time.Second) {
		t.Fatalf("park with 8 parked, 4 in flight, 1 s deliveries: %v, want about 2s", d)
	}
	b.admit("org_a", "t1")
	b.admit("org_a", "t2")
	if d := b.park("org_a", "t3", 2, base, now); !within(d, 3*time.Second) {
		t.Fatalf("after two admitted (6 parked, 2 in flight): %v, want about 3s", d)
	}
	for i := 0; i < 1000; i++ {
		b.park("org_a", fmt.Sprintf("flood%d", i), 1, base, now)
	}
	if d := b.park("org_a", "flood1", 1, base, now); !within(d, maxPark) {
		t.Fatalf("a backlog far over the share: %v, want the cap %v", d, maxPark)
	}
	if d := b.park("org_b", "x1", 0, base, now); !within(d, base) {
		t.Fatalf("another organisation: %v, want about %v", d, base)
	}
	// Tasks that never came back (another worker took their shard) are
	// forgotten after parkForget: the count does not keep them.
	now = now.Add(parkForget + maxPark)
	if d := b.park("org_a", "fresh", 4, base, now); !within(d, base) {
		t.Fatalf("after the parked tasks were forgotten: %v, want about %v", d, base)
	}
}

type limitsSource struct {
	calls int
	err   error
	ls    []store.OrgLimits
}

func (s *limitsSource) SetOrgLimits(context.Context, store.OrgLimits) error { return nil }
func (s *limitsSource) GetOrgLimits(context.Context, string) (store.OrgLimits, error) {
	return store.OrgLimits{}, nil
}
func (s *limitsSource) ListOrgLimits(context.Context) ([]store.OrgLimits, error) {
	s.calls++
	return s.ls, s.err
}

// TestLimitsCache: one read per limitsTTL; a failing store is asked again
// only after limitsTTL (defaults, or the last limits read, meanwhile).
func TestLimitsCache(t *testing.T) {
	src := &limitsSource{ls: []store.OrgLimits{{OrgID: "org_a", MaxInFlight: 3}}}
	c := limitsCache{src: src}
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var errs int
	onErr := func(error) { errs++ }
	for i := 0; i < 5; i++ {
		if l := c.get(context.Background(), "org_a", now.Add(time.Duration(i)*time.Second/2), onErr); l.MaxInFlight != 3 {
			t.Fatalf("limits %+v", l)
		}
	}
	if src.calls != 1 {
		t.Fatalf("%d reads within the TTL, want 1", src.calls)
	}
	src.err = fmt.Errorf("store down")
	later := now.Add(limitsTTL)
	for i := 0; i < 5; i++ {
		if l := c.get(context.Background(), "org_a", later, onErr); l.MaxInFlight != 3 {
			t.Fatalf("limits while the store fails: %+v, want the last read", l)
		}
	}
	if src.calls != 2 || errs != 1 {
		t.Fatalf("store down: %d reads, %d warnings; want 2 and 1", src.calls, errs)
	}
	fresh := limitsCache{src: src}
	if l := fresh.get(context.Background(), "org_a", later, onErr); l.MaxInFlight != 0 {
		t.Fatalf("nothing read yet and the store down: %+v, want defaults", l)
	}
	fresh.get(context.Background(), "org_a", later.Add(time.Second), onErr)
	if src.calls != 3 {
		t.Fatalf("a failing first read retried before the TTL: %d reads", src.calls)
	}
}

// TestSuccessorRechecksLease: the direct successor of a running task waits
// for it in its slot; if the shard's lease moved meanwhile, the successor
// does not deliver when its predecessor ends (the new owner will).
func TestSuccessorRechecksLease(t *testing.T) {
	e := newEnv(t, 1)
	slow := &slowOrg{gate: make(chan struct{})}
	t.Cleanup(slow.release)
	e.agent.setPolicy(func(env envelope.Envelope, try int) (int, string) {
		if env.EventID == "Ev-C1-1" {
			slow.hold()
		}
		return 0, ""
	})
	p := e.pool("w1", func(c *Config) { c.ShardConcurrency = 4 })
	run(t, p)
	ctx := context.Background()
	for n := 1; n <= 2; n++ {
		if err := e.client.Enqueue(ctx, event("C1", n)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the first event held by the agent", 20*time.Second, func() bool { in, _ := slow.inFlight(); return in == 1 })
	// The successor waits in its slot once the fence names the running task.
	waitFor(t, "the successor waiting for its predecessor", 20*time.Second, func() bool {
		p.sessions.mu.Lock()
		defer p.sessions.mu.Unlock()
		r := p.sessions.m[event("C1", 1).SessionKey]
		return r != nil && r.waiting
	})
	// Another worker takes the shard (as after a pause past the lease).
	if err := e.rc.Set(ctx, "sb:{"+queue.QueueName(0)+"}:lease", "thief", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	slow.release()
	waitFor(t, "the first event delivered", 20*time.Second, func() bool { return len(e.agent.seqs(event("C1", 1).SessionKey)) >= 1 })
	waitFor(t, "the worker to drop the shard it lost", 20*time.Second, func() bool { return len(p.Owned()) == 0 })
	if got := e.agent.seqs(event("C1", 1).SessionKey); len(got) != 1 {
		t.Fatalf("deliveries %v after the lease moved: the successor was delivered by a worker that no longer holds the shard", got)
	}
}
