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

	"github.com/switchboard-dev/switchboard/apitest"
	"github.com/switchboard-dev/switchboard/cli"
	"github.com/switchboard-dev/switchboard/client"
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

// TestSendTestUnknownIngressAtOnce: an ingress id that no installation of
// the API has is said at once (one request to the edge, no resending).
func TestSendTestUnknownIngressAtOnce(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	var posts atomic.Int32
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(404)
		w.Write([]byte(`{"error":"unknown_ingress"}`))
	}))
	defer edge.Close()
	srv := apitest.New(t)
	t.Setenv(cli.EnvAPI, srv.URL)
	t.Setenv(cli.EnvToken, srv.Admin)
	var out bytes.Buffer
	err := sendTest(context.Background(), []string{"--edge", edge.URL, "--provider", "slack", "--ingress-id", "0123456789abcdef0123456789abcdef",
		"--secret", secret, "--wait-config", "1h"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown ingress id 0123456789abcdef0123456789abcdef") {
		t.Fatalf("unknown ingress: %v\n%s", err, out.String())
	}
	if n := posts.Load(); n != 1 {
		t.Fatalf("the edge got %d requests, want 1 (no resending)", n)
	}
}

// TestSendTestFindsInstallationByAccount: without --ingress-id, the
// installation of --provider whose external id is --account is looked up.
func TestSendTestFindsInstallationByAccount(t *testing.T) {
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	srv := apitest.New(t)
	c, _ := client.New(srv.URL, srv.Admin)
	ctx := context.Background()
	org, err := c.CreateOrg(ctx, client.CreateOrgRequest{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	prof, err := c.CreateProfile(ctx, client.CreateProfileRequest{OrgID: org.ID, Provider: "slack", Name: "s", Secrets: map[string]string{"signing": secret}})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := c.CreateInstallation(ctx, client.CreateInstallationRequest{OrgID: org.ID, ProfileID: prof.ID, ExternalID: "T42"})
	if err != nil {
		t.Fatal(err)
	}
	var path atomic.Value
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { path.Store(r.URL.Path) }))
	defer edge.Close()
	t.Setenv(cli.EnvAPI, srv.URL)
	t.Setenv(cli.EnvToken, srv.Admin)
	var out bytes.Buffer
	if err := sendTest(ctx, []string{"--edge", edge.URL, "--provider", "slack", "--account", "T42", "--secret", secret}, &out, io.Discard); err != nil {
		t.Fatalf("send-test --account: %v\n%s", err, out.String())
	}
	if p, _ := path.Load().(string); p != inst.WebhookPath {
		t.Fatalf("posted to %q, want %q", p, inst.WebhookPath)
	}
	err = sendTest(ctx, []string{"--edge", edge.URL, "--provider", "slack", "--account", "T999", "--secret", secret}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no live slack installation has external id T999") {
		t.Fatalf("unknown account: %v", err)
	}
}
