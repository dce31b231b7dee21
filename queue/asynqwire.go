package queue

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// asynqTimeout is the task timeout Asynq's client gives a task enqueued with
// neither a timeout nor a deadline (its defaultTimeout); the worker holds a
// task for less than that.
const asynqTimeout = 30 * time.Minute

// encodeAsynqTask is the Asynq TaskMessage (asynq's internal/proto/asynq.proto,
// protobuf, proto3: zero fields omitted) that asynq.Client.Enqueue writes into
// the task hash's "msg" field for a task with this type, payload, id, queue,
// retry ceiling and retention, and no timeout or deadline option (so the
// default timeout, deadline 0). Enqueue writes it itself so that the sequence
// number and the task go to Redis in one script; TestOneScriptTaskIsAsynqTask
// checks it against a real Asynq server and Asynq's own inspector.
//
//	message TaskMessage {
//	  string type = 1; bytes payload = 2; string id = 3; string queue = 4;
//	  int32 retry = 5; int64 timeout = 8; int64 deadline = 9; int64 retention = 12; ...
//	}
func encodeAsynqTask(typ string, payload []byte, id, queue string, retry int, retention time.Duration) []byte {
	b := make([]byte, 0, len(payload)+len(typ)+len(id)+len(queue)+32)
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, typ)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, payload)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, 4, protowire.BytesType)
	b = protowire.AppendString(b, queue)
	if retry != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(retry))))
	}
	b = protowire.AppendTag(b, 8, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(asynqTimeout.Seconds())))
	if s := int64(retention.Seconds()); s != 0 {
		b = protowire.AppendTag(b, 12, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(s))
	}
	return b
}
