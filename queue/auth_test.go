package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/redisconf"
	"github.com/switchboard-dev/switchboard/servicetest"
)

// TestClientWithPassword: the sequence scripts and Asynq's enqueue both go
// through the authenticated connection; without the password both fail.
func TestClientWithPassword(t *testing.T) {
	const pw = "queue-test-password"
	r := servicetest.StartRedisWithPassword(t, pw)
	ctx := context.Background()

	o, err := redisconf.Parse(r.Addr, pw)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Client{
		"options": NewClient("", 2, WithRedisOptions(o)),
		"url":     NewClient("redis://:"+pw+"@"+r.Addr, 2),
	} {
		if err := c.Enqueue(ctx, testEnvelope("c-"+name, "e1")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := c.Enqueue(ctx, testEnvelope("c-"+name, "e1")); err != ErrDuplicate {
			t.Errorf("%s: second enqueue = %v, want ErrDuplicate", name, err)
		}
		c.Close()
	}
	c := NewClient(r.Addr, 2)
	defer c.Close()
	if err := c.Enqueue(ctx, testEnvelope("c-none", "e1")); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("without the password: %v, want NOAUTH", err)
	}
	bad := NewClient("redis://:"+pw+"@h:1/notadb", 2)
	defer bad.Close()
	if err := bad.Enqueue(ctx, testEnvelope("c-bad", "e1")); err == nil || strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "database number") {
		t.Errorf("bad address: %v, want a redacted parse error", err)
	}
}
