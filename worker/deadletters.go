package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
)

// DeadLetter is an archived task: an event that failed its last attempt (or
// failed permanently). Asynq keeps at most 10,000 per queue, for 90 days.
type DeadLetter struct {
	ID             string    `json:"id"`
	Queue          string    `json:"queue"`
	Shard          int       `json:"shard"`
	Provider       string    `json:"provider"`
	OrgID          string    `json:"org_id"`
	InstallationID string    `json:"installation_id"`
	AgentID        string    `json:"agent_id"`
	EventID        string    `json:"event_id"`
	Seq            int64     `json:"seq"`
	LastError      string    `json:"last_error"`
	FailedAt       time.Time `json:"failed_at"`
}

// ErrRemovedQueue is returned by Replay for a dead letter in a shard queue
// a finished reshard removed: no worker consumes it any more.
var ErrRemovedQueue = errors.New("the dead letter is in a shard queue the layout removed (no worker consumes it)")

// ErrNoDeadLetter is returned by Replay when no shard queue holds an archived
// task with that id.
var ErrNoDeadLetter = errors.New("no dead letter with that id")

// DeadLetters lists the archived tasks of every shard queue, oldest shard first.
func DeadLetters(ctx context.Context, rdb redis.UniversalClient, shards int) ([]DeadLetter, error) {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var out []DeadLetter
	for s := 0; s < shards; s++ {
		q := queue.QueueName(s)
		for page := 1; ; page++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tasks, err := insp.ListArchivedTasks(q, asynq.Page(page), asynq.PageSize(500))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("list dead letters of %s: %w", q, err)
			}
			for _, t := range tasks {
				d := DeadLetter{ID: t.ID, Queue: q, Shard: s, LastError: t.LastErr, FailedAt: t.LastFailedAt}
				if env, err := envelope.Decode(t.Payload); err == nil {
					d.Provider, d.OrgID, d.InstallationID, d.AgentID, d.EventID, d.Seq =
						env.Provider, env.OrgID, env.InstallationID, env.AgentID, env.EventID, env.Seq
				}
				out = append(out, d)
			}
			if len(tasks) < 500 {
				break
			}
		}
	}
	return out, nil
}

// Replay puts the dead letter id back in its queue with a fresh set of
// attempts. It runs out of its session's order (the session moved on when it
// was dead-lettered) and resumes where it stopped: an agent that already
// received it is not called again, only the unsent replies are sent.
func Replay(ctx context.Context, rdb redis.UniversalClient, shards int, id string) error {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for s := 0; s < shards; s++ {
		q := queue.QueueName(s)
		info, err := insp.GetTaskInfo(q, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		if info.State != asynq.TaskStateArchived {
			return fmt.Errorf("replay %s: task is %s, not a dead letter", id, info.State)
		}
		lay, _, err := queue.ReadLayout(ctx, rdb, shards)
		if err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		if s >= lay.LeaseShards() {
			return fmt.Errorf("replay %s: %w (%s; the layout has %d shards)", id, ErrRemovedQueue, q, lay.Shards)
		}
		if _, err := envelope.Decode(info.Payload); err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		if err := rdb.HDel(ctx, queue.ProgressKeyIn(s, id), "attempts").Err(); err != nil {
			return fmt.Errorf("replay %s: reset attempts: %w", id, err)
		}
		if err := insp.RunTask(q, id); err != nil {
			return fmt.Errorf("replay %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("replay %s: %w", id, ErrNoDeadLetter)
}
