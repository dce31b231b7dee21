package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Start is the answer for a task about to run: whether the worker still
// holds the shard's lease, the fence's verdict and, when the task may run
// (Go or Late), its attempt number and the progress of earlier attempts.
type Start struct {
	Holds bool
	Check
	Attempts int64             // this attempt's number (Go, Late)
	Progress map[string]string // the progress hash after the increment (Go, Late)
}

// KEYS[1] lease, KEYS[2] session hash, KEYS[3] done key, KEYS[4] progress key;
// ARGV[1] lease token, ARGV[2] seq, ARGV[3] retention ms.
// Returns {0} when the lease is not the token's, else
// {1, verdict, last, reservation of last+1 or ”, attempts, progress pairs}.
var startScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {1, 3, 0, ''} end
local seq = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'last'))
if last == nil then
  -- session state expired (idle longer than the session TTL): start afresh here
  last = seq - 1
  redis.call('HSET', KEYS[2], 'last', last)
end
local v = 0
if seq <= last then
  v = 2
elseif seq ~= last + 1 then
  local r = redis.call('HGET', KEYS[2], 'r:' .. (last + 1))
  if not r then r = '' end
  return {1, 1, last, r}
end
local n = redis.call('HINCRBY', KEYS[4], 'attempts', 1)
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return {1, v, last, '', n, redis.call('HGETALL', KEYS[4])}
`)

// Start checks, in one round trip, that token still holds the lease of
// shard, asks the fence whether task id (seq) of session sessionKey may run,
// and when it may, counts the attempt (the progress hash lives for the
// retention) and returns the task's progress: what Leases.Holds, Check and
// the worker's attempt bookkeeping did in four. The session must be of
// shard (its keys share the shard's hash slot); otherwise the steps run one
// by one.
func (f *Fence) Start(ctx context.Context, leases *Leases, shard int, token, sessionKey, id string, seq int64) (Start, error) {
	q := f.queue(sessionKey)
	pk := prefix(q) + "p:" + id
	if q != QueueName(shard) {
		return f.startSteps(ctx, leases, shard, token, sessionKey, id, seq, pk)
	}
	res, err := startScript.Run(ctx, f.rdb, []string{leaseKey(shard), sessionKeyOf(q, tag(sessionKey)), doneKey(q, id), pk},
		token, seq, f.retention.Milliseconds()).Slice()
	if err != nil {
		return Start{}, fmt.Errorf("start task %s: %w", id, err)
	}
	if res[0].(int64) == 0 {
		return Start{}, nil
	}
	s := Start{Holds: true, Check: Check{Verdict: Verdict(res[1].(int64)), Last: res[2].(int64)}}
	switch s.Verdict {
	case Wait:
		s.Missing = s.Last + 1
		if r, _ := res[3].(string); r != "" {
			s.MissingID, s.ReservedAt, _ = parseReservation(r)
		}
	case Go, Late:
		s.Attempts = res[4].(int64)
		pairs, _ := res[5].([]any)
		s.Progress = make(map[string]string, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			k, _ := pairs[i].(string)
			v, _ := pairs[i+1].(string)
			s.Progress[k] = v
		}
	}
	return s, nil
}

// startSteps is Start as separate commands (a session outside the shard's
// hash slot).
func (f *Fence) startSteps(ctx context.Context, leases *Leases, shard int, token, sessionKey, id string, seq int64, pk string) (Start, error) {
	holds, err := leases.Holds(ctx, shard, token)
	if err != nil || !holds {
		return Start{}, err
	}
	c, err := f.Check(ctx, sessionKey, id, seq)
	if err != nil {
		return Start{}, err
	}
	s := Start{Holds: true, Check: c}
	if c.Verdict != Go && c.Verdict != Late {
		return s, nil
	}
	if s.Attempts, err = f.rdb.HIncrBy(ctx, pk, "attempts", 1).Result(); err != nil {
		return Start{}, fmt.Errorf("count attempt of %s: %w", id, err)
	}
	f.rdb.PExpire(ctx, pk, f.retention)
	if s.Progress, err = f.rdb.HGetAll(ctx, pk).Result(); err != nil {
		return Start{}, fmt.Errorf("read progress of %s: %w", id, err)
	}
	return s, nil
}
