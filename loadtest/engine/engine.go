// Package engine sends a load scenario's traffic to a live edge: open loop
// at the scenario's arrival rate (github.com/tsenart/vegeta/v12 with a pacer
// that follows the stages and their ramps), signed provider requests of
// probe installations (package probe), a share of them forged, stale or
// cross-tenant, and reads the probe agent's receipts for delivered =
// accepted, duplicates and the end-to-end latency.
package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/switchboard-dev/switchboard/loadtest"
	"github.com/switchboard-dev/switchboard/probe"
	"github.com/switchboard-dev/switchboard/testevent"
)

// Pacer is the scenario's arrival plan as a vegeta.Pacer: hit n+1 is due
// when the planned count (the integral of the rate) reaches n+1. Factor
// scales the plan (0: 1; a flood's is its factor).
type Pacer struct {
	S      loadtest.Scenario
	Factor float64
}

func (p Pacer) factor() float64 {
	if p.Factor > 0 {
		return p.Factor
	}
	return 1
}

// count is the planned number of hits by elapsed t.
func (p Pacer) count(t time.Duration) float64 { return p.factor() * p.plan(t) }

func (p Pacer) plan(t time.Duration) float64 {
	prev, n := 0.0, 0.0
	for _, st := range p.S.Stages {
		if r := st.Ramp.D(); r > 0 {
			if t < r {
				x := t.Seconds()
				return n + prev*x + (st.Rate-prev)*x*x/(2*r.Seconds())
			}
			n += (prev + st.Rate) / 2 * r.Seconds()
			t -= r
		}
		if d := st.Duration.D(); t < d {
			return n + st.Rate*t.Seconds()
		} else {
			n += st.Rate * d.Seconds()
			t -= d
		}
		prev = st.Rate
	}
	return n
}

// Pace implements vegeta.Pacer.
func (p Pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	total := p.S.Duration()
	if elapsed >= total {
		return 0, true
	}
	want := float64(hits + 1)
	if p.count(elapsed) >= want {
		return 0, false
	}
	if p.count(total) < want {
		return 0, true
	}
	lo, hi := elapsed, total
	for i := 0; i < 50 && hi-lo > time.Microsecond; i++ {
		mid := lo + (hi-lo)/2
		if p.count(mid) >= want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi - elapsed, false
}

// Rate implements vegeta.Pacer.
func (p Pacer) Rate(elapsed time.Duration) float64 { return p.factor() * p.S.RateAt(elapsed) }

// Config is one run.
type Config struct {
	Scenario loadtest.Scenario
	// Harnesses are the probe set-ups by provider (each with
	// Scenario.Tenants installations, ready at the edge).
	Harnesses map[string]*probe.Harness
	Edge      string
	// Progress gets a line every ProgressEvery [1s] (nil: none).
	Progress      io.Writer
	ProgressEvery time.Duration
	Seed          uint64
}

type record struct {
	kind     loadtest.Kind
	tenant   int
	provider string
	marker   string
	start    time.Time
	latency  time.Duration
	status   int
	err      bool
}

// recorder is the attack's HTTP transport: it times each request and
// keeps its outcome by the request id header.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	recs map[string]*record
	// errors: transport errors and valid requests not answered 2xx (the
	// progress line's count; forged traffic refused is not an error).
	errors atomic.Int64
}

const idHeader = "X-Loadtest-Request"

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	id := req.Header.Get(idHeader)
	req.Header.Del(idHeader)
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	lat := time.Since(start)
	r.mu.Lock()
	if rec := r.recs[id]; rec != nil {
		rec.start, rec.latency = start, lat
		if err != nil {
			rec.err = true
			r.errors.Add(1)
		} else {
			rec.status = resp.StatusCode
			if rec.kind == loadtest.KindValid && resp.StatusCode/100 != 2 {
				r.errors.Add(1)
			}
		}
	}
	r.mu.Unlock()
	return resp, err
}

// conversation is the channel id of conversation i in provider's format.
func conversation(provider string, i int) string {
	switch provider {
	case "slack":
		return fmt.Sprintf("C0LT%06d", i)
	case "telegram":
		return "-100" + fmt.Sprintf("%010d", 1000000+i)
	case "discord", "whatsapp":
		return strconv.FormatInt(int64(700000000000000000+i), 10)
	}
	return "conv-" + strconv.Itoa(i)
}

// Run sends the scenario and measures it.
func Run(ctx context.Context, cfg Config) (loadtest.Figures, error) {
	sc := cfg.Scenario
	for _, p := range sc.ProviderNames() {
		h := cfg.Harnesses[p]
		if h == nil || len(h.Installs) < sc.Tenants {
			return loadtest.Figures{}, fmt.Errorf("no probe set-up with %d tenants for %s", sc.Tenants, p)
		}
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = time.Second
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var rngMu sync.Mutex
	run := strconv.FormatUint(seed%1_000_000_007, 36)
	rec := &recorder{next: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}, recs: map[string]*record{}}
	var seq atomic.Int64
	var buildErr atomic.Value
	targeter := func(t *vegeta.Target) error {
		n := seq.Add(1)
		rngMu.Lock()
		provider := sc.ProviderOf(rng.Float64())
		kind := sc.KindOf(rng.Float64())
		tenant := sc.TenantOf(provider, rng.Float64())
		other := (tenant + 1 + rng.IntN(max(1, sc.Tenants-1))) % sc.Tenants
		conv := rng.IntN(sc.Conversations)
		rngMu.Unlock()
		h := cfg.Harnesses[provider]
		in := h.Installs[tenant]
		marker := "sblt-" + run + "-" + strconv.FormatInt(n, 10)
		now := time.Now()
		ev := in.Event(marker, now)
		ev.Channel = conversation(provider, conv)
		cred, target := in.Cred, in
		switch kind {
		case loadtest.KindForged:
			cred = testevent.Forge(provider, cred)
		case loadtest.KindStale:
			ev.Now = now.Add(-10 * time.Minute)
			if provider == "telegram" || provider == "whatsapp" {
				// No timestamp in the scheme: stale means a replay of
				// nothing new, so send it forged instead (never accepted).
				cred = testevent.Forge(provider, cred)
			}
		case loadtest.KindCrossTenant:
			target = h.Installs[other]
		}
		s, err := probe.Sign(cfg.Edge, target, ev, cred)
		if err != nil {
			buildErr.Store(err)
			return err
		}
		id := strconv.FormatInt(n, 10)
		rec.mu.Lock()
		rec.recs[id] = &record{kind: kind, tenant: tenant, provider: provider, marker: marker}
		rec.mu.Unlock()
		t.Method, t.URL, t.Body = http.MethodPost, s.URL, s.Body
		t.Header = http.Header{}
		for _, hd := range s.Headers {
			t.Header.Add(hd[0], hd[1])
		}
		t.Header.Set(idHeader, id)
		return nil
	}
	atk := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: rec, Timeout: 30 * time.Second}),
		vegeta.Workers(16), vegeta.MaxWorkers(1024))
	var flood *floodRun
	if sc.Flood != nil {
		var err error
		if flood, err = startFlood(cfg, run); err != nil {
			return loadtest.Figures{}, err
		}
	}
	start := time.Now()
	results := atk.Attack(targeter, Pacer{S: sc}, sc.Duration()+time.Second, sc.Name)
	var sent int64
	var window []float64
	lastTick, lastSent := start, int64(0)
	done := ctx.Done()
loop:
	for {
		select {
		case <-done:
			atk.Stop()
			done = nil
		case r, ok := <-results:
			if !ok {
				break loop
			}
			sent++
			window = append(window, float64(r.Latency)/float64(time.Millisecond))
			if now := time.Now(); cfg.Progress != nil && now.Sub(lastTick) >= cfg.ProgressEvery {
				rate := float64(sent-lastSent) / now.Sub(lastTick).Seconds()
				fmt.Fprintln(cfg.Progress, loadtest.Progress(now.Sub(start), sent, rate, loadtest.Quantile(window, 0.99), rec.errors.Load()))
				lastTick, lastSent, window = now, sent, window[:0]
			}
		}
	}
	elapsed := time.Since(start)
	var floodFigures *loadtest.FloodFigures
	if flood != nil {
		if ctx.Err() != nil {
			flood.atk.Stop()
		}
		floodFigures = flood.wait()
	}
	if err, _ := buildErr.Load().(error); err != nil {
		return loadtest.Figures{}, fmt.Errorf("build a request: %w", err)
	}
	if ctx.Err() != nil {
		return loadtest.Figures{}, ctx.Err()
	}

	f := loadtest.Figures{Sent: map[loadtest.Kind]int64{}, Accepted: map[loadtest.Kind]int64{}, Duration: elapsed, Flood: floodFigures}
	if sc.Noisy != nil {
		f.Noisy = &loadtest.NoisyFigures{}
	}
	noisy := func(r *record) bool { return f.Noisy != nil && r.kind == loadtest.KindValid && r.tenant == 0 }
	rec.mu.Lock()
	recs := make([]*record, 0, len(rec.recs))
	for _, r := range rec.recs {
		if !r.start.IsZero() || r.err {
			recs = append(recs, r)
		}
	}
	rec.mu.Unlock()
	want := map[string]*record{} // accepted valid requests by marker
	forged := map[string]bool{}
	f.ValidStatus = map[int]int64{}
	for _, r := range recs {
		f.Requests++
		f.Sent[r.kind]++
		if noisy(r) {
			f.Noisy.Sent++
			switch {
			case r.status/100 == 2:
				f.Noisy.Accepted++
			case r.status == http.StatusTooManyRequests:
				f.Noisy.RateLimited++
			}
		}
		if r.kind == loadtest.KindValid {
			f.ValidStatus[r.status]++ // 0 when r.err
		}
		if r.err {
			f.Errors++
			continue
		}
		f.EdgeMs = append(f.EdgeMs, float64(r.latency)/float64(time.Millisecond))
		if r.kind == loadtest.KindValid {
			f.ValidEdgeMs = append(f.ValidEdgeMs, float64(r.latency)/float64(time.Millisecond))
		}
		if r.status/100 == 2 {
			f.Accepted[r.kind]++
			if r.kind == loadtest.KindValid {
				want[r.marker] = r
			}
		}
		if r.kind != loadtest.KindValid {
			forged[r.marker] = true
		}
	}
	if elapsed > 0 {
		f.Rate = float64(f.Requests) / elapsed.Seconds()
	}
	// Drain: wait until every accepted valid request was delivered (with a
	// noisy tenant: every other tenant's; its slow agent's backlog drains
	// after the run).
	need := len(want)
	if f.Noisy != nil {
		need -= int(f.Noisy.Accepted)
	}
	deadline := time.Now().Add(sc.Drain.D())
	for {
		got := 0
		for _, h := range cfg.Harnesses {
			for _, d := range h.Agent.Received() {
				if r := want[probe.Marker(d.Envelope.Text)]; r != nil && !noisy(r) {
					got++
				}
			}
		}
		if got >= need || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return f, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// A short settle for stragglers (redeliveries, anything forged).
	select {
	case <-ctx.Done():
		return f, ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	seen := map[string]bool{}
	for _, h := range cfg.Harnesses {
		for _, d := range h.Agent.Received() {
			m := probe.Marker(d.Envelope.Text)
			if forged[m] {
				f.ForgedDelivered++
				continue
			}
			r := want[m]
			if r == nil {
				continue
			}
			if seen[m] {
				f.Redelivered++
				continue
			}
			seen[m] = true
			f.Delivered++
			e2e := math.Max(0, float64(d.At.Sub(r.start))/float64(time.Millisecond))
			f.E2EMs = append(f.E2EMs, e2e)
			switch {
			case noisy(r):
				f.Noisy.Delivered++
				f.NoisyE2EMs = append(f.NoisyE2EMs, e2e)
			case f.Noisy != nil:
				f.OthersE2EMs = append(f.OthersE2EMs, e2e)
			}
		}
	}
	return f, nil
}

// floodRun is the scenario's flood: a forged request (the installation's
// credentials of the same kind, but wrong) to one probe ingress id, sent
// open loop at Factor times the planned rate, on its own attacker and
// connections beside the scenario's traffic.
type floodRun struct {
	atk  *vegeta.Attacker
	done chan *loadtest.FloodFigures
}

func startFlood(cfg Config, run string) (*floodRun, error) {
	sc := cfg.Scenario
	fl := sc.Flood
	in := cfg.Harnesses[fl.Provider].Installs[fl.Tenant]
	forged := testevent.Forge(fl.Provider, in.Cred)
	// One forged request, signed once and sent again and again (a replayed
	// flood; the generator's CPU stays with sending), its body padded to
	// BodyBytes.
	ev := in.Event("sblt-flood-"+run, time.Now())
	ev.Channel = conversation(fl.Provider, 0)
	sg, err := probe.Sign(cfg.Edge, in, ev, forged)
	if err != nil {
		return nil, fmt.Errorf("build the flood's request: %w", err)
	}
	if pad := fl.BodyBytes - len(sg.Body); pad > 0 {
		ev.Text += strings.Repeat("x", pad)
		if sg, err = probe.Sign(cfg.Edge, in, ev, forged); err != nil {
			return nil, fmt.Errorf("build the flood's request: %w", err)
		}
	}
	header := http.Header{}
	for _, hd := range sg.Headers {
		header.Add(hd[0], hd[1])
	}
	targeter := func(t *vegeta.Target) error {
		t.Method, t.URL, t.Body, t.Header = http.MethodPost, sg.URL, sg.Body, header.Clone()
		return nil
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	atk := vegeta.NewAttacker(vegeta.Client(&http.Client{Transport: tr, Timeout: 30 * time.Second}),
		vegeta.Workers(16), vegeta.MaxWorkers(1024))
	r := &floodRun{atk: atk, done: make(chan *loadtest.FloodFigures, 1)}
	start := time.Now()
	results := atk.Attack(targeter, Pacer{S: sc, Factor: fl.Factor}, sc.Duration()+time.Second, sc.Name+"-flood")
	go func() {
		f := &loadtest.FloodFigures{Provider: fl.Provider, Ingress: in.Ingress, Statuses: map[string]int64{}}
		for res := range results {
			f.Sent++
			if res.Code == 0 {
				f.Errors++
				continue
			}
			f.Statuses[strconv.Itoa(int(res.Code))]++
			f.EdgeMs = append(f.EdgeMs, float64(res.Latency)/float64(time.Millisecond))
		}
		if d := time.Since(start); d > 0 {
			f.Rate = float64(f.Sent) / d.Seconds()
		}
		tr.CloseIdleConnections()
		r.done <- f
	}()
	return r, nil
}

// wait returns the flood's figures once its attack has ended.
func (r *floodRun) wait() *loadtest.FloodFigures { return <-r.done }
