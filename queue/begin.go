package queue

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Start is the answer for a task about to run: whether the worker still
// holds the shard's lease, the fence's verdict (with the shard's layout
// epoch) and, when the task may run (Go or Late), its attempt number and the
// progress of earlier attempts.
type Start struct {
	Holds bool
	Check
	Attempts int64             // this attempt's number (Go, Late)
	Progress map[string]string // the progress hash after the increment (Go, Late)
}

// KEYS[1] lease, KEYS[2] session hash, KEYS[3] done key, KEYS[4] progress
// key, KEYS[5] the shard's layout marker; ARGV[1] lease token, ARGV[2] seq,
// ARGV[3] retention ms.
// Returns {0} when the lease is not the token's, else
// {1, verdict, last, reservation of last+1 or ”, marker or ”, attempts, progress pairs}.
var startScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local m = redis.call('GET', KEYS[5]) or ''
if redis.call('EXISTS', KEYS[3]) == 1 then return {1, 3, 0, '', m} end
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
  return {1, 1, last, r, m}
end
local n = redis.call('HINCRBY', KEYS[4], 'attempts', 1)
redis.call('PEXPIRE', KEYS[4], ARGV[3])
return {1, v, last, '', m, n, redis.call('HGETALL', KEYS[4])}
`)

// Start checks, in one round trip, that token still holds the lease of
// shard, asks the fence whether task id (seq) of session sessionKey, a task
// of shard's queue, may run (its ordering state is in shard's slot, as
// with At(shard)), and when it may, counts the attempt (the progress hash
// lives for the retention) and returns the task's progress: what
// Leases.Holds, Check and the worker's attempt bookkeeping did in four.
// Every key is in shard's hash slot.
func (f *Fence) Start(ctx context.Context, shard int, token, sessionKey, id string, seq int64) (Start, error) {
	q := QueueName(shard)
	res, err := startScript.Run(ctx, f.rdb,
		[]string{leaseKey(shard), sessionKeyOf(q, tag(sessionKey)), doneKey(q, id), ProgressKeyIn(shard, id), prefix(q) + "epoch"},
		token, seq, f.retention.Milliseconds()).Slice()
	if err != nil {
		return Start{}, fmt.Errorf("start task %s: %w", id, err)
	}
	if res[0].(int64) == 0 {
		return Start{}, nil
	}
	s := Start{Holds: true, Check: Check{Verdict: Verdict(res[1].(int64)), Last: res[2].(int64)}}
	if m, _ := res[4].(string); m != "" {
		mk, err := ParseMarker(m)
		if err != nil {
			return Start{}, fmt.Errorf("start task %s: %w", id, err)
		}
		s.Epoch = mk.Epoch
	}
	switch s.Verdict {
	case Wait:
		s.Missing = s.Last + 1
		if r, _ := res[3].(string); r != "" {
			s.MissingID, s.ReservedAt, _ = parseReservation(r)
		}
	case Go, Late:
		s.Attempts = res[5].(int64)
		pairs, _ := res[6].([]any)
		s.Progress = make(map[string]string, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			k, _ := pairs[i].(string)
			v, _ := pairs[i+1].(string)
			s.Progress[k] = v
		}
	}
	return s, nil
}
