package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestDeadLettersCommand(t *testing.T) {
	r := servicetest.StartRedis(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := runDeadLetters(ctx, []string{"list", "--redis", r.Addr, "--shards", "4"}, noEnv, &out, &errOut); err != nil {
		t.Fatalf("list: %v %s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "ID") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("empty list output %q", out.String())
	}
	err := runDeadLetters(ctx, []string{"replay", "0123", "--redis", r.Addr}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "no dead letter") {
		t.Fatalf("replay of unknown id: %v", err)
	}
	var ee exitError
	if err := runDeadLetters(ctx, nil, noEnv, &out, &errOut); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("no verb: %v", err)
	}
	if err := runDeadLetters(ctx, []string{"--redis", r.Addr, "bogus"}, noEnv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "unknown verb") {
		t.Fatalf("bad verb: %v", err)
	}
	// The shard count is checked like ingest's and the worker's (0 would divide by zero).
	if err := runDeadLetters(ctx, []string{"list", "--redis", r.Addr, "--shards", "0"}, noEnv, &out, &errOut); err == nil || !strings.Contains(err.Error(), "--shards must be positive") {
		t.Fatalf("--shards 0: %v", err)
	}
}
