package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/testevent"
)

// TestOrgRateLimitThroughStack: a rate limit set through the API (the
// platform token) reaches ingest: once organisation A's bucket is empty, its
// signed webhooks are answered 429 rate_limited with Retry-After through the
// edge, and are not delivered; organisation B's are accepted and delivered
// meanwhile; every A webhook answered 200 is delivered.
func TestOrgRateLimitThroughStack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end stack test (-short)")
	}
	s := startStack(t)
	c, ctx := s.admin(), context.Background()
	orgA := s.call("POST", "/v1/orgs", map[string]any{"name": "Flood"}, 201)["id"].(string)
	orgB := s.call("POST", "/v1/orgs", map[string]any{"name": "Calm"}, 201)["id"].(string)
	agentA := s.call("POST", "/v1/agents", map[string]any{"org_id": orgA, "name": "a", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	agentB := s.call("POST", "/v1/agents", map[string]any{"org_id": orgB, "name": "b", "url": s.agentURL, "signing_secret": s.agentKey}, 201)["id"].(string)
	secA, secB := randHex(16), randHex(16)
	instA := s.newInstall(orgA, agentA, "slack", "A0FLOOD", "T0FLOOD", map[string]string{"signing": secA}, nil, testevent.Credentials{Secret: secA}, "xoxb-flood-"+randHex(8))
	instB := s.newInstall(orgB, agentB, "slack", "A0CALM", "T0CALM", map[string]string{"signing": secB}, nil, testevent.Credentials{Secret: secB}, "xoxb-calm-"+randHex(8))
	s.waitAccepted(instA, "ready", instA.cred, map[string]int{})
	s.waitAccepted(instB, "ready", instB.cred, map[string]int{})

	if _, err := c.SetOrgLimits(ctx, orgA, client.SetOrgLimitsRequest{RatePerSec: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	send := func(in install, text string) (int, string, string) {
		sg := s.signed(s.edge, in, in.event(text), in.cred)
		req, _ := http.NewRequest("POST", sg.URL, bytes.NewReader(sg.Body))
		for _, h := range sg.Headers {
			req.Header.Add(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", sg.URL, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var v struct {
			Error string `json:"error"`
		}
		json.Unmarshal(raw, &v)
		return resp.StatusCode, v.Error, resp.Header.Get("Retry-After")
	}
	var accepted, limited []string
	for i := 0; i < 100 && len(limited) == 0; i++ {
		text := "flood " + strconv.Itoa(i) + " " + randHex(4)
		switch code, reason, ra := send(instA, text); {
		case code == 200:
			accepted = append(accepted, text)
		case code == 429 && reason == "rate_limited":
			if n, err := strconv.Atoi(ra); err != nil || n < 1 {
				t.Fatalf("429 with Retry-After %q", ra)
			}
			limited = append(limited, text)
		default:
			t.Fatalf("org A webhook %d: %d %s", i, code, reason)
		}
	}
	if len(limited) == 0 {
		t.Fatalf("100 back-to-back webhooks of an organisation limited to 1/s (burst 1) were all accepted")
	}
	calm := "calm " + randHex(4)
	if code, reason, _ := send(instB, calm); code != 200 {
		t.Fatalf("org B while org A is rate-limited: %d %s", code, reason)
	}
	s.waitDelivered(calm, 30*time.Second)
	for _, text := range accepted {
		s.waitDelivered(text, 30*time.Second)
	}
	for _, d := range s.received() {
		for _, text := range limited {
			if d.Envelope.Text == text {
				t.Fatalf("a webhook answered 429 was delivered: %q", text)
			}
		}
	}
	// Cleared, the organisation is served again at once.
	if _, err := c.SetOrgLimits(ctx, orgA, client.SetOrgLimitsRequest{}); err != nil {
		t.Fatal(err)
	}
	after := "after " + randHex(4)
	if code, reason, _ := send(instA, after); code != 200 {
		t.Fatalf("org A after its limit was cleared: %d %s", code, reason)
	}
	s.waitDelivered(after, 30*time.Second)
	s.checkLogsHoldNoSecret()
}
