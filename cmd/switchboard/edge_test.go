package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
)

func apiCall(t *testing.T, method, url, token string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, raw)
	}
	return out
}

// TestEdgeThroughAPI is the "done when": an installation created
// through the binding API is accepted by a running native edge within one
// second, and refused within one second after it is revoked through the API.
func TestEdgeThroughAPI(t *testing.T) {
	edgeKey, attKey := make([]byte, 32), make([]byte, 32)
	for i := range edgeKey {
		edgeKey[i], attKey[i] = byte(i+1), byte(100+i)
	}
	admin := "sbt_" + strings.Repeat("a", 40)
	t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
	t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
	t.Setenv("SWITCHBOARD_STORE", "")
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", admin)
	t.Setenv("SWITCHBOARD_EDGE_KEY", base64.StdEncoding.EncodeToString(edgeKey))
	t.Setenv("SWITCHBOARD_ATTESTATION_KEY", base64.StdEncoding.EncodeToString(attKey))

	var forwarded atomic.Int64
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := filter.VerifyAttestation(attKey, r.Header.Get, body, time.Now().Unix(), 60); err != nil {
			w.WriteHeader(401)
			return
		}
		forwarded.Add(1)
		w.WriteHeader(200)
	}))
	defer ingest.Close()

	dir := filepath.Join(t.TempDir(), "data")
	base, out, _ := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", dir, "--xds-listen", "127.0.0.1:0", "--initial-stage", "on")
	m := regexp.MustCompile(`xDS \(ADS\) listening on (\S+);`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no xDS address printed:\n%s", out.String())
	}
	xdsAddr := m[1]

	// Without a node certificate (and without --insecure-xds) the edge
	// does not start; `certs issue` makes one from serve's private CA.
	if err := runEdge(context.Background(), []string{"--xds", xdsAddr, "--ingest", ingest.URL}, func(k string) string {
		return map[string]string{"SWITCHBOARD_EDGE_KEY": base64.StdEncoding.EncodeToString(edgeKey), "SWITCHBOARD_ATTESTATION_KEY": base64.StdEncoding.EncodeToString(attKey)}[k]
	}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--insecure-xds") {
		t.Fatalf("edge without a certificate: %v", err)
	}
	certDir := filepath.Join(t.TempDir(), "certs")
	certOut := &syncBuffer{}
	if err := certsMain([]string{"issue", "--data-dir", dir, "--node", "edge-test", "--out", certDir}, certOut, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(certDir, "edge-test.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("node key mode: %v %v", st, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	edgeOut := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runEdge(ctx, []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--xds", xdsAddr,
			"--ingest", ingest.URL, "--xds-cert", filepath.Join(certDir, "edge-test.crt"), "--xds-key", filepath.Join(certDir, "edge-test.key"),
			"--xds-ca", filepath.Join(certDir, "ca.crt")}, func(k string) string {
			switch k {
			case "SWITCHBOARD_EDGE_KEY":
				return base64.StdEncoding.EncodeToString(edgeKey)
			case "SWITCHBOARD_ATTESTATION_KEY":
				return base64.StdEncoding.EncodeToString(attKey)
			}
			return ""
		}, edgeOut, &syncBuffer{})
	}()
	defer func() { cancel(); <-done }()
	edgeRe := regexp.MustCompile(`listening on (http://\S+)/v1/hooks/; admin on (http://\S+);`)
	var edgeURL, adminURL string
	deadline := time.Now().Add(10 * time.Second)
	for edgeURL == "" {
		if mm := edgeRe.FindStringSubmatch(edgeOut.String()); mm != nil {
			edgeURL, adminURL = mm[1], mm[2]
		} else if time.Now().After(deadline) {
			t.Fatalf("edge did not start: %s", edgeOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	const secret = "0123456789abcdef0123456789abcdef"
	org := apiCall(t, "POST", base+"/v1/orgs", admin, map[string]any{"name": "Acme"})
	prof := apiCall(t, "POST", base+"/v1/profiles", admin, map[string]any{"org_id": org["id"], "provider": "slack",
		"name": "Acme Slack", "external_app_id": "A1", "secrets": map[string]string{"signing": secret}})
	sendWith := func(ingress, secret string) (int, string) {
		body := []byte(`{"type":"event_callback","event_id":"Ev1","team_id":"T1"}`)
		req, _ := http.NewRequest("POST", edgeURL+"/v1/hooks/slack/"+ingress, bytes.NewReader(body))
		for _, kv := range sign.Slack(secret, time.Now().Unix(), body) {
			req.Header.Add(kv[0], kv[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	send := func(ingress string) (int, string) { return sendWith(ingress, secret) }
	within := func(what string, d time.Duration, ok func() (bool, string)) {
		t.Helper()
		start := time.Now()
		for {
			good, last := ok()
			if good {
				t.Logf("%s after %v", what, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > d {
				t.Fatalf("%s not within %v (last: %s)", what, d, last)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	inst := apiCall(t, "POST", base+"/v1/installations", admin, map[string]any{"org_id": org["id"], "profile_id": prof["id"],
		"provider": "slack", "external_id": "T1"})
	ingress, _ := inst["ingress_id"].(string)
	within("created installation accepted", time.Second, func() (bool, string) {
		code, body := send(ingress)
		return code == 200, body
	})
	if forwarded.Load() == 0 {
		t.Fatal("accepted request did not reach ingest")
	}
	// Rotation through the API: the new secret works within a second, the
	// previous one until its stated time.
	const rotated = "fedcba9876543210fedcba9876543210"
	apiCall(t, "POST", base+"/v1/profiles/"+prof["id"].(string)+"/secrets/signing/rotate", admin, map[string]any{
		"value": rotated, "previous_valid_until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	within("rotated secret accepted", time.Second, func() (bool, string) {
		code, body := sendWith(ingress, rotated)
		return code == 200, body
	})
	if code, body := send(ingress); code != 200 {
		t.Fatalf("previous secret refused inside its window: %d %s", code, body)
	}
	apiCall(t, "POST", base+"/v1/installations/"+inst["id"].(string)+"/revoke", admin, nil)
	within("revoked installation refused", time.Second, func() (bool, string) {
		code, body := send(ingress)
		return code == 403 && strings.Contains(body, "revoked"), body
	})

	// The control plane's view, behind platform-admin auth.
	st := apiCall(t, "GET", base+"/v1/xds/status", admin, nil)
	if nodes, _ := st["nodes"].([]any); len(nodes) != 1 {
		t.Fatalf("xds status nodes: %v", st)
	}
	req, _ := http.NewRequest("GET", base+"/v1/xds/status", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("unauthenticated xds status: %v %v", resp, err)
	}
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(mb), `switchboard_edge_requests_total{decision="reject",provider="slack",reason="revoked"}`) {
		t.Fatalf("edge metrics lack the revoked counter:\n%s", mb)
	}
}
