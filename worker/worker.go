// Package worker is the pool that consumes the shard queues: it owns shards
// through leases (queue.Leases), runs one Asynq server per owned shard with
// ShardConcurrency slots shared fairly between organisations (fair.go),
// processes each session's events in sequence order (queue.Fence),
// delivers envelopes to agents signed with Standard Webhooks, sends the
// agents' replies through the provider APIs with the installation's
// credentials, retries with backoff and dead-letters what keeps failing.
//
// Retries and order. A failing event holds its session, not its shard: the
// failed task goes back to Asynq's retry set with an exponential delay (or the
// provider's Retry-After), and every later task of the same session finds the
// fence closed (its Seq is not last_done+1) and waits in the retry set too,
// while other sessions of the shard keep flowing. Retrying inside the handler
// ("in place") would give the same order but block every session of the
// shard for the whole backoff and make a shard handover wait for it. The
// attempt count is the worker's own (Config.Attempts, kept in Redis beside
// the task and reset by a replay); after the last attempt the fence moves past
// the event (Fence.Abandon) and the task is archived: a dead letter, listed by
// DeadLetters and re-run by Replay.
package worker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provenance"

	"github.com/switchboard-dev/switchboard/egress"
	"github.com/switchboard-dev/switchboard/orglimit"
	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/github"
	"github.com/switchboard-dev/switchboard/provider/instagram"
	"github.com/switchboard-dev/switchboard/provider/line"
	"github.com/switchboard-dev/switchboard/provider/messenger"
	"github.com/switchboard-dev/switchboard/provider/slack"
	"github.com/switchboard-dev/switchboard/provider/standardwebhooks"
	"github.com/switchboard-dev/switchboard/provider/telegram"
	"github.com/switchboard-dev/switchboard/provider/twilio"
	"github.com/switchboard-dev/switchboard/provider/whatsapp"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/gencache"
)

// Directory is what the worker reads from the binding store (store.Store
// satisfies it).
type Directory interface {
	GetAgent(ctx context.Context, id string) (store.Agent, error)
	GetInstallation(ctx context.Context, id string) (store.Installation, error)
	GetProfile(ctx context.Context, id string) (store.AppProfile, error)
	ListSecrets(ctx context.Context, ownerKind, ownerID string) ([]store.Secret, error)
	AppendAudit(ctx context.Context, e store.AuditEvent) (int64, error)
	// GetRevocation reads a provider-reported revocation (the reason a
	// task of a revoked installation or conversation is dead-lettered with).
	GetRevocation(ctx context.Context, installationID, conversation string) (store.Revocation, error)
}

// Verifier checks a task envelope's provenance seal; a refusal carries a
// provenance.Reason (*provenance.Keys satisfies it).
type Verifier interface {
	Verify(env envelope.Envelope) error
}

// Opener decrypts a sealed secret (*secrets.Keyring satisfies it).
type Opener interface {
	Open(keyID string, ciphertext []byte, aad string) ([]byte, error)
}

// TextSender sends one text message through a provider API. account is the
// installation's provider-side id (WhatsApp phone_number_id), conversation and
// thread come from the envelope. The provider/<p> Senders satisfy it; errors
// may implement Temporary() bool and RetryAfter() time.Duration.
type TextSender interface {
	SendText(ctx context.Context, token, account, conversation, thread, text string) error
}

// DefaultSenders returns the outbound clients of the built-in providers,
// pointed at the providers' public APIs.
func DefaultSenders(hc *http.Client) map[string]TextSender {
	return map[string]TextSender{
		"slack":     slack.NewSender("", hc),
		"telegram":  telegram.NewSender("", hc),
		"whatsapp":  whatsapp.NewSender("", "", hc),
		"discord":   discord.NewSender("", hc),
		"twilio":    twilio.NewSender("", hc),
		"line":      line.NewSender("", hc),
		"github":    github.NewSender("", hc),
		"messenger": messenger.NewSender("", "", hc),
		"instagram": instagram.NewSender("", "", hc),
		// reply_url is the tenant's choice: it goes through the egress policy
		// (public addresses only).
		"standardwebhooks": standardwebhooks.NewSender(&http.Client{Timeout: 30 * time.Second, Transport: egress.Transport(false)}),
	}
}

// Config configures a Pool. Zero values take the defaults in brackets.
type Config struct {
	Redis redis.UniversalClient // shared connection (not closed by the pool); or RedisOptions, or RedisAddr
	// RedisOptions are dialled by the pool (see redisconf.Parse: password,
	// database, TLS); the shard queues' Asynq servers and inspector share
	// that connection, so the same credentials apply to them.
	RedisOptions *redis.Options
	RedisAddr    string // host:port or a redis:// URL, without the environment's password
	Shards       int    // [queue.DefaultShards]; the same count as ingest
	ID           string // worker id [hostname-pid]

	Store   Directory
	Keyring Opener
	// Provenance verifies ingest's seal on every task before anything else
	// happens to it (*provenance.Keys satisfies it); required. A task that
	// fails is refused: dead-lettered with its reason, counted, audited.
	Provenance Verifier
	// Metrics registers the worker's counters (nil: not registered).
	Metrics prometheus.Registerer
	Senders map[string]TextSender // by provider [DefaultSenders]
	HTTP    *http.Client          // agent deliveries [30 s timeout]
	Logger  *slog.Logger

	LeaseTTL    time.Duration // shard lease [15 s]; heartbeat every LeaseTTL/3
	Attempts    int           // delivery attempts per event before dead-lettering [8]
	BackoffBase time.Duration // first retry delay [2 s], doubled per attempt
	BackoffMax  time.Duration // [5 min]
	FenceRetry  time.Duration // re-check delay of a task waiting for its predecessor [500 ms]
	// GapGrace is how long a reserved sequence number whose task does not
	// exist (its enqueue failed and the provider never retried) may hold its
	// session before the fence skips it [2 min].
	GapGrace                 time.Duration
	TaskCheckInterval        time.Duration // idle poll of a shard queue [100 ms]
	DelayedTaskCheckInterval time.Duration // retry-set poll [500 ms]
	ShutdownTimeout          time.Duration // wait for an active task at stop [LeaseTTL/3]
	// ShardConcurrency is how many tasks of one shard run at once [4]; see
	// fair.go: an organisation holds at most ShardConcurrency-1 of them.
	ShardConcurrency int
	// OrgMaxInFlight is the most deliveries of one organisation in flight on
	// this worker when its limits (store.OrgLimits.MaxInFlight) set none
	// [16]; < 0: no default limit.
	OrgMaxInFlight int
	// ParkDelay is the shortest time a task over its organisation's share
	// waits before it is tried again [250 ms] (plus up to
	// DelayedTaskCheckInterval); see parkBook for the longer ones.
	ParkDelay time.Duration
	Retention time.Duration // as the queue client [queue.DefaultRetention]
	Now       func() time.Time
}

func (c *Config) defaults() error {
	if c.Redis == nil && c.RedisOptions == nil {
		if c.RedisAddr == "" {
			return errors.New("worker: no Redis (Config.Redis, Config.RedisOptions or Config.RedisAddr)")
		}
		o, err := redisconf.Parse(c.RedisAddr, "")
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		c.RedisOptions = o
	}
	if c.Store == nil || c.Keyring == nil {
		return errors.New("worker: Config.Store and Config.Keyring are required")
	}
	if c.Provenance == nil {
		return errors.New("worker: Config.Provenance is required (the provenance keys ingest seals tasks with)")
	}
	if c.Shards <= 0 {
		c.Shards = queue.DefaultShards
	}
	if c.ID == "" {
		h, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if c.Senders == nil {
		c.Senders = DefaultSenders(nil)
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.LeaseTTL, 15*time.Second)
	def(&c.BackoffBase, 2*time.Second)
	def(&c.BackoffMax, 5*time.Minute)
	def(&c.FenceRetry, 500*time.Millisecond)
	def(&c.GapGrace, 2*time.Minute)
	def(&c.TaskCheckInterval, 100*time.Millisecond)
	def(&c.DelayedTaskCheckInterval, 500*time.Millisecond)
	def(&c.ShutdownTimeout, c.LeaseTTL/3)
	def(&c.Retention, queue.DefaultRetention)
	def(&c.ParkDelay, 250*time.Millisecond)
	if c.ShardConcurrency <= 0 {
		c.ShardConcurrency = 4
	}
	switch {
	case c.OrgMaxInFlight == 0:
		c.OrgMaxInFlight = 16
	case c.OrgMaxInFlight < 0:
		c.OrgMaxInFlight = 0
	}
	if c.Attempts <= 0 {
		c.Attempts = 8
	}
	if c.Attempts >= queue.MaxRetry {
		return fmt.Errorf("worker: Attempts %d must stay below queue.MaxRetry %d", c.Attempts, queue.MaxRetry)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Pool is one worker process: it owns some shards and processes them.
type Pool struct {
	cfg       Config
	rdb       redis.UniversalClient
	ownsRedis bool
	leases    *queue.Leases
	fence     *queue.Fence
	insp      *asynq.Inspector
	log       *slog.Logger
	refused   *prometheus.CounterVec // by provenance.Reason
	config    gencache.Cache         // store reads by generation (storecache.go)
	parked    *prometheus.CounterVec // by orglimit.Reason
	limits    limitsCache
	inflight  orglimit.InFlight
	sessions  sessionSlots
	parks     parkBook

	baseCtx    context.Context
	cancelBase context.CancelFunc

	mu    sync.Mutex
	owned map[int]*shardRun
	wg    sync.WaitGroup

	// lay is the shard layout (queue.Layout) the pool works with: read at
	// every heartbeat, and at once when a task's shard is at a newer epoch.
	lay   atomic.Pointer[queue.Layout]
	layMu sync.Mutex // one reload at a time
}

type shardRun struct {
	shard  int
	token  string
	srv    *asynq.Server
	lastOK time.Time
	// cancel ends the context of every task of this shard. It is called the
	// moment the lease is lost or cannot be renewed, before the Asynq server
	// is shut down: Shutdown waits up to ShutdownTimeout for the active task,
	// and that task must not go on talking to the agent or the provider while
	// the shard's next owner may already be processing it.
	cancel   context.CancelFunc
	stopping bool
}

// New checks cfg and returns a Pool; Run starts it.
func New(cfg Config) (*Pool, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, rdb: cfg.Redis, owned: map[int]*shardRun{}, log: cfg.Logger.With("worker", cfg.ID)}
	if p.rdb == nil {
		p.rdb = redis.NewClient(cfg.RedisOptions)
		p.ownsRedis = true
	}
	p.leases = queue.NewLeases(p.rdb, cfg.Shards, cfg.LeaseTTL)
	p.fence = queue.NewFence(p.rdb, cfg.Retention, cfg.Shards)
	p.insp = asynq.NewInspectorFromRedisClient(p.rdb)
	p.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_worker_refused_tasks_total",
		Help: "Tasks the worker refused before delivery because their provenance did not verify (dead-lettered and audited), by reason.",
	}, []string{"reason"})
	for _, r := range provenance.Reasons {
		p.refused.WithLabelValues(string(r))
	}
	p.parked = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_worker_parked_tasks_total",
		Help: "Tasks parked (retried after a short delay, no attempt counted) because their organisation held its share of in-flight deliveries, by reason (org_in_flight: its limit on this worker; org_shard_share: all but one slot of the shard).",
	}, []string{"reason"})
	for _, r := range []orglimit.Reason{orglimit.ReasonOrgInFlight, orglimit.ReasonShardShare} {
		p.parked.WithLabelValues(string(r))
	}
	if ls, ok := cfg.Store.(store.Limits); ok {
		p.limits.src = ls
	}
	if cfg.Metrics != nil {
		for _, c := range []**prometheus.CounterVec{&p.refused, &p.parked} {
			if err := cfg.Metrics.Register(*c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, fmt.Errorf("worker: register metrics: %w", err)
				}
				*c = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	p.baseCtx, p.cancelBase = context.WithCancel(context.Background())
	return p, nil
}

// ID is the worker id.
func (p *Pool) ID() string { return p.cfg.ID }

// Layout is the shard layout the pool works with (InitialLayout of
// Config.Shards until one is read from Redis).
func (p *Pool) Layout() queue.Layout {
	if l := p.lay.Load(); l != nil {
		return *l
	}
	return queue.InitialLayout(p.cfg.Shards)
}

// reloadLayout reads the recorded layout (see queue.ReadLayout) and, when
// it is newer than the pool's, works with it from now on.
func (p *Pool) reloadLayout(ctx context.Context) (queue.Layout, error) {
	p.layMu.Lock()
	defer p.layMu.Unlock()
	l, _, err := queue.ReadLayout(ctx, p.rdb, p.cfg.Shards)
	if err != nil {
		return p.Layout(), err
	}
	cur := p.Layout()
	if p.lay.Load() == nil || l.Epoch > cur.Epoch || (l.Epoch == cur.Epoch && l.State != cur.State) {
		if p.lay.Load() != nil || l.Epoch > 0 {
			p.log.Info("shard layout", "epoch", l.Epoch, "shards", l.Shards, "state", string(l.State), "lease_shards", l.LeaseShards())
		}
		p.lay.Store(&l)
		p.leases.SetShards(l.LeaseShards())
		return l, nil
	}
	return cur, nil
}

// Owned lists the shards this worker currently consumes.
func (p *Pool) Owned() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for s, r := range p.owned {
		if !r.stopping {
			out = append(out, s)
		}
	}
	sort.Ints(out)
	return out
}

// Run owns and processes shards until ctx ends, then stops cleanly: it stops
// its Asynq servers (an active task finishes or goes back to the head of its
// queue), releases its leases and leaves the live set, so other workers take
// the shards over at once instead of after lease expiry.
func (p *Pool) Run(ctx context.Context) error {
	interval := p.cfg.LeaseTTL / 3
	t := time.NewTicker(interval)
	defer t.Stop()
	// Other workers announce when they release shards, join or leave: a
	// heartbeat then runs at once (coalesced), so a cleanly stopped worker's
	// shards are taken over in a round trip rather than at the next tick.
	sub := p.leases.Changes(p.baseCtx)
	changed := make(chan struct{}, 1)
	go func() {
		for m := range sub.Channel() {
			if m.Payload == p.cfg.ID {
				continue
			}
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	p.heartbeat(ctx)
	p.announce() // joined: the others release their extras now
	for {
		select {
		case <-ctx.Done():
			_ = sub.Close()
			p.shutdown()
			return nil
		case <-t.C:
			p.heartbeat(ctx)
		case <-changed:
			p.heartbeat(ctx)
		}
	}
}

// announce tells the other workers that this worker's shard set changed.
func (p *Pool) announce() {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.LeaseTTL/4)
	defer cancel()
	if err := p.leases.Announce(ctx, p.cfg.ID); err != nil {
		p.log.Warn("announce lease change", "err", err)
	}
}

func (p *Pool) shutdown() {
	p.mu.Lock()
	runs := make([]*shardRun, 0, len(p.owned))
	for _, r := range p.owned {
		r.stopping = true
		runs = append(runs, r)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func(r *shardRun) {
			defer wg.Done()
			defer r.cancel()
			r.srv.Shutdown()
		}(r)
	}
	wg.Wait()
	p.cancelBase()
	p.wg.Wait() // shard stops in flight from rebalancing
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, r := range runs {
		if err := p.leases.Release(ctx, r.shard, r.token); err != nil {
			p.log.Warn("release shard lease", "shard", r.shard, "err", err)
		}
	}
	if err := p.leases.Unregister(ctx, p.cfg.ID); err != nil {
		p.log.Warn("leave worker set", "err", err)
	}
	if err := p.leases.Announce(ctx, p.cfg.ID); err != nil {
		p.log.Warn("announce lease release", "err", err)
	}
	p.mu.Lock()
	p.owned = map[int]*shardRun{}
	p.mu.Unlock()
	if p.ownsRedis {
		p.rdb.Close()
	}
	p.log.Info("worker stopped", "shards_released", len(runs))
}

// heartbeat registers the worker, renews its leases, stops shards it lost,
// and moves toward its fair share: releases extras, takes free shards.
func (p *Pool) heartbeat(ctx context.Context) {
	now := p.cfg.Now()
	// Every Redis step of a heartbeat is bounded: with Redis unreachable,
	// go-redis's own dial and read timeouts and retries could stretch one
	// call (and the loop over every owned shard) past the lease, and the
	// decision to stop consuming would come after another worker took over.
	regCtx, cancelReg := context.WithTimeout(ctx, p.cfg.LeaseTTL/4)
	if _, err := p.reloadLayout(regCtx); err != nil {
		p.log.Warn("read shard layout", "err", err)
	}
	shards := p.leases.Shards()
	live, err := p.leases.Register(regCtx, p.cfg.ID)
	cancelReg()
	if err != nil {
		p.log.Warn("heartbeat", "err", err)
	}
	p.mu.Lock()
	runs := make([]*shardRun, 0, len(p.owned))
	for _, r := range p.owned {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	sort.Slice(runs, func(i, j int) bool { return runs[i].shard < runs[j].shard })

	active := 0
	// A renewal attempt at lastOK+2/3 TTL gives up by lastOK+11/12 TTL, and
	// the shard is then stopped (its task aborted) before the lease expires.
	renewCtx, cancelRenew := context.WithTimeout(ctx, p.cfg.LeaseTTL/4)
	defer cancelRenew()
	for _, r := range runs {
		ok, err := p.leases.Renew(renewCtx, r.shard, r.token)
		switch {
		case err == nil && ok:
			r.lastOK = now
		case err == nil && !ok:
			p.log.Warn("shard lease lost", "shard", r.shard)
			p.stopShard(r, false)
			continue
		case p.cfg.Now().Sub(r.lastOK) >= p.cfg.LeaseTTL*2/3:
			// Redis unreachable for most of a lease: assume it is gone,
			// abort the active task and stop consuming before another
			// worker can take the shard.
			p.log.Warn("cannot renew shard lease, stopping shard", "shard", r.shard, "err", err)
			p.stopShard(r, false)
			continue
		}
		if !p.isStopping(r) {
			active++
		}
	}
	if err != nil || len(live) == 0 {
		return
	}
	target := queue.Target(shards, len(live))
	// Shards a finished reshard removed: their queues are drained.
	for _, r := range runs {
		if r.shard >= shards && !p.isStopping(r) {
			p.log.Info("releasing shard the layout removed", "shard", r.shard, "shards", shards)
			p.stopShard(r, true)
			active--
		}
	}
	// Too many: release the highest shards.
	for i := len(runs) - 1; i >= 0 && active > target; i-- {
		if r := runs[i]; !p.isStopping(r) {
			p.log.Info("releasing shard to rebalance", "shard", r.shard, "target", target, "live", len(live))
			p.stopShard(r, true)
			active--
		}
	}
	if active >= target {
		return
	}
	owners, err := p.leases.Owners(ctx)
	if err != nil {
		p.log.Warn("read shard owners", "err", err)
		return
	}
	// Too few: take free shards, starting at a per-worker offset so that
	// joining workers do not all race for shard 0.
	h := fnv.New32a()
	h.Write([]byte(p.cfg.ID))
	off := int(h.Sum32() % uint32(shards))
	for i := 0; i < shards && active < target; i++ {
		s := (off + i) % shards
		if _, held := owners[s]; held {
			continue
		}
		if p.takeShard(ctx, s) {
			active++
		}
	}
}

func (p *Pool) isStopping(r *shardRun) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.stopping
}

func (p *Pool) takeShard(ctx context.Context, s int) bool {
	token := queue.NewToken(p.cfg.ID)
	ok, err := p.leases.Acquire(ctx, s, token)
	if err != nil || !ok {
		return false
	}
	if n, err := p.leases.RequeueOrphans(ctx, s); err != nil {
		p.log.Warn("requeue orphaned tasks", "shard", s, "err", err)
	} else if n > 0 {
		p.log.Info("requeued tasks of a dead consumer", "shard", s, "tasks", n)
	}
	shardCtx, cancelShard := context.WithCancel(p.baseCtx)
	r := &shardRun{shard: s, token: token, lastOK: p.cfg.Now(), cancel: cancelShard}
	r.srv = asynq.NewServerFromRedisClient(p.rdb, asynq.Config{
		Concurrency:              p.cfg.ShardConcurrency,
		Queues:                   map[string]int{queue.QueueName(s): 1},
		BaseContext:              func() context.Context { return shardCtx },
		TaskCheckInterval:        p.cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: p.cfg.DelayedTaskCheckInterval,
		RetryDelayFunc:           retryDelay,
		IsFailure:                isFailure,
		ShutdownTimeout:          p.cfg.ShutdownTimeout,
		Logger:                   asynqLogger{p.log.With("shard", s)},
		LogLevel:                 asynq.WarnLevel,
	})
	if err := r.srv.Start(p.handler(s, token)); err != nil {
		cancelShard()
		p.log.Error("start shard server", "shard", s, "err", err)
		_ = p.leases.Release(ctx, s, token)
		return false
	}
	p.mu.Lock()
	p.owned[s] = r
	p.mu.Unlock()
	p.log.Info("took shard", "shard", s)
	return true
}

// stopShard stops consuming r's queue in the background (the heartbeat keeps
// renewing the lease meanwhile) and then releases the lease when release is
// set (a lost lease is not ours to release).
func (p *Pool) stopShard(r *shardRun, release bool) {
	p.mu.Lock()
	if r.stopping && release {
		p.mu.Unlock()
		return
	}
	r.stopping = true
	if !release {
		delete(p.owned, r.shard)
	}
	p.mu.Unlock()
	if !release {
		// The lease is lost (or about to be): abort the active task now
		// instead of letting it run out ShutdownTimeout beside the new owner.
		r.cancel()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer r.cancel()
		r.srv.Shutdown()
		if release {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.leases.Release(ctx, r.shard, r.token); err != nil {
				p.log.Warn("release shard lease", "shard", r.shard, "err", err)
			}
			p.mu.Lock()
			if p.owned[r.shard] == r {
				delete(p.owned, r.shard)
			}
			p.mu.Unlock()
			p.announce()
		}
	}()
}

// asynqLogger routes Asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)); os.Exit(1) }
