// Package quarantine decides when an edge stops verifying requests to one
// ingress id: when it draws more than Threshold refused requests (bad or
// missing signatures, stale timestamps…) within one minute, it is answered
// with a cheap 429, before its body is read or hashed, for CoolDown. The core
// (Step) is a pure function over one ingress id's counters; Set holds the
// entries, keyed only by configured ingress ids (an unknown path never
// creates state, so memory is bounded by the routes). Both hosts use this
// one rule: the native `switchboard edge` (package edge) and the Envoy Wasm
// plugin (filter/wasm, one Set per VM); it is TinyGo-safe (no clock, no I/O,
// no reflection: the host passes the time).
package quarantine

import (
	"sync"
	"time"
)

// Policy is when to quarantine and for how long.
type Policy struct {
	Threshold int64         // refusals per minute that start a quarantine [100]
	CoolDown  time.Duration // how long a quarantine lasts [1 min]
}

// Defaults fills unset fields.
func (p Policy) Defaults() Policy {
	if p.Threshold <= 0 {
		p.Threshold = 100
	}
	if p.CoolDown <= 0 {
		p.CoolDown = time.Minute
	}
	return p
}

// Entry is one ingress id's state: refusals in the current minute window and
// the end of its quarantine (unix seconds, 0 when none).
type Entry struct {
	Window  int64 // unix minute of the counted refusals
	Refused int64
	Until   int64
}

// Event is what happened to a request for the ingress id.
type Event int

const (
	Arrived Event = iota // a request arrived (before its body is read)
	Refused              // the request was refused (after verification)
)

// Outcome is the decision of Step.
type Outcome struct {
	Quarantined bool // Arrived: answer 429 without reading the body
	Started     bool // Refused: this refusal started a quarantine (report it once)
}

// Step is the pure decision: the next state of e after ev at now (unix seconds).
func Step(e Entry, ev Event, now int64, p Policy) (Entry, Outcome) {
	p = p.Defaults()
	quarantined := e.Until > now
	switch ev {
	case Arrived:
		return e, Outcome{Quarantined: quarantined}
	case Refused:
		if quarantined {
			return e, Outcome{}
		}
		if m := now / 60; m != e.Window {
			e.Window, e.Refused = m, 0
		}
		e.Refused++
		if e.Refused > p.Threshold {
			e.Until = now + int64(p.CoolDown/time.Second)
			e.Window, e.Refused = 0, 0
			return e, Outcome{Started: true}
		}
		return e, Outcome{}
	}
	return e, Outcome{}
}

// Set holds the entries of the ingress ids that drew refusals. Safe for
// concurrent use.
type Set struct {
	policy Policy
	mu     sync.Mutex
	m      map[string]Entry
}

// NewSet returns an empty Set with policy p.
func NewSet(p Policy) *Set { return &Set{policy: p.Defaults(), m: map[string]Entry{}} }

// CoolDown is the policy's cool-down.
func (s *Set) CoolDown() time.Duration { return s.policy.CoolDown }

// Arrive reports whether a request to ingress id is to be answered 429 now.
func (s *Set) Arrive(id string, now int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return false
	}
	_, o := Step(e, Arrived, now, s.policy)
	return o.Quarantined
}

// Refuse records a refused request to ingress id; started is true when it
// started a quarantine, which lasts until (unix seconds).
func (s *Set) Refuse(id string, now int64) (started bool, until int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, o := Step(s.m[id], Refused, now, s.policy)
	s.m[id] = e
	if len(s.m) > 4096 {
		s.prune(now)
	}
	if !o.Started {
		return false, 0
	}
	return true, e.Until
}

// prune drops entries with neither a quarantine nor a refusal this minute.
func (s *Set) prune(now int64) {
	for id, e := range s.m {
		if e.Until <= now && e.Window != now/60 {
			delete(s.m, id)
		}
	}
}

// Quarantined lists the ingress ids in quarantine at now.
func (s *Set) Quarantined(now int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, e := range s.m {
		if e.Until > now {
			out = append(out, id)
		}
	}
	return out
}
