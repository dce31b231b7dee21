package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
