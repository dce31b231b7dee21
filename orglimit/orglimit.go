// Package orglimit holds the per-organisation limits' decisions: a token
// bucket for the rate of accepted webhooks (ingest) and an in-flight
// admission for deliveries (worker). The decisions (Take, Admit) are pure
// functions of their state; Buckets and InFlight are the thin concurrent
// holders of that state per organisation.
package orglimit

import (
	"math"
	"sync"
	"time"
)

// Reason is the typed refusal of a limit, shared by the answer, the log line
// and the metric label.
type Reason string

const (
	// ReasonRateLimited: the organisation is over its rate (ingest answers
	// 429 with Retry-After).
	ReasonRateLimited Reason = "rate_limited"
	// ReasonOrgInFlight: the organisation has its limit of deliveries in
	// flight on this worker (the task is parked and retried shortly).
	ReasonOrgInFlight Reason = "org_in_flight"
	// ReasonShardShare: the organisation holds every slot of the shard it
	// may hold (all but one: one slot of every shard stays for the others).
	ReasonShardShare Reason = "org_shard_share"
)

// Reasons lists every Reason (metric labels are pre-created from it).
var Reasons = []Reason{ReasonRateLimited, ReasonOrgInFlight, ReasonShardShare}

// Rate is a token bucket's shape: PerSec tokens a second, at most Burst
// (Burst 0: PerSec). PerSec 0 is no limit.
type Rate struct {
	PerSec int
	Burst  int
}

func (r Rate) burst() float64 {
	if r.Burst > 0 {
		return float64(r.Burst)
	}
	return float64(r.PerSec)
}

// Bucket is one organisation's token bucket: Tokens left at At.
type Bucket struct {
	Tokens float64
	At     time.Time
}

// Take decides one request at now: the bucket after it, whether it is
// allowed, and when refused how long until a token is there (at least 1 s,
// rounded up to whole seconds for Retry-After). A zero Bucket starts full.
// With no limit (PerSec 0) every request is allowed and the bucket is kept
// as it is.
func Take(b Bucket, r Rate, now time.Time) (Bucket, bool, time.Duration) {
	if r.PerSec <= 0 {
		return b, true, 0
	}
	max := r.burst()
	if b.At.IsZero() {
		b = Bucket{Tokens: max, At: now}
	}
	if el := now.Sub(b.At); el > 0 {
		b.Tokens = math.Min(max, b.Tokens+el.Seconds()*float64(r.PerSec))
		b.At = now
	}
	if b.Tokens > max { // the burst was lowered
		b.Tokens = max
	}
	if b.Tokens >= 1 {
		b.Tokens--
		return b, true, 0
	}
	wait := time.Duration((1 - b.Tokens) / float64(r.PerSec) * float64(time.Second))
	secs := time.Duration(math.Ceil(wait.Seconds())) * time.Second
	if secs < time.Second {
		secs = time.Second
	}
	return b, false, secs
}

// maxBuckets bounds the organisations Buckets remembers; past it, full
// buckets (indistinguishable from a fresh one) are dropped.
const maxBuckets = 1 << 16

// Buckets holds a token bucket per organisation. Safe for concurrent use.
type Buckets struct {
	mu sync.Mutex
	m  map[string]Bucket
}

// Allow takes a token of org's bucket at now.
func (bs *Buckets) Allow(org string, r Rate, now time.Time) (bool, time.Duration) {
	if r.PerSec <= 0 {
		return true, 0
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if bs.m == nil {
		bs.m = map[string]Bucket{}
	}
	if len(bs.m) >= maxBuckets {
		for k, b := range bs.m {
			if now.Sub(b.At) > time.Minute {
				delete(bs.m, k)
			}
		}
	}
	b, ok, wait := Take(bs.m[org], r, now)
	bs.m[org] = b
	return ok, wait
}

// Slots is how many deliveries are in flight: of one organisation on the
// worker, and of that organisation on one shard.
type Slots struct {
	Org      int // of the organisation, on this worker
	OrgShard int // of the organisation, on this shard
}

// Share is what an organisation may hold: Max deliveries on the worker (0:
// no limit) and ShardMax on one shard (0: no limit).
type Share struct {
	Max      int
	ShardMax int
}

// Admit decides whether one more delivery of the organisation may start
// given what is in flight: "" yes, else the reason it must wait.
func Admit(in Slots, s Share) Reason {
	if s.Max > 0 && in.Org >= s.Max {
		return ReasonOrgInFlight
	}
	if s.ShardMax > 0 && in.OrgShard >= s.ShardMax {
		return ReasonShardShare
	}
	return ""
}

// InFlight counts deliveries in flight per organisation and per
// (organisation, shard). Safe for concurrent use.
type InFlight struct {
	mu    sync.Mutex
	org   map[string]int
	shard map[shardOrg]int
}

type shardOrg struct {
	shard int
	org   string
}

// Enter admits one delivery of org on shard under s: "" and it is counted
// (Leave must follow), or the reason it is not.
func (f *InFlight) Enter(org string, shard int, s Share) Reason {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.org == nil {
		f.org, f.shard = map[string]int{}, map[shardOrg]int{}
	}
	k := shardOrg{shard, org}
	if r := Admit(Slots{Org: f.org[org], OrgShard: f.shard[k]}, s); r != "" {
		return r
	}
	f.org[org]++
	f.shard[k]++
	return ""
}

// Leave ends a delivery Enter admitted.
func (f *InFlight) Leave(org string, shard int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := shardOrg{shard, org}
	if f.org[org]--; f.org[org] <= 0 {
		delete(f.org, org)
	}
	if f.shard[k]--; f.shard[k] <= 0 {
		delete(f.shard, k)
	}
}

// Of is how many deliveries of org are in flight.
func (f *InFlight) Of(org string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.org[org]
}
