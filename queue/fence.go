package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Verdict is what the fence says about a task of a session.
type Verdict int

const (
	// Go: the task is the session's next one (Seq == last_done+1): process it.
	Go Verdict = iota
	// Wait: an earlier task of the session is not finished yet: try later.
	Wait
	// Late: the fence has already passed this Seq but the task was never
	// completed (it was dead-lettered and is now replayed, or its number was
	// skipped as a gap and the event arrived after all): process it without
	// holding the session.
	Late
	// Done: the task's side effects are already complete (a re-run after a
	// crash, or the same event through another queue): do nothing.
	Done
)

func (v Verdict) String() string {
	switch v {
	case Go:
		return "go"
	case Wait:
		return "wait"
	case Late:
		return "late"
	case Done:
		return "done"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Check is the fence's answer for one task.
type Check struct {
	Verdict Verdict
	Last    int64 // last done sequence number of the session
	// On Wait: the sequence number the session waits for (Last+1), and its
	// reservation (the task id and when the number was assigned) when known.
	Missing    int64
	MissingID  string
	ReservedAt time.Time
	// Epoch is the layout epoch of the task's shard (its marker): a worker
	// on an older layout reads the layout again before going on.
	Epoch int64
}

// Fence is the per-session ordering state the worker reads and advances.
type Fence struct {
	rdb        redis.UniversalClient
	shards     int
	retention  time.Duration
	sessionTTL time.Duration
	at         string // the shard queue of every session (see At), else by shards
}

// At is the fence of the sessions' state in shard's hash slot, whatever
// shard the sessions map to now: a task's ordering state is in the slot of
// the queue the task is in (after a reshard, a moved session's old tasks are
// in its old shard, its new ones in the new).
func (f *Fence) At(shard int) *Fence {
	g := *f
	g.at = QueueName(shard)
	return &g
}

// NewFence returns the fence over rdb of a deployment with shards shard
// queues (the keys of a session are in its shard's hash slot); retention is
// the task retention (the lifetime of done markers, normally DefaultRetention).
func NewFence(rdb redis.UniversalClient, retention time.Duration, shards int) *Fence {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if shards <= 0 {
		shards = DefaultShards
	}
	return &Fence{rdb: rdb, shards: shards, retention: retention, sessionTTL: SessionTTL(retention)}
}

// queue is the shard queue of sessionKey.
func (f *Fence) queue(sessionKey string) string {
	if f.at != "" {
		return f.at
	}
	return QueueName(Shard(sessionKey, f.shards))
}

// KEYS[1] session hash, KEYS[2] done key, KEYS[3] the shard's layout marker;
// ARGV[1] seq.
// Returns {verdict, last, reservation of last+1 or "", marker or ""}.
var checkScript = redis.NewScript(`
local m = redis.call('GET', KEYS[3]) or ''
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {3, 0, '', m}
end
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if last == nil then
  -- session state expired (idle longer than the session TTL): start afresh here
  last = seq - 1
  redis.call('HSET', KEYS[1], 'last', last)
end
if seq == last + 1 then return {0, last, '', m} end
if seq <= last then return {2, last, '', m} end
local r = redis.call('HGET', KEYS[1], 'r:' .. (last + 1))
if not r then r = '' end
return {1, last, r, m}
`)

// Check asks whether task id with sequence number seq of session may run now.
func (f *Fence) Check(ctx context.Context, sessionKey, id string, seq int64) (Check, error) {
	q := f.queue(sessionKey)
	res, err := checkScript.Run(ctx, f.rdb, []string{sessionKeyOf(q, tag(sessionKey)), doneKey(q, id), prefix(q) + "epoch"}, seq).Slice()
	if err != nil {
		return Check{}, fmt.Errorf("fence check %s: %w", id, err)
	}
	c := Check{Verdict: Verdict(res[0].(int64)), Last: res[1].(int64)}
	if m, _ := res[3].(string); m != "" {
		mk, err := ParseMarker(m)
		if err != nil {
			return Check{}, fmt.Errorf("fence check %s: %w", id, err)
		}
		c.Epoch = mk.Epoch
	}
	if c.Verdict == Wait {
		c.Missing = c.Last + 1
		if r, _ := res[2].(string); r != "" {
			c.MissingID, c.ReservedAt, _ = parseReservation(r)
		}
	}
	return c, nil
}

// doneTTL is the lifetime of a done marker: it makes a re-run of a completed
// task a no-op, and a task can run again only while it exists, that is within
// DefaultTaskRetention of its completion (twice that, for margin). It used to
// be the dedup horizon (8 days), half of what a deduplicated event cost.
const doneTTL = 2 * DefaultTaskRetention

// KEYS[1] session hash, KEYS[2] done key, KEYS[3] progress key;
// ARGV[1] seq, ARGV[2] retention ms, ARGV[3] session ttl ms, ARGV[4] "1" to mark done.
var finishScript = redis.NewScript(`
local seq = tonumber(ARGV[1])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('DEL', KEYS[3])
end
redis.call('HDEL', KEYS[1], 'r:' .. seq)
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if last == nil or last == seq - 1 then
  redis.call('HSET', KEYS[1], 'last', seq)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// Complete records that task id (seq) is done: it marks the id done (so a
// re-run is a no-op), drops its progress, and advances the session's fence
// when the task was the session's next one. One atomic step.
func (f *Fence) Complete(ctx context.Context, sessionKey, id string, seq int64) error {
	return f.finish(ctx, sessionKey, id, seq, true)
}

// Abandon records that task id (seq) was dead-lettered: the fence moves past
// it so the session goes on, but the id is not marked done and its progress is
// kept, so a replay delivers it (as Late) and resumes where it stopped.
func (f *Fence) Abandon(ctx context.Context, sessionKey, id string, seq int64) error {
	return f.finish(ctx, sessionKey, id, seq, false)
}

func (f *Fence) finish(ctx context.Context, sessionKey, id string, seq int64, done bool) error {
	q := f.queue(sessionKey)
	mark := "0"
	if done {
		mark = "1"
	}
	err := finishScript.Run(ctx, f.rdb,
		[]string{sessionKeyOf(q, tag(sessionKey)), doneKey(q, id), prefix(q) + "p:" + id},
		seq, min(f.retention, doneTTL).Milliseconds(), f.sessionTTL.Milliseconds(), mark).Err()
	if err != nil {
		return fmt.Errorf("fence finish %s: %w", id, err)
	}
	return nil
}

// KEYS[1] session hash; ARGV[1] missing seq.
var skipScript = redis.NewScript(`
local m = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if last ~= m - 1 then return 0 end
redis.call('HSET', KEYS[1], 'last', m)
redis.call('HDEL', KEYS[1], 'r:' .. m)
return 1
`)

// Skip moves the fence past sequence number missing when it is still the one
// the session waits for (compare-and-set). The caller decides that the task
// behind it will not come (see worker). If it does come after all, it runs as
// Late: out of order, but not lost.
func (f *Fence) Skip(ctx context.Context, sessionKey string, missing int64) (bool, error) {
	n, err := skipScript.Run(ctx, f.rdb, []string{sessionKeyOf(f.queue(sessionKey), tag(sessionKey))}, missing).Int()
	if err != nil {
		return false, fmt.Errorf("fence skip: %w", err)
	}
	return n == 1, nil
}

// KEYS[1] session hash. Returns {1 when every number taken is done, last,
// reservation of last+1 or ""}.
var drainedScript = redis.NewScript(`
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if seq == nil or last == nil or last >= seq then return {1, last or 0, ''} end
return {0, last, redis.call('HGET', KEYS[1], 'r:' .. (last + 1)) or ''}
`)

// Drained is the handoff check of a reshard: whether every task of
// sessionKey this fence's shard (see At) took a number for is done or
// dead-lettered (Verdict Go), or which one the session still waits for
// (Verdict Wait, with Missing and its reservation). A session without state
// there (none, or expired) is drained. Only meaningful for a shard that no
// longer takes the session's tasks (sealed by the reshard): its numbers are
// final.
func (f *Fence) Drained(ctx context.Context, sessionKey string) (Check, error) {
	res, err := drainedScript.Run(ctx, f.rdb, []string{sessionKeyOf(f.queue(sessionKey), tag(sessionKey))}).Slice()
	if err != nil {
		return Check{}, fmt.Errorf("fence drained: %w", err)
	}
	c := Check{Verdict: Go, Last: res[1].(int64)}
	if res[0].(int64) == 0 {
		c.Verdict, c.Missing = Wait, c.Last+1
		if r, _ := res[2].(string); r != "" {
			c.MissingID, c.ReservedAt, _ = parseReservation(r)
		}
	}
	return c, nil
}
