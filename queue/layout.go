package queue

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Resharding: the shard count of a deployment can change while it runs,
// without losing or reordering a session's events. The design, in short
// (docs/scaling.md, "Resharding", has the procedure):
//
//   - The layout (shard count and an epoch that grows by one per reshard) is
//     recorded in Redis under LayoutKey. Every shard queue also has a marker
//     in its own hash slot (sb:{sb-shard-NNN}:epoch, "<epoch>|open" or
//     "<epoch>|sealed"); no marker is epoch 0, open.
//   - The enqueue script reads the marker of the queue it writes to, in the
//     same atomic step, and writes only when the marker is exactly the
//     client's epoch and open. A client on an older layout is refused (it
//     reloads the layout and maps the session again); a shard not yet opened
//     for the client's newer epoch makes it wait.
//   - A reshard from epoch e to e+1 writes the new layout ("moving"), then
//     seals every old shard for e+1 and only then opens every new shard. So
//     once any task of the new epoch is written, no task of the old epoch can
//     be written anywhere: for a session, the old epoch's tasks are final.
//   - A session whose shard changes ("moved") has its ordering state (counter,
//     fence) in the old shard's slot for its old tasks and in the new shard's
//     slot for its new ones. A worker runs a moved session's new task only once
//     the session's old state shows every old task done (handoff, see
//     Layout.HandoffFrom). Sessions that keep their shard are not held at all.
//   - The reshard is finished (layout "stable") once no task of a moved
//     session is left in an old queue; until then workers lease
//     max(old, new) shards, so the old queues keep being consumed.
//   - A provider's retry of an event enqueued under an earlier layout maps to
//     another queue when the session moved: the client looks for the event's
//     id key in the shard of each earlier layout still inside the
//     deduplication horizon (Layout.History). Those shards are sealed, so the
//     answer cannot change after it was read.

// LayoutKey holds the recorded Layout (JSON). It is read outside the enqueue
// script (its hash slot is none of the shards'): the per-shard markers are
// what the scripts check.
const LayoutKey = "sb:layout"

// MaxShards bounds a layout's shard count (a queue name has room for three
// digits; past that, leases and snapshots cost more than a shard gains).
const MaxShards = 999

// historyKeep is how many earlier layouts a Layout remembers for
// deduplication (each inside the deduplication horizon).
const historyKeep = 8

// LayoutState is whether a reshard is under way.
type LayoutState string

const (
	// Stable: one shard count; workers lease Shards shards.
	Stable LayoutState = "stable"
	// Moving: a reshard from From to Shards is under way.
	Moving LayoutState = "moving"
)

// PastLayout is an earlier layout: its epoch, shard count and when it
// stopped taking new tasks (when the reshard away from it began).
type PastLayout struct {
	Epoch   int64     `json:"epoch"`
	Shards  int       `json:"shards"`
	EndedAt time.Time `json:"ended_at"`
}

// Layout is the shard layout of a deployment.
type Layout struct {
	Epoch  int64       `json:"epoch"`
	Shards int         `json:"shards"`
	State  LayoutState `json:"state"`
	// From is the layout being left while Moving (History[0] too).
	From *PastLayout `json:"from,omitempty"`
	// History holds the earlier layouts, newest first, that ended within
	// DefaultRetention (the longest deduplication horizon).
	History    []PastLayout `json:"history,omitempty"`
	StartedAt  time.Time    `json:"started_at,omitzero"`
	FinishedAt time.Time    `json:"finished_at,omitzero"`
}

// InitialLayout is the layout of a deployment that never resharded: epoch
// 0 with the configured shard count (the --shards flag), stable.
func InitialLayout(shards int) Layout {
	if shards <= 0 {
		shards = DefaultShards
	}
	return Layout{Epoch: 0, Shards: shards, State: Stable}
}

// LeaseShards is how many shard queues workers consume: both layouts' while
// moving (the old queues drain), else Shards.
func (l Layout) LeaseShards() int {
	if l.State == Moving && l.From != nil && l.From.Shards > l.Shards {
		return l.From.Shards
	}
	return l.Shards
}

// SpanShards is the highest shard count of this layout, the one it leaves
// and its history: every shard queue that may still hold tasks (dead
// letters among them) is below it.
func (l Layout) SpanShards() int {
	n := l.LeaseShards()
	for _, p := range l.History {
		n = max(n, p.Shards)
	}
	return n
}

// HandoffFrom says whether a task of sessionKey found in shard queue shard
// is a moved session's task of the new epoch, which must wait for the
// session's tasks in its old shard (returned) to be done. Only while Moving;
// a task of the old epoch (the session's old shard is this one) or of a
// session that kept its shard needs no handoff.
func (l Layout) HandoffFrom(sessionKey string, shard int) (from int, ok bool) {
	if l.State != Moving || l.From == nil {
		return 0, false
	}
	old := Shard(sessionKey, l.From.Shards)
	if old == shard || Shard(sessionKey, l.Shards) != shard {
		return 0, false
	}
	return old, true
}

// Moved reports whether sessionKey's shard differs between From and this
// layout while Moving (a task of it in its old shard holds the reshard's end).
func (l Layout) Moved(sessionKey string) bool {
	return l.State == Moving && l.From != nil && Shard(sessionKey, l.From.Shards) != Shard(sessionKey, l.Shards)
}

// DedupShards are the shards, in the layouts of History still inside
// horizon at now, where an event of sessionKey may have been enqueued before
// and that differ from its shard now (each at most once).
func (l Layout) DedupShards(sessionKey string, horizon time.Duration, now time.Time) []int {
	cur := Shard(sessionKey, l.Shards)
	var out []int
	for _, p := range l.History {
		if now.Sub(p.EndedAt) > horizon {
			continue
		}
		s := Shard(sessionKey, p.Shards)
		if s == cur || containsInt(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// RefusalReason says why a reshard step was refused.
type RefusalReason string

const (
	RefusedInvalidCount RefusalReason = "invalid_count"   // not in 1..MaxShards
	RefusedSameCount    RefusalReason = "same_count"      // already that many shards, stable
	RefusedInProgress   RefusalReason = "in_progress"     // another reshard is under way
	RefusedNotMoving    RefusalReason = "not_moving"      // nothing to finish
	RefusedNotDrained   RefusalReason = "not_drained"     // moved sessions' tasks left in old queues
	RefusedChanged      RefusalReason = "changed"         // the recorded layout changed under the command
	RefusedShardsWrong  RefusalReason = "shards_mismatch" // no layout recorded, and the queues say the deployment runs another count than --shards
)

// CheckShardCount is the first reshard's check of the shard count it was
// given (the --shards of ingest and workers, while no layout is recorded)
// against what Redis shows: busy lists the shards whose queue holds tasks or
// whose lease is held, leased the shards held by a live worker, live the
// live workers. A busy shard at or past given means the deployment runs more
// shards; live workers that together hold shards 0..n-1 and none of n..given-1
// mean it runs n. Either way the plan would seal the wrong shards or map the
// old tasks' sessions wrongly, so it is refused.
func CheckShardCount(given int, busy, leased []int, live int) error {
	for _, s := range busy {
		if s >= given {
			return &Refusal{RefusedShardsWrong, fmt.Sprintf("shard queue %s holds tasks or a lease, so the deployment runs more than %d shards: give --shards the count ingest and workers were started with", QueueName(s), given)}
		}
	}
	if live == 0 || len(leased) == 0 {
		return nil
	}
	held := map[int]bool{}
	top := -1
	for _, s := range leased {
		held[s] = true
		top = max(top, s)
	}
	for s := 0; s <= top; s++ {
		if !held[s] {
			return nil // leases are moving (a worker joined or left): no conclusion
		}
	}
	if top+1 < given {
		return &Refusal{RefusedShardsWrong, fmt.Sprintf("the %d live worker(s) hold shards 0..%d and none of %d..%d, so the deployment runs %d shards, not %d: give --shards the count ingest and workers were started with", live, top, top+1, given-1, top+1, given)}
	}
	return nil
}

// Refusal is a reshard step refused, with its reason.
type Refusal struct {
	Reason RefusalReason
	Detail string
}

func (r *Refusal) Error() string { return "reshard refused (" + string(r.Reason) + "): " + r.Detail }

// ReshardPlan is what a reshard does: the layout it writes, the old shards
// it seals and the new shards it opens (sealing before opening).
type ReshardPlan struct {
	Current Layout `json:"current"`
	Next    Layout `json:"next"`
	// Resume: Current is already this reshard under way (an earlier run
	// stopped before finishing); the markers are written again (idempotent).
	Resume bool  `json:"resume"`
	Seal   []int `json:"seal"`
	Open   []int `json:"open"`
}

// PlanReshard decides a reshard of cur to shards at now: refused when
// shards is out of range, equal to a stable cur, or cur is moving to
// another count; resumed when cur is moving to shards already.
func PlanReshard(cur Layout, shards int, now time.Time) (ReshardPlan, error) {
	if shards < 1 || shards > MaxShards {
		return ReshardPlan{}, &Refusal{RefusedInvalidCount, fmt.Sprintf("shard count %d is not in 1..%d", shards, MaxShards)}
	}
	if cur.State == Moving {
		if cur.Shards != shards || cur.From == nil {
			from := 0
			if cur.From != nil {
				from = cur.From.Shards
			}
			return ReshardPlan{}, &Refusal{RefusedInProgress, fmt.Sprintf("a reshard from %d to %d shards (epoch %d) is under way: finish it first (reshard --to %d)", from, cur.Shards, cur.Epoch, cur.Shards)}
		}
		return ReshardPlan{Current: cur, Next: cur, Resume: true, Seal: seq(cur.From.Shards), Open: seq(cur.Shards)}, nil
	}
	if cur.Shards == shards {
		return ReshardPlan{}, &Refusal{RefusedSameCount, fmt.Sprintf("the layout already has %d shards (epoch %d)", shards, cur.Epoch)}
	}
	from := PastLayout{Epoch: cur.Epoch, Shards: cur.Shards, EndedAt: now.UTC()}
	hist := []PastLayout{from}
	for _, p := range cur.History {
		if len(hist) < historyKeep && now.Sub(p.EndedAt) <= DefaultRetention {
			hist = append(hist, p)
		}
	}
	next := Layout{Epoch: cur.Epoch + 1, Shards: shards, State: Moving, From: &from, History: hist, StartedAt: now.UTC()}
	return ReshardPlan{Current: cur, Next: next, Seal: seq(cur.Shards), Open: seq(shards)}, nil
}

// FinishReshard is the stable layout that ends cur's reshard once remaining
// (tasks of moved sessions left in old queues) is 0.
func FinishReshard(cur Layout, remaining int, now time.Time) (Layout, error) {
	if cur.State != Moving {
		return Layout{}, &Refusal{RefusedNotMoving, fmt.Sprintf("no reshard under way (epoch %d, %d shards, stable)", cur.Epoch, cur.Shards)}
	}
	if remaining > 0 {
		return Layout{}, &Refusal{RefusedNotDrained, fmt.Sprintf("%d task(s) of moved sessions are still in the old queues", remaining)}
	}
	next := cur
	next.State = Stable
	next.From = nil
	next.FinishedAt = now.UTC()
	return next, nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// Marker is a shard queue's layout marker: the epoch it belongs to and
// whether it takes tasks of that epoch (open) or only refuses older ones
// (sealed, the first step of a reshard).
type Marker struct {
	Epoch int64
	Open  bool
}

// String is the marker's stored form, "<epoch>|open" or "<epoch>|sealed".
func (m Marker) String() string {
	if m.Open {
		return strconv.FormatInt(m.Epoch, 10) + "|open"
	}
	return strconv.FormatInt(m.Epoch, 10) + "|sealed"
}

// ParseMarker reads a stored marker; "" (no marker) is epoch 0, open.
func ParseMarker(v string) (Marker, error) {
	if v == "" {
		return Marker{Epoch: 0, Open: true}, nil
	}
	e, st, ok := strings.Cut(v, "|")
	n, err := strconv.ParseInt(e, 10, 64)
	if !ok || err != nil || n < 0 || (st != "open" && st != "sealed") {
		return Marker{}, fmt.Errorf("queue: bad shard marker %q", v)
	}
	return Marker{Epoch: n, Open: st == "open"}, nil
}

// Before orders markers: a lower epoch, or the same epoch sealed before open.
// A marker is only ever raised (see raiseMarkerScript).
func (m Marker) Before(o Marker) bool {
	return m.Epoch < o.Epoch || (m.Epoch == o.Epoch && !m.Open && o.Open)
}

// Admit is the enqueue script's decision (mirrored here for tests and
// documentation) for a client on epoch client writing to a shard with
// marker m.
func (m Marker) Admit(client int64) Admission {
	switch {
	case client < m.Epoch:
		return AdmitStale
	case client > m.Epoch || !m.Open:
		return AdmitNotOpen
	}
	return AdmitOK
}

// Admission is whether a shard takes a client's task.
type Admission int

const (
	AdmitOK      Admission = iota
	AdmitStale             // the client's layout is older: reload it, map again
	AdmitNotOpen           // the shard is not open for the client's epoch yet: wait
)
