package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Leases is shard ownership: each shard queue is consumed by exactly one worker
// at a time, the holder of its lease.
//
//   - A lease is `SET sb:{sb-shard-NNN}:lease <token> NX PX ttl` (in the
//     shard's hash slot, see the package comment); the token is unique
//     per acquisition (worker id + random), so a worker that lost its lease
//     (paused past the ttl) can neither renew nor release a lease someone else
//     took since: renew and release compare the token in Lua (fencing). The
//     worker also checks it still holds the lease before each task.
//   - Live workers register in the zset sb:workers with their expiry as score,
//     refreshed at every heartbeat; entries past their expiry are dropped. Each
//     worker aims for Target(shards, live) shards: it releases extras and takes
//     free shards, so shards spread when a worker joins and are taken over when
//     one leaves (clean stop: released at once) or dies (lease expiry).
type Leases struct {
	rdb    redis.UniversalClient
	shards atomic.Int64 // see SetShards
	ttl    time.Duration
	now    func() time.Time
}

const workersKey = "sb:workers"

// ChangesChannel is the pub/sub channel on which a worker announces that the
// shard set changed under it (it released leases, joined or left the live
// set): the other workers rebalance at once instead of at their next
// heartbeat, so a clean stop is taken over in one round trip, not LeaseTTL/3.
const ChangesChannel = "sb:leases:changed"

func leaseKey(shard int) string { return prefix(QueueName(shard)) + "lease" }

// NewLeases returns the lease set of shards shards with lease time-to-live ttl.
func NewLeases(rdb redis.UniversalClient, shards int, ttl time.Duration) *Leases {
	l := &Leases{rdb: rdb, ttl: ttl, now: time.Now}
	l.shards.Store(int64(shards))
	return l
}

// SetShards changes how many shards the lease set spans (a reshard: see
// Layout.LeaseShards).
func (l *Leases) SetShards(n int) { l.shards.Store(int64(n)) }

// Shards is how many shards the lease set spans.
func (l *Leases) Shards() int { return int(l.shards.Load()) }

// TTL is the lease time-to-live.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Target is how many shards each of live workers should own: ceil(shards/live).
func Target(shards, live int) int {
	if live <= 0 {
		return shards
	}
	return (shards + live - 1) / live
}

// NewToken returns a fresh lease token for workerID.
func NewToken(workerID string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return workerID + "#" + hex.EncodeToString(b)
}

// TokenWorker is the worker id inside a lease token.
func TokenWorker(token string) string {
	if i := strings.LastIndexByte(token, '#'); i >= 0 {
		return token[:i]
	}
	return token
}

// Register marks workerID live for one ttl, drops expired workers, and returns
// the ids of the live workers (including workerID).
func (l *Leases) Register(ctx context.Context, workerID string) ([]string, error) {
	now := l.now().UnixMilli()
	pipe := l.rdb.TxPipeline()
	pipe.ZAdd(ctx, workersKey, redis.Z{Score: float64(now + l.ttl.Milliseconds()), Member: workerID})
	pipe.ZRemRangeByScore(ctx, workersKey, "-inf", "("+strconv.FormatInt(now, 10))
	live := pipe.ZRange(ctx, workersKey, 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("register worker %s: %w", workerID, err)
	}
	return live.Val(), nil
}

// Unregister removes workerID from the live set (clean stop).
func (l *Leases) Unregister(ctx context.Context, workerID string) error {
	if err := l.rdb.ZRem(ctx, workersKey, workerID).Err(); err != nil {
		return fmt.Errorf("unregister worker %s: %w", workerID, err)
	}
	return nil
}

// Announce tells the other workers that the shard set changed (see
// ChangesChannel). A lost announcement only delays rebalancing to the next
// heartbeat.
func (l *Leases) Announce(ctx context.Context, workerID string) error {
	if err := l.rdb.Publish(ctx, ChangesChannel, workerID).Err(); err != nil {
		return fmt.Errorf("announce lease change of %s: %w", workerID, err)
	}
	return nil
}

// Changes subscribes to the announcements of other workers (see
// ChangesChannel); the caller closes the subscription.
func (l *Leases) Changes(ctx context.Context) *redis.PubSub {
	return l.rdb.Subscribe(ctx, ChangesChannel)
}

// Acquire takes the lease of shard for token if it is free.
func (l *Leases) Acquire(ctx context.Context, shard int, token string) (bool, error) {
	ok, err := l.rdb.SetNX(ctx, leaseKey(shard), token, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire shard %d: %w", shard, err)
	}
	return ok, nil
}

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Renew extends the lease of shard if token still holds it; false means the
// lease was lost (expired, or taken by another worker).
func (l *Leases) Renew(ctx context.Context, shard int, token string) (bool, error) {
	n, err := renewScript.Run(ctx, l.rdb, []string{leaseKey(shard)}, token, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew shard %d: %w", shard, err)
	}
	return n == 1, nil
}

// Release gives up the lease of shard if token holds it.
func (l *Leases) Release(ctx context.Context, shard int, token string) error {
	if err := releaseScript.Run(ctx, l.rdb, []string{leaseKey(shard)}, token).Err(); err != nil {
		return fmt.Errorf("release shard %d: %w", shard, err)
	}
	return nil
}

// Holds reports whether token holds the lease of shard.
func (l *Leases) Holds(ctx context.Context, shard int, token string) (bool, error) {
	v, err := l.rdb.Get(ctx, leaseKey(shard)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lease of shard %d: %w", shard, err)
	}
	return v == token, nil
}

// Owners returns the lease token of every held shard.
func (l *Leases) Owners(ctx context.Context) (map[int]string, error) {
	// One GET per shard in a pipeline, not an MGET: the leases are in as many
	// hash slots as shards (a Redis Cluster client splits the pipeline by node).
	pipe := l.rdb.Pipeline()
	gets := make([]*redis.StringCmd, l.Shards())
	for i := range gets {
		gets[i] = pipe.Get(ctx, leaseKey(i))
	}
	_, _ = pipe.Exec(ctx) // each command's own error is checked below
	out := map[int]string{}
	for i, g := range gets {
		s, err := g.Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return nil, fmt.Errorf("read shard leases: %w", err)
		default:
			out[i] = s
		}
	}
	return out, nil
}

// requeueOrphansScript moves every task left in the shard queue's active list
// back to the head of its pending list, like Asynq's own graceful-shutdown
// requeue (rdb.Requeue in asynq v0.26.0; same keys, same steps).
// KEYS[1] active list, KEYS[2] lease zset, KEYS[3] pending list; ARGV[1] task key prefix.
var requeueOrphansScript = redis.NewScript(`
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
-- The active list holds the newest task first (Asynq moves a task from the
-- pending list's right end onto its left); pushing the newest first onto the
-- pending list's right end, the dequeue end, leaves the oldest to go first.
for i = 1, #ids do
  local id = ids[i]
  redis.call('LREM', KEYS[1], 0, id)
  redis.call('ZREM', KEYS[2], id)
  redis.call('RPUSH', KEYS[3], id)
  redis.call('HSET', ARGV[1] .. id, 'state', 'pending')
end
return #ids
`)

// RequeueOrphans is called by a worker that has just acquired shard, before it
// starts consuming: nobody else holds the lease, so any task still "active" in
// the queue belongs to a consumer that died or was fenced out. Asynq would
// recover it by itself only after its own 30 s task lease plus 30 s of
// clock-skew cutoff, checked once a minute (up to ~2 minutes of a stalled
// session); requeueing at takeover makes recovery as fast as the shard lease.
// The requeued task may have been half done: delivery is at least once, and
// the agent deduplicates by webhook-id.
func (l *Leases) RequeueOrphans(ctx context.Context, shard int) (int, error) {
	p := "asynq:{" + QueueName(shard) + "}:"
	n, err := requeueOrphansScript.Run(ctx, l.rdb, []string{p + "active", p + "lease", p + "pending"}, p+"t:").Int()
	if err != nil {
		return 0, fmt.Errorf("requeue orphans of shard %d: %w", shard, err)
	}
	return n, nil
}
