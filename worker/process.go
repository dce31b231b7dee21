package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provenance"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/store"
)

// waitError sends a task back to the retry set without counting a failure:
// its session's fence is closed, or this worker no longer owns the shard.
type waitError struct {
	delay  time.Duration
	reason string
}

func (e *waitError) Error() string { return "waiting: " + e.reason }

// retryError is a failed attempt to be retried after delay.
type retryError struct {
	delay time.Duration
	err   error
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var w *waitError
	if errors.As(err, &w) {
		return w.delay
	}
	var r *retryError
	if errors.As(err, &r) {
		return r.delay
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

func isFailure(err error) bool {
	var w *waitError
	return !errors.As(err, &w)
}

// permanentError is a failure no retry can fix (revoked agent, missing
// credentials, a provider refusing the request): the event is dead-lettered
// at once.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{fmt.Errorf(format, args...)}
}

// classify turns an outbound or agent error into a permanent one when the
// error says a retry cannot help, and reads the delay it asks for.
func classify(err error) (perm bool, after time.Duration) {
	var p *permanentError
	if errors.As(err, &p) {
		return true, 0
	}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		after = ra.RetryAfter()
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && !tmp.Temporary() {
		return true, 0
	}
	return false, after
}

// backoff is the delay before attempt n+1: BackoffBase * 2^(n-1), capped,
// with ±20% jitter so a burst of failures does not retry in lockstep.
func (p *Pool) backoff(n int) time.Duration {
	d := p.cfg.BackoffBase
	for i := 1; i < n && d < p.cfg.BackoffMax; i++ {
		d *= 2
	}
	if d > p.cfg.BackoffMax {
		d = p.cfg.BackoffMax
	}
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return j
}

// handler processes the tasks of one owned shard.
func (p *Pool) handler(shard int, token string) asynq.HandlerFunc {
	qname := queue.QueueName(shard)
	return func(ctx context.Context, t *asynq.Task) error {
		// Provenance first: a task ingest did not seal touches neither the
		// session's fence nor the agent.
		env, err := envelope.Decode(t.Payload())
		if err != nil {
			return p.refuseHeld(ctx, shard, token, qname, t, envelope.Envelope{}, &provenance.Refusal{Reason: provenance.ReasonUndecoded, Detail: err.Error()})
		}
		if err := p.cfg.Provenance.Verify(env); err != nil {
			return p.refuseHeld(ctx, shard, token, qname, t, env, err)
		}
		if env.Seq <= 0 {
			return fmt.Errorf("%w: envelope %s has no sequence number", asynq.SkipRetry, env.ID)
		}
		// A moved session's task of a reshard's new layout waits for the
		// session's tasks in its old shard before it takes a slot: a wait
		// holds none. (Once drained, an old shard stays drained: it is
		// sealed. A pool on an older layout finds out below.)
		handedOff := int64(-1) // the layout epoch the handoff was checked for
		if lay := p.Layout(); lay.State == queue.Moving {
			if from, ok := lay.HandoffFrom(env.SessionKey, shard); ok {
				if w := p.handoff(ctx, from, env); w != nil {
					return w
				}
				handedOff = lay.Epoch
			}
		}
		// Fairness (fair.go): the organisation's share of the slots.
		leave, err := p.enter(ctx, shard, env)
		if err != nil {
			return err
		}
		defer leave()
		// Fencing (a worker that lost the lease, paused past it, must not
		// process: the new owner will), the session's order and the
		// attempt count, in one round trip. The task's ordering state is in
		// its queue's slot, whatever shard its session maps to now (see
		// queue.Fence.At).
		fence := p.fence.At(shard)
		st, err := fence.Start(ctx, shard, token, env.SessionKey, env.ID, env.Seq)
		if err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		if !st.Holds {
			return &waitError{delay: p.cfg.FenceRetry, reason: "shard lease lost"}
		}
		check := st.Check
		// Start counted an attempt when it said Go or Late; a task that
		// then does not run (a layout to read first, a handoff to wait
		// for) takes it back.
		counted := st.Attempts > 0
		uncount := func() {
			if counted {
				p.rdb.HIncrBy(context.WithoutCancel(ctx), queue.ProgressKeyIn(shard, env.ID), "attempts", -1)
			}
		}
		lay := p.Layout()
		if check.Epoch > lay.Epoch {
			// The shard was resharded past the pool's layout (the task may be
			// a moved session's first of the new epoch): read it now.
			if lay, err = p.reloadLayout(ctx); err != nil {
				uncount()
				return &retryError{delay: p.cfg.FenceRetry, err: err}
			}
			if check.Epoch > lay.Epoch {
				uncount()
				return &waitError{delay: p.cfg.FenceRetry, reason: "shard layout not readable yet"}
			}
		}
		if check, err = p.awaitPredecessor(ctx, shard, token, fence, env, check); err != nil {
			return err
		}
		if w := p.waitGaps(ctx, fence, qname, env, &check); w != nil {
			return w
		}
		if check.Verdict == queue.Done {
			return nil
		}
		if from, ok := lay.HandoffFrom(env.SessionKey, shard); ok && check.Verdict == queue.Go && handedOff != lay.Epoch {
			// A moved session's task of the new layout: its tasks of the old
			// one, in its old shard, go first.
			if w := p.handoff(ctx, from, env); w != nil {
				uncount()
				return w
			}
		}
		if !counted {
			st = queue.Start{} // the verdict came from a re-check: attempt counts
		}
		defer p.sessions.start(env.SessionKey, env.Seq)()
		return p.attempt(ctx, shard, qname, env, st)
	}
}

// refuseHeld refuses a task (see refuse) when this worker still holds the
// shard; a worker that lost it leaves the task to the new owner.
func (p *Pool) refuseHeld(ctx context.Context, shard int, token, qname string, t *asynq.Task, env envelope.Envelope, err error) error {
	holds, herr := p.leases.Holds(ctx, shard, token)
	if herr != nil {
		return &retryError{delay: p.cfg.FenceRetry, err: herr}
	}
	if !holds {
		return &waitError{delay: p.cfg.FenceRetry, reason: "shard lease lost"}
	}
	return p.refuse(ctx, qname, t, env, err)
}

// waitGaps turns a Wait verdict into Go by skipping the gaps the session
// waits on (see mustWait), or returns the wait.
func (p *Pool) waitGaps(ctx context.Context, fence *queue.Fence, qname string, env envelope.Envelope, check *queue.Check) error {
	for i := 0; check.Verdict == queue.Wait; i++ {
		if i == 64 {
			return &waitError{delay: p.cfg.FenceRetry, reason: "many gaps"}
		}
		// A reservation naming this very event (an older release's number
		// for it, whose id key expired before the event took a new one) is
		// never filled by anything else: skip it rather than wait for itself.
		if check.MissingID != env.ID {
			if w := p.mustWait(qname, *check); w != nil {
				return w
			}
		}
		skipped, err := fence.Skip(ctx, env.SessionKey, check.Missing)
		if err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		if skipped { // else the predecessor finished meanwhile
			p.log.Warn("skipped a sequence gap", "queue", qname, "seq", check.Missing, "task", check.MissingID)
		}
		c, err := fence.Check(ctx, env.SessionKey, env.ID, env.Seq)
		if err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		*check = c
	}
	return nil
}

// handoff holds a moved session's task of the new layout until every task
// the session had in its old shard from is done or dead-lettered (that
// shard is sealed: its numbers are final). A gap there is skipped as in the
// session's own queue (see mustWait).
func (p *Pool) handoff(ctx context.Context, from int, env envelope.Envelope) error {
	old := p.fence.At(from)
	oq := queue.QueueName(from)
	for i := 0; ; i++ {
		c, err := old.Drained(ctx, env.SessionKey)
		if err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		if c.Verdict == queue.Go {
			return nil
		}
		if i == 64 {
			return &waitError{delay: p.cfg.FenceRetry, reason: "many gaps in the old shard"}
		}
		if w := p.mustWait(oq, c); w != nil {
			return w
		}
		skipped, err := old.Skip(ctx, env.SessionKey, c.Missing)
		if err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		if skipped { // else the old task finished meanwhile
			p.log.Warn("skipped a sequence gap of a moved session's old shard", "queue", oq, "seq", c.Missing, "task", c.MissingID)
		}
	}
}

// mustWait decides, for a session waiting on sequence number c.Missing,
// whether the task behind that number will still come (wait) or not (nil:
// the caller skips it). Its task is in qname, the queue of the session's
// state that waits.
func (p *Pool) mustWait(qname string, c queue.Check) error {
	if c.MissingID == "" {
		return nil // the reservation is gone: nothing to wait for
	}
	info, err := p.insp.GetTaskInfo(qname, c.MissingID)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		// Reserved but never enqueued: the enqueue is in flight, or it failed
		// and the provider may still retry. Hold the session for GapGrace.
		if p.cfg.Now().Sub(c.ReservedAt) < p.cfg.GapGrace {
			return &waitError{delay: p.cfg.FenceRetry, reason: "predecessor not enqueued yet"}
		}
		return nil
	case err != nil:
		return &retryError{delay: p.cfg.FenceRetry, err: fmt.Errorf("inspect predecessor: %w", err)}
	}
	switch info.State {
	case asynq.TaskStateArchived, asynq.TaskStateCompleted:
		return nil // dead-lettered (e.g. by Asynq's own recoverer) or done
	}
	delay := p.cfg.FenceRetry
	if until := time.Until(info.NextProcessAt); until > delay && (info.State == asynq.TaskStateRetry || info.State == asynq.TaskStateScheduled) {
		// The predecessor sleeps in backoff: wake just after it.
		delay = until + p.cfg.FenceRetry
		if delay > time.Minute {
			delay = time.Minute
		}
	}
	return &waitError{delay: delay, reason: "predecessor " + info.State.String()}
}

// attempt runs one delivery attempt of env and records its outcome.
// st is what the fence's Start said when it counted this attempt
// (Attempts > 0: the attempt number and the progress); else the attempt is
// counted and the progress read here.
func (p *Pool) attempt(ctx context.Context, shard int, qname string, env envelope.Envelope, st queue.Start) error {
	pk := queue.ProgressKeyIn(shard, env.ID)
	fence := p.fence.At(shard)
	n, prog := st.Attempts, st.Progress
	if n == 0 {
		var err error
		if n, err = p.rdb.HIncrBy(ctx, pk, "attempts", 1).Result(); err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		p.rdb.PExpire(ctx, pk, p.cfg.Retention)
		if prog, err = p.rdb.HGetAll(ctx, pk).Result(); err != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: fmt.Errorf("read progress: %w", err)}
		}
	}
	err := p.process(ctx, pk, env, prog)
	if err == nil {
		if err := fence.Complete(ctx, env.SessionKey, env.ID, env.Seq); err != nil {
			// Side effects are done and recorded in the progress hash: the
			// retry only completes the fence.
			return &retryError{delay: p.cfg.FenceRetry, err: err}
		}
		return nil
	}
	perm, after := classify(err)
	log := p.log.With("queue", qname, "task", env.ID, "seq", env.Seq, "attempt", n)
	if perm || int(n) >= p.cfg.Attempts {
		if ferr := fence.Abandon(ctx, env.SessionKey, env.ID, env.Seq); ferr != nil {
			return &retryError{delay: p.cfg.FenceRetry, err: fmt.Errorf("%v (and dead-lettering failed: %w)", err, ferr)}
		}
		log.Warn("dead-lettered", "permanent", perm, "err", err)
		return fmt.Errorf("%w: attempt %d: %v", asynq.SkipRetry, n, err)
	}
	delay := p.backoff(int(n))
	if after > delay {
		delay = after
	}
	log.Info("attempt failed, retrying", "in", delay.Round(time.Millisecond), "err", err)
	return &retryError{delay: delay, err: err}
}

// process delivers env to its agent (unless an earlier attempt did) and sends
// the agent's replies not yet sent. Progress is kept in the hash pk (prog is
// what it held when the attempt started) so a retry neither delivers twice
// nor re-sends a reply. A delivery without replies records nothing here: the
// fence's Complete that follows marks the task done in one step (a failure
// of that one write redelivers, as a failed record of the delivery would).
func (p *Pool) process(ctx context.Context, pk string, env envelope.Envelope, prog map[string]string) error {
	var err error
	var replies []string
	if prog["delivered"] == "1" {
		if err := json.Unmarshal([]byte(prog["replies"]), &replies); err != nil {
			return fmt.Errorf("read progress replies: %w", err)
		}
	} else {
		if replies, err = p.deliver(ctx, env); err != nil {
			return err
		}
		if len(replies) == 0 {
			return nil
		}
		raw, _ := json.Marshal(replies)
		pipe := p.rdb.TxPipeline()
		pipe.HSet(ctx, pk, "delivered", "1", "replies", string(raw), "sent", 0)
		pipe.PExpire(ctx, pk, p.cfg.Retention)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
	}
	sent, _ := strconv.Atoi(prog["sent"])
	for i := sent; i < len(replies); i++ {
		if err := p.sendReply(ctx, env, replies[i]); err != nil {
			return fmt.Errorf("reply %d of %d: %w", i+1, len(replies), err)
		}
		if err := p.rdb.HSet(ctx, pk, "sent", i+1).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("record reply %d: %w", i+1, err)
		}
	}
	return nil
}

// refuse dead-letters a task whose provenance does not verify: archived at
// once (asynq keeps the reason as the task's last error), counted by reason,
// logged and audited as task.refuse. The envelope's claims (org, agent) are
// unverified: the audit event is platform-level and names them as claimed.
func (p *Pool) refuse(ctx context.Context, qname string, t *asynq.Task, env envelope.Envelope, err error) error {
	reason := provenance.ReasonOf(err)
	if reason == "" {
		reason = provenance.ReasonBadSeal
	}
	taskID := ""
	if rw := t.ResultWriter(); rw != nil {
		taskID = rw.TaskID()
	}
	p.refused.WithLabelValues(string(reason)).Inc()
	p.log.Warn("task refused: provenance does not verify, dead-lettering", "queue", qname, "task", taskID, "reason", string(reason))
	detail, _ := json.Marshal(map[string]string{"reason": string(reason), "queue": qname, "worker": p.cfg.ID,
		"claimed_org_id": env.OrgID, "claimed_agent_id": env.AgentID, "claimed_installation_id": env.InstallationID})
	if _, aerr := p.cfg.Store.AppendAudit(ctx, store.AuditEvent{At: p.cfg.Now().UTC(), Actor: "worker", Action: "task.refuse",
		Target: taskID, Detail: string(detail)}); aerr != nil {
		p.log.Error("audit refused task", "task", taskID, "err", aerr)
	}
	return fmt.Errorf("%w: refused: provenance %s", asynq.SkipRetry, reason)
}
