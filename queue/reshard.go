package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// markerKey is the layout marker of shard (in the shard queue's hash slot,
// beside Asynq's asynq:{sb-shard-NNN}:… keys).
func markerKey(shard int) string { return prefix(QueueName(shard)) + "epoch" }

// ReadLayout returns the recorded layout and its stored form ("" when none
// is recorded: then InitialLayout(shards), the deployment's --shards).
func ReadLayout(ctx context.Context, rdb redis.UniversalClient, shards int) (Layout, string, error) {
	raw, err := rdb.Get(ctx, LayoutKey).Result()
	if errors.Is(err, redis.Nil) {
		return InitialLayout(shards), "", nil
	}
	if err != nil {
		return Layout{}, "", fmt.Errorf("read shard layout: %w", err)
	}
	var l Layout
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return Layout{}, "", fmt.Errorf("read shard layout: %s holds no layout: %w", LayoutKey, err)
	}
	if l.Shards < 1 || l.Shards > MaxShards || (l.State != Stable && l.State != Moving) || (l.State == Moving && l.From == nil) {
		return Layout{}, "", fmt.Errorf("read shard layout: %s holds an invalid layout (epoch %d, %d shards, %q)", LayoutKey, l.Epoch, l.Shards, l.State)
	}
	return l, raw, nil
}

// ReadMarker returns the layout marker of shard.
func ReadMarker(ctx context.Context, rdb redis.UniversalClient, shard int) (Marker, error) {
	v, err := rdb.Get(ctx, markerKey(shard)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Marker{}, fmt.Errorf("read marker of shard %d: %w", shard, err)
	}
	return ParseMarker(v)
}

// KEYS[1] LayoutKey; ARGV[1] the stored form expected now ("" for none),
// ARGV[2] the new one. Returns 1 when written, 0 when the layout changed.
var swapLayoutScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// KEYS[1] a shard marker; ARGV[1] epoch, ARGV[2] "open" or "sealed".
// Raises the marker (never lowers it); returns 1 when it changed.
var raiseMarkerScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local e, st = 0, 'open'
if cur then
  local bar = string.find(cur, '|', 1, true)
  if not bar then return redis.error_reply('switchboard: bad shard marker ' .. cur) end
  e, st = tonumber(string.sub(cur, 1, bar - 1)), string.sub(cur, bar + 1)
end
local ne, nst = tonumber(ARGV[1]), ARGV[2]
if e < ne or (e == ne and st == 'sealed' and nst == 'open') then
  redis.call('SET', KEYS[1], ne .. '|' .. nst)
  return 1
end
return 0
`)

func swapLayout(ctx context.Context, rdb redis.UniversalClient, raw string, next Layout) (string, error) {
	b, err := json.Marshal(next)
	if err != nil {
		return "", fmt.Errorf("encode shard layout: %w", err)
	}
	ok, err := swapLayoutScript.Run(ctx, rdb, []string{LayoutKey}, raw, string(b)).Int()
	if err != nil {
		return "", fmt.Errorf("write shard layout: %w", err)
	}
	if ok != 1 {
		return "", &Refusal{RefusedChanged, "the recorded layout changed while the command ran (another reshard?): run it again"}
	}
	return string(b), nil
}

// raiseMarkers raises the markers of shards to m, in one pipeline (one
// single-key script per shard, so a Redis Cluster client spreads it by node).
func raiseMarkers(ctx context.Context, rdb redis.UniversalClient, shards []int, m Marker) error {
	st := "sealed"
	if m.Open {
		st = "open"
	}
	// Loaded first: a pipeline of EVALSHA would fail everywhere on a server
	// that has not seen the script.
	if err := raiseMarkerScript.Load(ctx, rdb).Err(); err != nil {
		return fmt.Errorf("load marker script: %w", err)
	}
	pipe := rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(shards))
	for i, s := range shards {
		cmds[i] = raiseMarkerScript.EvalSha(ctx, pipe, []string{markerKey(s)}, m.Epoch, st)
	}
	_, _ = pipe.Exec(ctx)
	for i, c := range cmds {
		if err := c.Err(); err != nil {
			return fmt.Errorf("mark shard %d %s: %w", shards[i], m, err)
		}
	}
	return nil
}

// BeginReshard carries out the first phase of plan: it records plan.Next
// (unless resuming), seals every old shard for the new epoch and, once all
// are sealed, opens every new shard. raw is the stored layout plan was made
// from (see ReadLayout): a layout changed since is refused. Every step is
// idempotent, so a run that stopped half way is resumed by planning again.
func BeginReshard(ctx context.Context, rdb redis.UniversalClient, plan ReshardPlan, raw string) (string, error) {
	if !plan.Resume {
		var err error
		if raw, err = swapLayout(ctx, rdb, raw, plan.Next); err != nil {
			return "", err
		}
	}
	e := plan.Next.Epoch
	if err := raiseMarkers(ctx, rdb, plan.Seal, Marker{Epoch: e, Open: false}); err != nil {
		return raw, err
	}
	if err := raiseMarkers(ctx, rdb, plan.Open, Marker{Epoch: e, Open: true}); err != nil {
		return raw, err
	}
	return raw, nil
}

// CompleteReshard records the end of l's reshard (see FinishReshard), when
// the stored layout is still raw.
func CompleteReshard(ctx context.Context, rdb redis.UniversalClient, l Layout, raw string, remaining int, now time.Time) (Layout, error) {
	next, err := FinishReshard(l, remaining, now)
	if err != nil {
		return Layout{}, err
	}
	if _, err := swapLayout(ctx, rdb, raw, next); err != nil {
		return Layout{}, err
	}
	return next, nil
}

// KEYS[1..4] asynq:{q}:pending, :active, :scheduled, :retry. Every task id
// the queue holds that is not done or archived, read in one atomic step (a
// task moving between the lists while they are read one by one could be
// missed by both reads).
var snapshotScript = redis.NewScript(`
local out = redis.call('LRANGE', KEYS[1], 0, -1)
for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = id end
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do out[#out + 1] = id end
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do out[#out + 1] = id end
return out
`)

// Drain counts the tasks of moved sessions left in the old queues of a
// reshard under way. It remembers every task it decoded (a task's session
// does not change), so each poll costs the queues' id lists plus the tasks
// new since the last one.
type Drain struct {
	rdb   redis.UniversalClient
	moved map[string]bool // "queue/id" → the task belongs to a moved session
}

// NewDrain returns a Drain over rdb.
func NewDrain(rdb redis.UniversalClient) *Drain {
	return &Drain{rdb: rdb, moved: map[string]bool{}}
}

// Remaining returns, per old shard of l (moving), how many tasks of moved
// sessions it still holds (pending, active, scheduled or in retry).
func (d *Drain) Remaining(ctx context.Context, l Layout) (map[int]int, error) {
	if l.State != Moving || l.From == nil {
		return map[int]int{}, nil
	}
	out := map[int]int{}
	seen := map[string]bool{}
	for s := 0; s < l.From.Shards; s++ {
		q := QueueName(s)
		p := "asynq:{" + q + "}:"
		ids, err := snapshotScript.Run(ctx, d.rdb, []string{p + "pending", p + "active", p + "scheduled", p + "retry"}).StringSlice()
		if err != nil {
			return nil, fmt.Errorf("list the tasks of %s: %w", q, err)
		}
		var unknown []string
		for _, id := range ids {
			k := q + "/" + id
			seen[k] = true
			if _, ok := d.moved[k]; !ok {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			pipe := d.rdb.Pipeline()
			msgs := make([]*redis.StringCmd, len(unknown))
			for i, id := range unknown {
				msgs[i] = pipe.HGet(ctx, p+"t:"+id, "msg")
			}
			_, _ = pipe.Exec(ctx)
			for i, id := range unknown {
				msg, err := msgs[i].Result()
				if errors.Is(err, redis.Nil) {
					continue // gone since the snapshot: done
				}
				if err != nil {
					return nil, fmt.Errorf("read task %s of %s: %w", id, q, err)
				}
				key, ok := taskSessionKey([]byte(msg))
				// A task that does not decode is refused by the worker (it
				// never holds a session): it does not hold the reshard.
				d.moved[q+"/"+id] = ok && l.Moved(key) && Shard(key, l.From.Shards) == s
			}
		}
		for _, id := range ids {
			if d.moved[q+"/"+id] {
				out[s]++
			}
		}
	}
	for k := range d.moved {
		if !seen[k] {
			delete(d.moved, k)
		}
	}
	return out, nil
}

// taskSessionKey reads the envelope's session key out of an Asynq task
// message (field 2, the payload; see encodeAsynqTask).
func taskSessionKey(msg []byte) (string, bool) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", false
		}
		msg = msg[n:]
		if num == 2 && typ == protowire.BytesType {
			payload, n := protowire.ConsumeBytes(msg)
			if n < 0 {
				return "", false
			}
			var env struct {
				SessionKey string `json:"session_key"`
			}
			if json.Unmarshal(payload, &env) != nil || env.SessionKey == "" {
				return "", false
			}
			return env.SessionKey, true
		}
		n = protowire.ConsumeFieldValue(num, typ, msg)
		if n < 0 {
			return "", false
		}
		msg = msg[n:]
	}
	return "", false
}

// ReshardProgress is one step of Reshard, for the operator's output.
type ReshardProgress struct {
	// Phase: "planned", "sealed" (old shards refuse tasks of the old layout),
	// "opened" (new shards take tasks of the new one), "draining" (moved
	// sessions' tasks left in old queues), "finished" (stable).
	Phase     string      `json:"phase"`
	Epoch     int64       `json:"epoch"`
	From      int         `json:"from_shards"`
	To        int         `json:"to_shards"`
	Resume    bool        `json:"resume,omitempty"`
	Remaining int         `json:"remaining"`
	ByShard   map[int]int `json:"remaining_by_shard,omitempty"`
	// Removed: completed tasks deleted from the queues a shrink removed
	// (finished).
	Removed int `json:"removed_completed,omitempty"`
}

// ReshardOptions configures Reshard.
type ReshardOptions struct {
	// Shards is the deployment's shard count when no layout is recorded
	// (the --shards every ingest and worker was started with).
	Shards int
	// DryRun plans and counts what would move (tasks queued now whose
	// session changes shard), and changes nothing.
	DryRun bool
	// NoWait returns once the new layout takes tasks, before the drain; a
	// later Reshard to the same count resumes and finishes it.
	NoWait bool
	// Poll is the pause between drain checks [1 s].
	Poll     time.Duration
	Progress func(ReshardProgress)
	Now      func() time.Time
}

// Reshard changes the recorded layout to shards shards: it plans (see
// PlanReshard; refusals are *Refusal), records the new layout, seals the
// old shards, opens the new ones, then polls until no task of a moved
// session is left in an old queue and records the layout stable. Every step
// is idempotent: run it again with the same count to resume.
func Reshard(ctx context.Context, rdb redis.UniversalClient, shards int, o ReshardOptions) (ReshardPlan, error) {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	report := func(p ReshardProgress) {
		if o.Progress != nil {
			o.Progress(p)
		}
	}
	cur, raw, err := ReadLayout(ctx, rdb, o.Shards)
	if err != nil {
		return ReshardPlan{}, err
	}
	plan, err := PlanReshard(cur, shards, o.Now())
	if err != nil {
		return ReshardPlan{}, err
	}
	if raw == "" {
		// No layout recorded: the old count is the --shards given, which
		// must be the one ingest and workers run with.
		if err := checkRecordlessCount(ctx, rdb, cur.Shards, o.Now()); err != nil {
			return ReshardPlan{}, err
		}
	}
	base := ReshardProgress{Epoch: plan.Next.Epoch, From: plan.Next.From.Shards, To: plan.Next.Shards, Resume: plan.Resume}
	drain := NewDrain(rdb)
	if o.DryRun {
		by, err := drain.Remaining(ctx, plan.Next)
		if err != nil {
			return plan, err
		}
		p := base
		p.Phase, p.ByShard, p.Remaining = "planned", by, total(by)
		report(p)
		return plan, nil
	}
	p := base
	p.Phase = "planned"
	report(p)
	if raw, err = BeginReshard(ctx, rdb, plan, raw); err != nil {
		return plan, err
	}
	p.Phase = "sealed"
	report(p)
	p.Phase = "opened"
	report(p)
	if o.NoWait {
		return plan, nil
	}
	for {
		by, err := drain.Remaining(ctx, plan.Next)
		if err != nil {
			return plan, err
		}
		p := base
		p.Phase, p.ByShard, p.Remaining = "draining", by, total(by)
		report(p)
		if p.Remaining == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return plan, fmt.Errorf("reshard to %d shards: stopped while draining (%d task(s) left; run it again to resume): %w", shards, p.Remaining, ctx.Err())
		case <-time.After(o.Poll):
		}
	}
	done, err := CompleteReshard(ctx, rdb, plan.Next, raw, 0, o.Now())
	if err != nil {
		return plan, err
	}
	// Queues a shrink removed: nothing consumes them any more. Their
	// completed tasks (kept for inspection, see DefaultTaskRetention) would
	// stay, since only a queue's own consumers expire them: deleted, and the
	// queue dropped from Asynq's list once empty. Dead letters stay listed.
	p = base
	for s := done.Shards; s < plan.Next.From.Shards; s++ {
		n, err := removeQueue(ctx, rdb, QueueName(s))
		if err != nil {
			return plan, err
		}
		p.Removed += n
	}
	p.Phase = "finished"
	report(p)
	plan.Next = done
	return plan, nil
}

// removeQueue deletes the completed tasks of queue q (a queue the layout
// removed) and, when it then holds nothing, the queue itself; it returns how
// many tasks it deleted.
func removeQueue(ctx context.Context, rdb redis.UniversalClient, q string) (int, error) {
	known, err := rdb.SIsMember(ctx, "asynq:queues", q).Result()
	if err != nil {
		return 0, fmt.Errorf("look for removed queue %s: %w", q, err)
	}
	if !known {
		return 0, nil
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	n, err := insp.DeleteAllCompletedTasks(q)
	if err != nil {
		return 0, fmt.Errorf("delete the completed tasks of removed queue %s: %w", q, err)
	}
	if err := insp.DeleteQueue(q, false); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) && !errors.Is(err, asynq.ErrQueueNotEmpty) {
		return n, fmt.Errorf("remove queue %s: %w", q, err)
	}
	return n, nil
}

func total(by map[int]int) int {
	n := 0
	for _, v := range by {
		n += v
	}
	return n
}

// checkRecordlessCount collects what CheckShardCount needs from Redis: the
// shard queues Asynq knows that hold tasks, the held leases, the live
// workers.
func checkRecordlessCount(ctx context.Context, rdb redis.UniversalClient, given int, now time.Time) error {
	names, err := rdb.SMembers(ctx, "asynq:queues").Result()
	if err != nil {
		return fmt.Errorf("list the queues: %w", err)
	}
	pipe := rdb.Pipeline()
	type probe struct {
		shard int
		cmds  []*redis.IntCmd
	}
	var probes []probe
	for _, n := range names {
		var s int
		if _, err := fmt.Sscanf(n, "sb-shard-%d", &s); err != nil || QueueName(s) != n {
			continue
		}
		p := "asynq:{" + n + "}:"
		probes = append(probes, probe{s, []*redis.IntCmd{pipe.LLen(ctx, p+"pending"), pipe.LLen(ctx, p+"active"),
			pipe.ZCard(ctx, p+"scheduled"), pipe.ZCard(ctx, p+"retry")}})
	}
	leases := make([]*redis.IntCmd, MaxShards)
	for s := range leases {
		leases[s] = pipe.Exists(ctx, leaseKey(s))
	}
	live := pipe.ZCount(ctx, workersKey, strconv.FormatInt(now.UnixMilli(), 10), "+inf")
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read the shard queues and leases: %w", err)
	}
	var busy, leased []int
	for _, p := range probes {
		for _, c := range p.cmds {
			if c.Val() > 0 {
				busy = append(busy, p.shard)
				break
			}
		}
	}
	for s, c := range leases {
		if c.Val() > 0 {
			leased = append(leased, s)
			busy = append(busy, s)
		}
	}
	return CheckShardCount(given, busy, leased, int(live.Val()))
}
