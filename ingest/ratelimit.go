package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/store"
)

// Per-organisation rate limit. Ingest is where it is enforced today: the
// first point where the organisation is known from the edge's attestation
// (a shared platform app's: once its installation is resolved). A request of
// an organisation over its token bucket (store.OrgLimits.RatePerSec, Burst;
// else Config.OrgRate) is answered 429 {"error":"rate_limited"} with
// Retry-After before its payload is parsed, anything is read from the store
// beyond the generation, or anything is enqueued. The bucket is per ingest
// process. The edge does not enforce it (its configuration carries no
// limits yet): the edge has verified the signature by then.

// ReasonRateLimited (429): the organisation is over its rate.
const ReasonRateLimited = Reason(orglimit.ReasonRateLimited)

// noteEvery bounds the log lines and audit events of one organisation's
// rate limiting to one per interval (every refusal is still counted by the
// requests metric, reason rate_limited), so a flood does not become a flood
// of store writes.
const noteEvery = 10 * time.Second

type rateLimits struct {
	buckets orglimit.Buckets
	mu      sync.Mutex
	noted   map[string]time.Time // org -> last logged/audited refusal
}

// orgLimits reads every organisation's limits once per store generation.
func (r *reads) orgLimits(ctx context.Context) (map[string]store.OrgLimits, error) {
	ls, ok := r.s.(store.Limits)
	if !ok {
		return nil, nil
	}
	return memo(r.g, "limits", func() (map[string]store.OrgLimits, error) {
		all, err := ls.ListOrgLimits(ctx)
		if err != nil {
			return nil, err
		}
		m := make(map[string]store.OrgLimits, len(all))
		for _, l := range all {
			m[l.OrgID] = l
		}
		return m, nil
	})
}

// rateCheck takes a token of org's bucket: nil, or the rejection.
func (h *Handler) rateCheck(ctx context.Context, req *request, org, target string) *rejection {
	r := h.cfg.OrgRate
	if h.cfg.OrgRate.PerSec >= 0 {
		m, err := req.q.orgLimits(ctx)
		if err != nil {
			return &rejection{reason: ReasonStoreUnavailable, detail: "organisation limits: " + err.Error(), org: org, target: target}
		}
		if l, ok := m[org]; ok && l.RatePerSec > 0 {
			r = orglimit.Rate{PerSec: l.RatePerSec, Burst: l.Burst}
		}
	}
	ok, wait := h.rates.buckets.Allow(org, r, req.now)
	if ok {
		return nil
	}
	return &rejection{reason: ReasonRateLimited, detail: "organisation over its rate limit", org: org, target: target, retryAfter: wait}
}

// note reports whether a rate-limit refusal of org is to be logged and
// audited now (the first of each noteEvery).
func (rl *rateLimits) note(org string, now time.Time) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.noted == nil {
		rl.noted = map[string]time.Time{}
	}
	if last, ok := rl.noted[org]; ok && now.Sub(last) < noteEvery && !now.Before(last) {
		return false
	}
	if len(rl.noted) > 1<<16 {
		clear(rl.noted)
	}
	rl.noted[org] = now
	return true
}
