package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter/sign"
)

// A fake edge that checks the Slack v0 signature with the one secret it knows.
func slackEdge(t *testing.T, secret string) (*httptest.Server, *[]map[string]any) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(sign.HeaderSlackTimestamp)
		if r.URL.Path != "/v1/hooks/slack/abc123" {
			w.WriteHeader(404)
			w.Write([]byte(`{"error":"unknown_ingress"}`))
			return
		}
		if r.Header.Get(sign.HeaderSlackSignature) != sign.SlackSignature(secret, ts, body) {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"bad_signature"}`))
			return
		}
		var v map[string]any
		json.Unmarshal(body, &v)
		got = append(got, v)
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSendTest(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	srv, got := slackEdge(t, secret)
	base := []string{"--edge", srv.URL, "--provider", "slack", "--ingress-id", "abc123", "--secret", secret}

	var out bytes.Buffer
	err := sendTest(context.Background(), append(base, "--text", "hi there", "--account", "T42"), &out, io.Discard)
	if err != nil {
		t.Fatalf("signed event: %v\n%s", err, out.String())
	}
	if len(*got) != 1 || (*got)[0]["team_id"] != "T42" || (*got)[0]["event"].(map[string]any)["text"] != "hi there" {
		t.Fatalf("edge received %v", *got)
	}
	if !strings.Contains(out.String(), "200 OK") || !strings.Contains(out.String(), "accepted") {
		t.Errorf("output:\n%s", out.String())
	}

	// --forge: refused, exit status 0 because that is what was expected.
	out.Reset()
	if err := sendTest(context.Background(), append(base, "--forge"), &out, io.Discard); err != nil {
		t.Fatalf("forged event: %v\n%s", err, out.String())
	}
	if len(*got) != 1 || !strings.Contains(out.String(), "refused as expected: bad_signature") {
		t.Fatalf("forged: received %d, output:\n%s", len(*got), out.String())
	}

	// A wrong secret without --forge: exit status 1 and the reason.
	out.Reset()
	err = sendTest(context.Background(), []string{"--edge", srv.URL, "--provider", "slack", "--ingress-id", "abc123", "--secret", strings.Repeat("a", 32)}, &out, io.Discard)
	if e, ok := err.(exitError); !ok || e.code != 1 || !strings.Contains(out.String(), "refused: bad_signature") {
		t.Fatalf("wrong secret: err %v, output:\n%s", err, out.String())
	}

	// Flag errors name what is missing.
	for _, args := range [][]string{
		{"--ingress-id", "x", "--secret", "s"},
		{"--provider", "slack", "--secret", "s"},
		{"--provider", "nope", "--ingress-id", "x", "--secret", "s"},
		{"--provider", "discord", "--ingress-id", "x", "--private-key", "zz"},
	} {
		if err := sendTest(context.Background(), append([]string{"--edge", srv.URL}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// A new installation reaches the edge over xDS a moment after the API call:
// send-test resends while the edge answers unknown_ingress, for a bounded
// time, and never resends any other refusal.
func TestSendTestWaitsForConfiguration(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	var calls atomic.Int32
	known := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-known:
			w.WriteHeader(200)
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error":"unknown_ingress"}`))
		}
	}))
	t.Cleanup(srv.Close)
	base := []string{"--edge", srv.URL, "--provider", "slack", "--ingress-id", "abc123", "--secret", secret}

	// Never configured: refused once the wait is over, with the reason.
	var out bytes.Buffer
	err := sendTest(context.Background(), append(base, "--wait-config", "300ms"), &out, io.Discard)
	if e, ok := err.(exitError); !ok || e.code != 1 || !strings.Contains(out.String(), "refused: unknown_ingress") ||
		!strings.Contains(out.String(), "no configuration for this ingress yet") || calls.Load() < 2 {
		t.Fatalf("never configured: err %v after %d requests, output:\n%s", err, calls.Load(), out.String())
	}
	// --wait-config 0: one request, answered at once.
	calls.Store(0)
	out.Reset()
	err = sendTest(context.Background(), append(base, "--wait-config", "0"), &out, io.Discard)
	if e, ok := err.(exitError); !ok || e.code != 1 || calls.Load() != 1 {
		t.Fatalf("--wait-config 0: err %v after %d requests", err, calls.Load())
	}
	// Configured while waiting: accepted.
	calls.Store(0)
	out.Reset()
	go func() {
		for calls.Load() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		close(known)
	}()
	if err := sendTest(context.Background(), append(base, "--wait-config", "30s"), &out, io.Discard); err != nil {
		t.Fatalf("configured while waiting: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "200 OK") || !strings.Contains(out.String(), "accepted") {
		t.Fatalf("output:\n%s", out.String())
	}

	// Any other refusal is answered at once (a wrong secret is not resent).
	bad, _ := slackEdge(t, secret)
	calls.Store(0)
	start := time.Now()
	err = sendTest(context.Background(), []string{"--edge", bad.URL, "--provider", "slack", "--ingress-id", "abc123",
		"--secret", strings.Repeat("a", 32), "--wait-config", "30s"}, io.Discard, io.Discard)
	if e, ok := err.(exitError); !ok || e.code != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("bad signature: err %v after %s", err, time.Since(start))
	}
}
