package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/servicetest"
)

// When serve fails after the xDS part has bound its port (here: a bad API
// address), the xDS port is released, not held until the process exits.
func TestServeFailureReleasesXDSPort(t *testing.T) {
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", "")
	addr := "127.0.0.1:" + strconv.Itoa(servicetest.FreePort(t))
	err := serve(context.Background(), []string{"--data-dir", t.TempDir(), "--listen", "256.0.0.1:bad",
		"--xds-listen", addr, "--metrics-listen", "127.0.0.1:0"}, &syncBuffer{}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "256.0.0.1") {
		t.Fatalf("bad listen address: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("xDS port still held after serve failed: %v", err)
	}
	ln.Close()
}

// TestNodeGroupPinThroughAPI: holding and promoting a node group goes
// through the platform API, refuses bad input in the API's error format
// naming the field, and leaves an audit event per change.
func TestNodeGroupPinThroughAPI(t *testing.T) {
	t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
	t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
	t.Setenv("SWITCHBOARD_STORE", "")
	t.Setenv("SWITCHBOARD_EDGE_KEY", "")
	const tok = "env-admin-token-pin-0123456789abcdef"
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", tok)
	base, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())

	put := func(path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("PUT", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	field := func(out map[string]any) string {
		e, _ := out["error"].(map[string]any)
		f, _ := e["field"].(string)
		return f
	}
	for _, tc := range []struct{ path, body, field string }{
		{"/v1/xds/groups/stable", `{}`, "version"},
		{"/v1/xds/groups/stable", `{"version":"e0000000000000000"}`, "version"},
		{"/v1/xds/groups/blue", `{"version":""}`, "group"},
		{"/v1/xds/groups/stable", `{"version":"", "extra":1}`, "extra"},
		{"/v1/xds/groups/stable", `{"version":"", "Version":"e1"}`, "Version"},
	} {
		if s, out := put(tc.path, tc.body); s != 400 || field(out) != tc.field {
			t.Errorf("PUT %s %s: %d %v, want 400 naming %q", tc.path, tc.body, s, out, tc.field)
		}
	}

	var status struct {
		Latest string `json:"latest_version"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for status.Latest == "" && time.Now().Before(deadline) {
		st := apiCall(t, "GET", base+"/v1/xds/status", tok, nil)
		status.Latest, _ = st["latest_version"].(string)
		time.Sleep(20 * time.Millisecond)
	}
	if status.Latest == "" {
		t.Fatal("no configuration built")
	}
	if s, out := put("/v1/xds/groups/stable", `{"version":"`+status.Latest+`"}`); s != 200 {
		t.Fatalf("hold stable: %d %v", s, out)
	}
	if s, out := put("/v1/xds/groups/stable", `{"version":""}`); s != 200 {
		t.Fatalf("promote stable: %d %v", s, out)
	}
	audit := apiCall(t, "GET", base+"/v1/audit", tok, nil)
	var actions []string
	for _, it := range audit["items"].([]any) {
		ev := it.(map[string]any)
		if a := ev["action"].(string); strings.HasPrefix(a, "xds.group.") {
			if ev["actor"] == "" || ev["target"] != "stable" {
				t.Errorf("audit event %v: want an actor and target stable", ev)
			}
			actions = append(actions, a)
		}
	}
	if strings.Join(actions, ",") != "xds.group.hold,xds.group.promote" {
		t.Fatalf("audit actions %v, want hold then promote", actions)
	}
}
