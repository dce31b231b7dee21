// Package queue puts envelopes into session-sharded Asynq queues and holds the
// Redis state that keeps a session's events in order: per-session sequence
// numbers (assigned at enqueue), the per-session fence the worker advances, and
// the shard ownership leases that give each shard exactly one consumer.
//
// Asynq gives no processing-order guarantee (a retried task goes to the back of
// its queue, a crashed worker's task comes back through the retry set, several
// consumers interleave), so order does not come from Asynq. It comes from two
// things together:
//
//   - sharding: a session key always maps to the same shard queue and a shard
//     has one consumer (see Leases), which keeps one task per session in
//     flight (worker/fair.go), so in the common case a session's tasks run in
//     enqueue order and nothing waits;
//   - the sequence fence: Enqueue stamps Envelope.Seq from a per-session counter
//     and the worker processes a task only when Seq == last_done+1 (see Fence).
//     Every reordering source above then only delays a task, never lets it
//     overtake its predecessor.
//
// Redis keys written here. Every key of a shard carries the shard queue's
// name as its hash tag, {sb-shard-NNN}, the same tag Asynq gives the queue's
// own keys (asynq:{sb-shard-NNN}:…): one shard is one Redis Cluster hash slot,
// so the enqueue script (session counter, dedup, Asynq task and pending list
// together) and the fence scripts stay single-slot on a Redis Cluster.
// <tag> is a digest of the session key (no conversation id in a key name).
//
//	sb:{<queue>}:s:<tag>      hash: seq (last assigned), last (last done), r:<n> (reservation "id|unix-ms" of seq n until it is done)
//	sb:{<queue>}:d:<h>:<n>:<f> dedup bucket n of horizon h seconds, part f: the 8-byte marks of the tasks written (see dedupKeyPrefix)
//	sb:{<queue>}:id:<task id> older releases only (read, no longer written): "seq|queue[|w]", a reserved number, w once written
//	sb:{<queue>}:done:<id>    present once the task's side effects are complete (worker dedup)
//	sb:{<queue>}:p:<id>       worker progress of one task (attempts, delivered, replies sent)
//	sb:{<queue>}:lease        shard ownership lease (token), see Leases
//	sb:{<queue>}:epoch        the shard's layout marker "<epoch>|open|sealed" (resharding, see layout.go)
//	sb:layout                 the recorded shard layout (JSON, see Layout); none: --shards, epoch 0
//	sb:workers                live workers (zset member=id, score=expiry ms)
//
// Before this layout (releases up to 2026-12-01) the session keys were tagged
// by session (sb:{<tag>}:…) and the lease was sb:lease:<shard>: drain the
// queues before upgrading (see docs/scaling.md, "Upgrading the key layout").
package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/redisconf"
)

// TaskType is the Asynq task type of a delivery.
const TaskType = "switchboard:deliver"

// DefaultShards is the shard count when none is configured. The count is
// the recorded Layout's once a deployment has resharded (`switchboard queue
// reshard`, see layout.go); until then every ingest and worker of one
// deployment must be given the same --shards.
const DefaultShards = 16

// DefaultRetention is the longest deduplication horizon (WhatsApp), 8 days.
// Dedup by task id only holds while Asynq keeps the task hash, and WhatsApp
// retries an unacknowledged webhook for up to 7 days (Meta's other webhooks 36
// hours, Telegram 24 hours, Slack about an hour): 7 days plus a day of margin
// for clocks and a late answer means a provider retry never delivers twice.
const DefaultRetention = 8 * 24 * time.Hour

// DefaultTaskRetention is how long a completed task stays in Redis. It used to
// be DefaultRetention, because deduplication by provider event id was Asynq's
// task-id check and held only while the task hash existed (a 20-minute load run
// grew Redis to about 1 GB). Deduplication now rests on the dedup marks the
// enqueue script writes (8 bytes per event in time-bucketed strings, kept for
// the provider's DedupHorizon): a retry that finds its mark is a duplicate
// whether or not its task is still there. The completed task is kept an hour
// for inspection only.
const DefaultTaskRetention = time.Hour

// DedupHorizon is how long an event id is remembered, per provider: its
// documented retry window plus margin (see DefaultRetention). An unknown
// provider gets DefaultRetention.
func DedupHorizon(provider string) time.Duration {
	switch provider {
	case "slack": // retries 3 times, the last about an hour after the event
		return 3 * time.Hour
	case "telegram": // keeps an undelivered update 24 hours
		return 48 * time.Hour
	case "messenger", "instagram": // Meta's webhooks other than WhatsApp: 36 hours
		return 48 * time.Hour
	case "whatsapp": // up to 7 days
		return DefaultRetention
	}
	return DefaultRetention
}

// MaxRetry is the Asynq retry ceiling of a task. The worker decides how many
// delivery attempts an event gets (its own counter, reset by a replay) and
// dead-letters it itself; this ceiling only bounds Asynq's own recoveries
// (a worker crash counts one) and must stay above the worker's attempt count,
// because Asynq archives a task whose retry count reached it whatever the error.
const MaxRetry = 100

// ErrDuplicate is returned by Enqueue when the task id is already present: the
// event was enqueued before (a provider retry). Ingest answers 2xx.
var ErrDuplicate = errors.New("queue: duplicate event, task already enqueued")

// Shard maps a session key to its shard: FNV-1a 64 of the key modulo shards.
// Stable across processes and releases (it is part of the data layout).
func Shard(sessionKey string, shards int) int {
	if shards <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(sessionKey))
	return int(h.Sum64() % uint64(shards))
}

// QueueName is the Asynq queue of a shard.
func QueueName(shard int) string { return fmt.Sprintf("sb-shard-%03d", shard) }

// tag is the Redis hash tag of a session: a fixed-length digest, so keys stay
// short and no conversation id appears in a key name.
func tag(sessionKey string) string {
	sum := sha256.Sum256([]byte(sessionKey))
	return hex.EncodeToString(sum[:12])
}

// prefix is the start of every key of shard queue q: "sb:{<q>}:".
func prefix(q string) string { return "sb:{" + q + "}:" }

func sessionKeyOf(q, t string) string { return prefix(q) + "s:" + t }
func idKey(q, id string) string       { return prefix(q) + "id:" + id }
func doneKey(q, id string) string     { return prefix(q) + "done:" + id }

// ProgressKey is the worker's progress hash of task id of session sessionKey
// with shards shards.
func ProgressKey(sessionKey, id string, shards int) string {
	return prefix(QueueName(Shard(sessionKey, shards))) + "p:" + id
}

// ProgressKeyIn is the worker's progress hash of task id in shard queue
// shard (the queue the task is in: after a reshard, not always its session's
// shard).
func ProgressKeyIn(shard int, id string) string { return prefix(QueueName(shard)) + "p:" + id }

// IDKey is the Redis key recording task id's sequence number, queue and
// whether its task was written (tests recreate a failed enqueue with it).
func IDKey(sessionKey, id string, shards int) string {
	return idKey(QueueName(Shard(sessionKey, shards)), id)
}

// Client enqueues envelopes. Safe for concurrent use.
type Client struct {
	rdb        redis.UniversalClient
	ownsRedis  bool
	aq         *asynq.Client
	shards     int
	retention  time.Duration // dedup horizon at most this long (each provider's DedupHorizon within it)
	taskTTL    time.Duration // completed tasks [DefaultTaskRetention]
	sessionTTL time.Duration
	now        func() time.Time
	redisOpts  *redis.Options
	err        error // a bad redisAddr, returned by Enqueue
	sealer     Sealer
	seqs       seqGuess
	waitN      int           // replicas an enqueue waits for (WAIT), 0: none
	waitFor    time.Duration // WAIT's timeout
	cluster    bool          // rdb is a Redis Cluster client: asynq:queues is in another slot
	published  sync.Map      // queue name → time.Time of its last SADD to asynq:queues (cluster)

	layMu sync.Mutex
	lay   *Layout // nil until read
	layAt time.Time
}

// publishEvery is how often, on a Redis Cluster, a Client adds a queue it
// enqueues to again to asynq:queues (Asynq's list of queues, which its
// inspector reads): once per queue and process would not see the set
// emptied behind its back, every enqueue would cost a round trip more.
const publishEvery = time.Minute

// publish adds qname to asynq:queues unless this Client did so within
// publishEvery (Redis Cluster only: there the key is in another slot than the
// enqueue script's).
func (c *Client) publish(ctx context.Context, qname string) error {
	now := time.Now()
	if v, ok := c.published.Load(qname); ok && now.Sub(v.(time.Time)) < publishEvery {
		return nil
	}
	if err := c.rdb.SAdd(ctx, "asynq:queues", qname).Err(); err != nil {
		return fmt.Errorf("add %s to asynq:queues: %w", qname, err)
	}
	c.published.Store(qname, now)
	return nil
}

// Sealer seals an envelope's provenance before it is written
// (*provenance.Keys satisfies it).
type Sealer interface {
	Seal(env envelope.Envelope) (envelope.Envelope, error)
}

// WithSealer makes Enqueue seal every envelope (after its sequence number is
// assigned); workers refuse unsealed tasks.
func WithSealer(s Sealer) Option { return func(c *Client) { c.sealer = s } }

// Option configures a Client.
type Option func(*Client)

// WithRetention overrides DefaultRetention (tests). It must cover the
// providers' retry windows in production.
func WithRetention(d time.Duration) Option { return func(c *Client) { c.retention = d } }

// WithTaskRetention overrides DefaultTaskRetention (how long a completed task
// stays in Redis; deduplication does not depend on it).
func WithTaskRetention(d time.Duration) Option { return func(c *Client) { c.taskTTL = d } }

// WithRedisClient makes the Client use an existing go-redis client (not closed
// by Client.Close) instead of dialling redisAddr.
func WithRedisClient(rc redis.UniversalClient) Option {
	return func(c *Client) { c.rdb = rc }
}

// WithRedisOptions makes the Client dial Redis with o (see redisconf.Parse:
// password, database, TLS) instead of redisAddr; the Asynq client shares that
// connection, so the same credentials apply to it.
func WithRedisOptions(o *redis.Options) Option {
	return func(c *Client) { c.redisOpts = o }
}

// ErrNotReplicated is returned by Enqueue (wrapped) when the task was
// written on the primary but fewer replicas than WithWaitReplicas asks for
// confirmed it within the timeout: the event is not acknowledged (ingest
// answers 503) and the provider's retry is a duplicate if the primary
// survives, or enqueues it again if a failover lost it.
var ErrNotReplicated = errors.New("queue: the enqueue was not confirmed by enough replicas")

// DefaultWaitTimeout is how long an enqueue waits for its replicas
// (WithWaitReplicas) before it is refused.
const DefaultWaitTimeout = time.Second

// WithWaitReplicas makes every Enqueue wait until n replicas of the shard's
// primary have the write (Redis WAIT n timeout, on the connection that ran
// the enqueue script, in the same round trip) before it returns: an
// acknowledged event then survives a failover to one of those replicas
// (Redis replication is asynchronous; without it a failover loses what the
// primary had not sent yet). n 0 turns it off; timeout <= 0 is
// DefaultWaitTimeout. The cost is the replica's round trip on every enqueue
// (docs/benchmarks.md), and while fewer than n replicas are up every enqueue
// fails after timeout (ingest answers 503 and providers retry): durability
// over availability.
func WithWaitReplicas(n int, timeout time.Duration) Option {
	return func(c *Client) {
		c.waitN = max(n, 0)
		c.waitFor = timeout
		if c.waitFor <= 0 {
			c.waitFor = DefaultWaitTimeout
		}
	}
}

// SessionTTL is how long an idle session's state (counter, fence) lives: it is
// refreshed by every enqueue and every completion, and is longer than the task
// retention so a replayed dead letter still finds its session.
func SessionTTL(retention time.Duration) time.Duration { return 4 * retention }

// NewClient returns a Client for the Redis at redisAddr (host:port or a
// redis:// URL, see redisconf.Parse) with shards shard queues. An unusable
// redisAddr makes every Enqueue fail; commands parse it first
// (WithRedisOptions) to refuse it at start.
func NewClient(redisAddr string, shards int, opts ...Option) *Client {
	c := &Client{shards: shards, retention: DefaultRetention, taskTTL: DefaultTaskRetention, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	if c.shards <= 0 {
		c.shards = DefaultShards
	}
	if c.rdb == nil {
		o := c.redisOpts
		if o == nil {
			var err error
			if o, err = redisconf.Parse(redisAddr, ""); err != nil {
				c.err = fmt.Errorf("queue: %w", err)
				o = &redis.Options{} // never dialled: Enqueue returns c.err
			}
		}
		c.rdb = redis.NewClient(o)
		c.ownsRedis = true
	}
	_, c.cluster = c.rdb.(*redis.ClusterClient)
	c.sessionTTL = SessionTTL(c.retention)
	c.aq = asynq.NewClientFromRedisClient(c.rdb)
	return c
}

// Shards is the shard count of this client.
func (c *Client) Shards() int { return c.shards }

// Close releases the Redis connection if the Client dialled it.
func (c *Client) Close() error {
	if c.ownsRedis {
		return c.rdb.Close()
	}
	return nil
}

// reserveScript assigns the session sequence number of a task id, once. It
// was the first of the two round trips of Enqueue before enqueueScript made
// it one; Enqueue no longer runs it, and tests use it to recreate what it
// left behind (a reservation whose task write failed), which enqueueScript
// resumes under the same number.
//
// Why a reservation keyed by task id: the sequence number must be assigned
// before the Asynq enqueue (it is in the payload), and the two cannot be one
// atomic step (Asynq's enqueue is its own script). If a number were taken
// afresh on every attempt, a provider retry of an event already enqueued would
// burn a number that never reaches a worker, and the session would wait for it
// forever. So the number is bound to the task id: every attempt for the same
// event gets the same number, a duplicate burns nothing, and an attempt whose
// Asynq enqueue failed (Redis went away between the two steps) is completed by
// the provider's retry under the same number. A number whose event never
// arrives (the provider gave up) is a gap the worker skips after a grace
// period, using the r:<n> reservation (task id and time) to check that the
// task really does not exist (see Fence.Skip and worker).
//
// The id key also records the queue the task went to ("seq|queue"): Asynq's
// task-id dedup holds per queue only, so after a change of the shard count a
// provider retry would map to another queue and be enqueued a second time.
// Enqueue checks the recorded queue instead (see Enqueue).
//
// KEYS[1] session hash, KEYS[2] id key; ARGV[1] task id, ARGV[2] now ms,
// ARGV[3] id ttl ms, ARGV[4] session ttl ms, ARGV[5] queue.
// Returns {fresh(0|1), seq, recorded queue ("" when fresh or not recorded)}.
var reserveScript = redis.NewScript(`
local s = redis.call('GET', KEYS[2])
if s then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  local bar = string.find(s, '|', 1, true)
  if bar then
    return {0, tonumber(string.sub(s, 1, bar - 1)), string.sub(s, bar + 1)}
  end
  return {0, tonumber(s), ''}
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if redis.call('HEXISTS', KEYS[1], 'last') == 0 then
  redis.call('HSET', KEYS[1], 'last', seq - 1)
end
redis.call('HSET', KEYS[1], 'r:' .. seq, ARGV[1] .. '|' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], seq .. '|' .. (ARGV[5] or ''), 'PX', ARGV[3])
return {1, seq, ''}
`)

// ReserveWithoutTask runs only the first step of the two-step enqueue of
// older releases (reserveScript): env's sequence number is reserved and its
// id key written, its task is not. That is what such an enqueue left behind
// when Redis went away between the steps; tests recreate that gap with it.
// Enqueue resumes the reservation under the same number.
func (c *Client) ReserveWithoutTask(ctx context.Context, env envelope.Envelope) (int64, error) {
	q := QueueName(Shard(env.SessionKey, c.shards))
	res, err := reserveScript.Run(ctx, c.rdb, []string{sessionKeyOf(q, tag(env.SessionKey)), idKey(q, env.ID)},
		env.ID, c.now().UnixMilli(), min(DedupHorizon(env.Provider), c.retention).Milliseconds(), c.sessionTTL.Milliseconds(), q).Slice()
	if err != nil {
		return 0, fmt.Errorf("reserve %s: %w", env.ID, err)
	}
	seq, _ := res[1].(int64)
	return seq, nil
}

// enqueueScript takes the session's next sequence number and writes the task
// in Asynq's Redis layout, in one script: one round trip and one disk sync
// instead of two, and no number is ever taken without its task being written
// (a failed enqueue leaves no gap for the session to wait on).
//
// The task's payload is sealed over its sequence number, so the caller must
// know the number before the script runs: it sends the number it expects
// (in ARGV[1], from the last one it saw for the session) and the script writes
// only if that is the session's next number; otherwise it writes nothing and
// answers the right one, and the caller seals again and retries.
//
// Every key's type is checked before the first write, so no write below can
// fail after another succeeded (Redis does not undo a script's writes on
// error). All its keys are in the shard queue's hash slot ({sb-shard-NNN}), so
// it runs on a Redis Cluster too; there the SADD to asynq:queues (another
// slot) is a command of its own (see Client.publish), elsewhere it is in the
// script ("sadd" 1).
//
// Deduplication by event: a written task leaves its dedup mark, an 8-byte
// hash of its task id appended to one part of a time bucket (see
// dedupKeyPrefix, dedupMark, dedupLua): the script looks for the mark in the
// buckets covering the provider's horizon first, and a mark found is a
// duplicate, whether or not the task is still there.
//
// An id key (written by the two-step enqueue of older releases, see
// reserveScript: "seq|queue", the number reserved but the task maybe not
// written) resumes that reservation: the task is written under the same
// number if it is missing, a duplicate otherwise; "seq|queue|w" (marked
// written by the releases before the compact dedup) is a duplicate.
//
// The Asynq half is what Asynq's own enqueue script does (HSET msg, state
// "pending", pending_since in unix ns; LPUSH the id on the pending list), plus
// the SADD to asynq:queues its client does first.
//
// Before anything else it reads the shard's layout marker (KEYS[5], see
// Marker and layout.go) and writes only when the marker is the client's
// epoch and open: a client on an older layout is answered 4 (reload the
// layout), a shard not yet opened for the client's epoch 5 (wait), so no task
// of an old layout is written once a reshard has sealed its shards.
//
// KEYS[1] session hash, KEYS[2] id key, KEYS[3] asynq:{q}:t:<id>, KEYS[4]
// asynq:{q}:pending (and asynq:queues), KEYS[5] the shard's layout marker;
// ARGV[1] "now ms|horizon ms|session ttl ms|expected seq|now ns|checked|queue|sadd|epoch|task id|dedup prefix|mark|old ok"
// (checked "1" when the caller made sure the task is not in the queue
// recorded for the id; sadd "1" to add the queue to asynq:queues; epoch the
// client's layout epoch; the dedup buckets are <dedup prefix><bucket>, mark
// is dedupMark; old ok "1" when the caller's look into earlier layouts'
// shards was made with this shard open at its epoch, or none was needed),
// ARGV[2] the encoded TaskMessage. (Packed so that
// the command has at most 10 parts: Redis answers a longer one from an
// unauthenticated client with a protocol error instead of NOAUTH.)
// Returns {code, seq, recorded queue}: code 1 written, 0 duplicate, 2 expected
// seq was wrong (seq is the right one), 3 reserved under another queue, 4 the
// client's layout is older than the shard's (seq is the shard's epoch), 5 the
// shard is not open for the client's epoch yet.
var enqueueScript = redis.NewScript(dedupLua + `
local a = {}
for v in string.gmatch(ARGV[1], '[^|]+') do a[#a + 1] = v end
local nowms, horizon, sttl, expect, nowns, checked, qname, sadd, epoch, id, dprefix, mark =
  tonumber(a[1]), tonumber(a[2]), a[3], tonumber(a[4]), a[5], a[6], a[7], a[8] == '1', tonumber(a[9]), a[10], a[11], a[12]
local m = redis.call('GET', KEYS[5])
if m then
  local bar = string.find(m, '|', 1, true)
  if not bar then return redis.error_reply('switchboard enqueue: bad shard marker ' .. m) end
  local me = tonumber(string.sub(m, 1, bar - 1))
  if epoch < me then return {4, me, ''} end
  if epoch > me or string.sub(m, bar + 1) ~= 'open' then return {5, me, ''} end
  -- The client looked for the event in the shards of earlier layouts before
  -- it saw this marker open, when those shards may not have been sealed yet
  -- (a write there could have followed its look): it must look again.
  if a[13] ~= '1' then return {5, me, ''} end
elseif epoch > 0 then
  return {5, 0, ''}
end
local all = 'asynq:queues'
local want = {'hash', 'string', 'hash', 'list'}
for i = 1, 4 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want[i] then
    return redis.error_reply('WRONGTYPE switchboard enqueue: key ' .. i .. ' holds a ' .. t)
  end
end
if sadd then
  local t = redis.call('TYPE', all)['ok']
  if t ~= 'none' and t ~= 'set' then
    return redis.error_reply('WRONGTYPE switchboard enqueue: asynq:queues holds a ' .. t)
  end
end
local dup, field, rem, cur, width = seen(dprefix, mark, nowms, horizon)
if dup then
  redis.call('PEXPIRE', KEYS[1], sttl)
  return {0, 0, ''}
end
local bucket = dprefix .. cur
local seq
local s = redis.call('GET', KEYS[2])
if s then
  local bar = string.find(s, '|', 1, true)
  local q = ''
  local written = false
  if bar then
    seq = tonumber(string.sub(s, 1, bar - 1))
    q = string.sub(s, bar + 1)
    local bar2 = string.find(q, '|', 1, true)
    if bar2 then
      written = string.sub(q, bar2 + 1) == 'w'
      q = string.sub(q, 1, bar2 - 1)
    end
  else
    seq = tonumber(s)
  end
  redis.call('PEXPIRE', KEYS[1], sttl)
  if written then
    return {0, seq, ''}
  end
  if q ~= '' and q ~= qname and checked ~= '1' then
    return {3, seq, q}
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then
    return {0, seq, ''}
  end
  if seq ~= expect then
    return {2, seq, ''}
  end
  redis.call('DEL', KEYS[2])
else
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('PEXPIRE', KEYS[1], sttl)
    return {0, 0, ''}
  end
  seq = (tonumber(redis.call('HGET', KEYS[1], 'seq')) or 0) + 1
  if seq ~= expect then
    return {2, seq, ''}
  end
  redis.call('HSET', KEYS[1], 'seq', seq)
  if redis.call('HEXISTS', KEYS[1], 'last') == 0 then
    redis.call('HSET', KEYS[1], 'last', seq - 1)
  end
  redis.call('HSET', KEYS[1], 'r:' .. seq, id .. '|' .. nowms)
  redis.call('PEXPIRE', KEYS[1], sttl)
end
-- APPEND, not a rewrite of the marks: a script is replicated (and written
-- to the append-only file) as the commands it ran, so this sends 8 bytes.
redis.call('APPEND', bucket .. ':' .. field, rem)
redis.call('PEXPIREAT', bucket .. ':' .. field, (cur + 1) * width + horizon)
redis.call('HSET', KEYS[3], 'msg', ARGV[2], 'state', 'pending', 'pending_since', nowns)
redis.call('LPUSH', KEYS[4], id)
if sadd then
  redis.call('SADD', all, qname)
end
return {1, seq, ''}
`)

// dedupLua is the dedup lookup the enqueue and seen scripts share:
// seen(prefix, mark, now ms, horizon ms) looks for mark (dedupMark, hex) in
// the buckets of width horizon/4 that cover the horizon (the current one and
// the 4 before) and returns whether it is there, the mark's field and 8-byte
// value, the current bucket and the width.
const dedupLua = `
local function seen(dprefix, mark, nowms, horizon)
  local field = string.sub(mark, 1, 3)
  local rem = ''
  for i = 4, 18, 2 do rem = rem .. string.char(tonumber(string.sub(mark, i, i + 1), 16)) end
  local width = math.ceil(horizon / 4)
  local cur = math.floor(nowms / width)
  for b = cur, cur - 4, -1 do
    local v = redis.call('GET', dprefix .. b .. ':' .. field)
    if v then
      local from = 1
      while true do
        local at = string.find(v, rem, from, true)
        if not at then break end
        if (at - 1) % 8 == 0 then return true, field, rem, cur, width end
        from = at + 1
      end
    end
  end
  return false, field, rem, cur, width
end
`

// seenScript answers 1 when a task was written under the dedup mark within
// the horizon: its mark is in the shard's buckets, or (releases before the
// compact dedup) its id key is marked written. Answering 1 it also writes
// (counts in the shard's write fence, KEYS[2]): the original was written by
// another connection, and a WAIT after this write on this one covers it too
// (a replica applies a primary's writes in order). KEYS[1] id key, KEYS[2]
// write fence; ARGV[1] "now ms|horizon ms|dedup prefix|mark".
var seenScript = redis.NewScript(dedupLua + `
local a = {}
for v in string.gmatch(ARGV[1], '[^|]+') do a[#a + 1] = v end
local found = seen(a[3], a[4], tonumber(a[1]), tonumber(a[2]))
if not found then
  local s = redis.call('GET', KEYS[1])
  found = s and string.sub(s, -2) == '|w'
end
if not found then return 0 end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 86400000)
return 1
`)

// writeFenceKey is the counter seenScript writes so that a WAIT after it
// covers a duplicate's original in that shard.
func writeFenceKey(q string) string { return prefix(q) + "w" }

// dedupKeyPrefix is the start of the names of the dedup buckets of shard
// queue q for a horizon: sb:{<q>}:d:<horizon seconds>:, followed by the
// bucket number (unix ms / (horizon/4)), ":" and the part: the first 12 bits
// of the event's mark (up to 4096 parts per bucket). A part is a string, the
// concatenation of the 8-byte marks of the events written while the bucket
// was current, grown by APPEND (a hash field would have to be rewritten
// whole, and a script is replicated and logged as the commands it ran: at
// 125 events/s on one shard a part of a WhatsApp bucket reaches ~42 KB, which
// every enqueue would have sent to the append-only file and each replica).
// A part expires a horizon after its bucket's end. The buckets hold 1.25
// horizons of events, about 8 bytes each plus the part's key and the string's
// growth slack (docs/benchmarks.md).
func dedupKeyPrefix(q string, horizon time.Duration) string {
	return prefix(q) + "d:" + strconv.FormatInt(int64(horizon/time.Second), 10) + ":"
}

// dedupMark is the dedup mark of a task id, in hex: 12 bits naming the
// field and 64 bits of value, from SHA-256 (76 bits: two ids of one shard
// and horizon collide, making the second a false duplicate, with a
// probability of about n/2^76 for n marks in the horizon).
func dedupMark(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:10])[:19]
}

// dedupHorizon is how long the client remembers an event of provider: its
// DedupHorizon within the client's retention, at least a second (the
// buckets are named by whole seconds).
func (c *Client) dedupHorizon(provider string) time.Duration {
	return max(min(DedupHorizon(provider), c.retention), time.Second)
}

// maxSeqTries bounds the rounds of Enqueue against other writers taking the
// session's next number at the same time (each round is one round trip; from
// the third on, a short random pause first lets the other writer through).
// Exhausting them fails the enqueue (ingest answers 503, the provider
// retries) and takes no number: contention never leaves a gap.
const maxSeqTries = 32

// Enqueue assigns env.Seq and enqueues one task with TaskID(env.ID) on the
// session's shard queue, retained for the client's retention, in one Redis
// round trip when the client knows the session's next number (see
// enqueueScript). It returns ErrDuplicate when the task id is already
// present, and an error (ingest answers 503) on any Redis failure or an
// invalid envelope; a failed Enqueue has taken no sequence number.
func (c *Client) Enqueue(ctx context.Context, env envelope.Envelope) error {
	if c.err != nil {
		return c.err
	}
	if err := env.Validate(); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	lay, err := c.layout(ctx, false)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", env.ID, err)
	}
	t := tag(env.SessionKey)
	horizon := c.dedupHorizon(env.Provider)
	mark := dedupMark(env.ID)
	sadd := "1"
	if c.cluster {
		sadd = "0"
	}
	var (
		qname   string
		keys    []string
		seq     int64
		checked string
		oldOK   string // "1": the look into earlier layouts' shards is final
	)
	// mapTo maps the session with layout l (again, after a reshard).
	mapTo := func(l Layout) error {
		shard := Shard(env.SessionKey, l.Shards)
		qname = QueueName(shard)
		if c.cluster {
			if err := c.publish(ctx, qname); err != nil {
				return fmt.Errorf("enqueue %s: %w", env.ID, err)
			}
		}
		keys = []string{sessionKeyOf(qname, t), idKey(qname, env.ID), "asynq:{" + qname + "}:t:" + env.ID, "asynq:{" + qname + "}:pending", markerKey(shard)}
		seq = c.seqs.next(qname + "/" + t)
		checked = "0"
		// An event enqueued under an earlier layout into another shard (its
		// session moved): a provider retry of it is a duplicate. What is read
		// there is final only once those shards are sealed, which the
		// destination's marker being open at l's epoch implies (a reshard
		// seals the old shards before it opens the new ones). Before that
		// the look is skipped and the script answers "not open" (5), so the
		// session is mapped, and looked for, again.
		oldOK = "1"
		old := l.DedupShards(env.SessionKey, horizon, c.now())
		if len(old) == 0 {
			return nil
		}
		m, err := ReadMarker(ctx, c.rdb, shard)
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", env.ID, err)
		}
		if m.Epoch != l.Epoch || !m.Open {
			oldOK = "0"
			return nil
		}
		dup, err := c.enqueuedBefore(ctx, old, env, horizon)
		if err != nil {
			return err
		}
		if dup {
			return ErrDuplicate
		}
		return nil
	}
	if err := mapTo(lay); err != nil {
		return err
	}
	for try := 0; try < maxSeqTries; try++ {
		if try >= 2 {
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) << min(try-2, 4)))):
			case <-ctx.Done():
				return fmt.Errorf("enqueue %s: %w", env.ID, ctx.Err())
			}
		}
		e := env
		e.Seq = seq
		if c.sealer != nil {
			// Sealed last, over the sequence number too.
			var err error
			if e, err = c.sealer.Seal(e); err != nil {
				return fmt.Errorf("enqueue %s: seal: %w", env.ID, err)
			}
		}
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("enqueue %s: encode envelope: %w", env.ID, err)
		}
		now := c.now()
		args := strconv.FormatInt(now.UnixMilli(), 10) + "|" + strconv.FormatInt(horizon.Milliseconds(), 10) + "|" +
			strconv.FormatInt(c.sessionTTL.Milliseconds(), 10) + "|" + strconv.FormatInt(seq, 10) + "|" +
			strconv.FormatInt(time.Now().UnixNano(), 10) + "|" + checked + "|" + qname + "|" + sadd + "|" +
			strconv.FormatInt(lay.Epoch, 10) + "|" + env.ID + "|" + dedupKeyPrefix(qname, horizon) + "|" + mark + "|" + oldOK
		res, err := c.runEnqueue(ctx, keys,
			args, encodeAsynqTask(TaskType, payload, env.ID, qname, MaxRetry, c.taskTTL))
		if err != nil {
			return fmt.Errorf("enqueue %s: %w", env.ID, err)
		}
		code, _ := res[0].(int64)
		got, _ := res[1].(int64)
		switch code {
		case 1:
			c.seqs.done(qname+"/"+t, got)
			return nil
		case 0:
			return ErrDuplicate
		case 2:
			if got <= 0 {
				return fmt.Errorf("enqueue %s: unexpected answer %v", env.ID, res)
			}
			seq = got
		case 3:
			// Reserved under another shard count: the task, if it exists, is
			// in the queue recorded then, where the script cannot see it.
			prev, _ := res[2].(string)
			n, err := c.rdb.Exists(ctx, "asynq:{"+prev+"}:t:"+env.ID).Result()
			if err != nil {
				return fmt.Errorf("enqueue %s: look for the task in %s: %w", env.ID, prev, err)
			}
			if n > 0 {
				return ErrDuplicate
			}
			seq, checked = got, "1"
		case 4, 5:
			// 4: the shard was resharded past this client's layout; 5: the
			// shard is not open for the client's (newer) epoch yet: a reshard
			// is between sealing and opening. Read the layout again (a
			// reshard records it before sealing) and map the session again.
			if lay, err = c.layout(ctx, true); err != nil {
				return fmt.Errorf("enqueue %s: %w", env.ID, err)
			}
			if code == 4 && lay.Epoch < got {
				return fmt.Errorf("enqueue %s: shard %s is at layout epoch %d, the recorded layout at %d", env.ID, qname, got, lay.Epoch)
			}
			if err := mapTo(lay); err != nil {
				return err
			}
			if code == 5 && try < 2 {
				try = 2 // pause from now on: the reshard is opening the shards
			}
		default:
			return fmt.Errorf("enqueue %s: unexpected answer %v", env.ID, res)
		}
	}
	return fmt.Errorf("enqueue %s: the session's sequence number or the shard layout changed under %d tries", env.ID, maxSeqTries)
}

// layoutTTL is how long a Client uses the layout it read without reading it
// again. Correctness does not depend on it (the shard markers refuse a stale
// client); it bounds how long a client keeps mapping sessions to shards a
// reshard sealed (each such enqueue costs one refused round trip more).
const layoutTTL = 5 * time.Second

// layout is the shard layout the client maps sessions with: the recorded one
// (read at most every layoutTTL, or now with fresh), or InitialLayout of the
// client's shard count when none is recorded.
func (c *Client) layout(ctx context.Context, fresh bool) (Layout, error) {
	c.layMu.Lock()
	defer c.layMu.Unlock()
	if !fresh && c.lay != nil && time.Since(c.layAt) < layoutTTL {
		return *c.lay, nil
	}
	l, _, err := ReadLayout(ctx, c.rdb, c.shards)
	if err != nil {
		if c.lay != nil && !fresh {
			return *c.lay, nil // Redis is unreachable: the enqueue says so
		}
		return Layout{}, err
	}
	c.lay, c.layAt = &l, time.Now()
	return l, nil
}

// Layout is the shard layout the client maps sessions with now.
func (c *Client) Layout(ctx context.Context) (Layout, error) { return c.layout(ctx, false) }

// enqueuedBefore reports whether env was enqueued (its task written) into
// one of shards, its session's shards of earlier layouts within the
// deduplication horizon (Layout.DedupShards).
func (c *Client) enqueuedBefore(ctx context.Context, shards []int, env envelope.Envelope, horizon time.Duration) (bool, error) {
	mark := dedupMark(env.ID)
	for _, s := range shards {
		q := QueueName(s)
		args := strconv.FormatInt(c.now().UnixMilli(), 10) + "|" + strconv.FormatInt(horizon.Milliseconds(), 10) + "|" + dedupKeyPrefix(q, horizon) + "|" + mark
		res, err := c.runWaited(ctx, seenScript, []string{idKey(q, env.ID), writeFenceKey(q)},
			func(res any) bool { n, _ := res.(int64); return n == 1 }, args)
		if err != nil {
			return false, fmt.Errorf("enqueue %s: look for it under an earlier layout: %w", env.ID, err)
		}
		if n, _ := res.(int64); n == 1 {
			return true, nil
		}
	}
	return false, nil
}

// runEnqueue runs enqueueScript, followed by WAIT when the client waits for
// replicas. WAIT counts the replicas that have this connection's last
// write, so it is sent on the same connection, pipelined after the script
// (one round trip): on a Redis Cluster to the node that serves the shard's
// slot. Every answer of the script that returns to the caller follows a
// write (a duplicate refreshes the session's expiry), so WAIT confirms the
// earlier writes of the event too, whichever connection made them.
func (c *Client) runEnqueue(ctx context.Context, keys []string, args ...any) ([]any, error) {
	res, err := c.runWaited(ctx, enqueueScript, keys, func(res any) bool {
		r, _ := res.([]any)
		if len(r) == 0 {
			return false
		}
		code, _ := r[0].(int64)
		return code == 0 || code == 1 // written, or a duplicate: acknowledged
	}, args...)
	if err != nil {
		return nil, err
	}
	r, ok := res.([]any)
	if !ok || len(r) == 0 {
		return nil, fmt.Errorf("enqueue script answered %T", res)
	}
	return r, nil
}

// runWaited runs script on the primary of keys[0]'s slot and, with
// WithWaitReplicas, pipelines WAIT after it on the same connection: when
// acked(result) (the answer acknowledges an event) and fewer replicas than
// required confirmed, the run fails with ErrNotReplicated.
func (c *Client) runWaited(ctx context.Context, script *redis.Script, keys []string, acked func(any) bool, args ...any) (any, error) {
	if c.waitN == 0 {
		return script.Run(ctx, c.rdb, keys, args...).Result()
	}
	for try := 0; ; try++ {
		var conn redis.Cmdable = c.rdb
		if cc, ok := c.rdb.(*redis.ClusterClient); ok {
			node, err := cc.MasterForKey(ctx, keys[0])
			if err != nil {
				return nil, fmt.Errorf("find the shard's primary: %w", err)
			}
			conn = node
		}
		pipe := conn.Pipeline()
		run := pipe.EvalSha(ctx, script.Hash(), keys, args...)
		wait := pipe.Do(ctx, "WAIT", c.waitN, c.waitFor.Milliseconds())
		_, _ = pipe.Exec(ctx) // each command's error is checked below
		err := run.Err()
		if err != nil && try < 2 {
			switch {
			case redis.HasErrorPrefix(err, "NOSCRIPT"):
				if lerr := script.Load(ctx, conn).Err(); lerr != nil {
					return nil, fmt.Errorf("load the script: %w", lerr)
				}
				continue
			case redis.HasErrorPrefix(err, "MOVED"), redis.HasErrorPrefix(err, "ASK"),
				redis.HasErrorPrefix(err, "TRYAGAIN"), redis.HasErrorPrefix(err, "CLUSTERDOWN"):
				// The slot moved (a failover or a resharding of the cluster).
				if cc, ok := c.rdb.(*redis.ClusterClient); ok {
					cc.ReloadState(ctx)
				}
				continue
			}
		}
		if err == nil {
			err = wait.Err()
		}
		if err != nil {
			// A node that fails (killed, partitioned) makes the cluster client
			// look for the slot's new primary before the provider's retry.
			if cc, ok := c.rdb.(*redis.ClusterClient); ok {
				cc.ReloadState(ctx)
			}
			return nil, err
		}
		res, err := run.Result()
		if err != nil {
			return nil, err
		}
		n, err := wait.Int()
		if err != nil {
			return nil, fmt.Errorf("wait for replicas: %w", err)
		}
		if acked(res) && n < c.waitN {
			return nil, fmt.Errorf("%w: %d of %d within %s", ErrNotReplicated, n, c.waitN, c.waitFor)
		}
		return res, nil
	}
}

// parseReservation splits an r:<n> value "id|unix-ms".
func parseReservation(v string) (id string, at time.Time, ok bool) {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == '|' {
			ms, err := strconv.ParseInt(v[i+1:], 10, 64)
			if err != nil {
				return "", time.Time{}, false
			}
			return v[:i], time.UnixMilli(ms), true
		}
	}
	return "", time.Time{}, false
}
