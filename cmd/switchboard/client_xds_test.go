package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/client"
)

// TestClientXDSGroups drives the xDS routes serve mounts with HandlePlatform
// through the typed client (client's TestRoutesCovered names this test):
// holding and promoting a group, and a refusal naming its field.
func TestClientXDSGroups(t *testing.T) {
	t.Setenv("SWITCHBOARD_MASTER_KEYS", "")
	t.Setenv("SWITCHBOARD_MASTER_KEY_FILE", "")
	t.Setenv("SWITCHBOARD_STORE", "")
	t.Setenv("SWITCHBOARD_EDGE_KEY", "")
	const tok = "env-admin-token-client-0123456789abc"
	t.Setenv("SWITCHBOARD_ADMIN_TOKEN", tok)
	base, _, _ := startServe(t, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	c, err := client.New(base, tok)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var st client.XDSStatus
	for deadline := time.Now().Add(10 * time.Second); st.LatestVersion == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err = c.XDSStatus(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st.LatestVersion == "" {
		t.Fatal("no configuration built")
	}
	held, err := c.SetGroupVersion(ctx, "stable", st.LatestVersion)
	if err != nil || held.Pinned["stable"] != st.LatestVersion {
		t.Fatalf("hold stable: %+v, %v", held, err)
	}
	promoted, err := c.SetGroupVersion(ctx, "stable", "")
	if err != nil || promoted.Pinned["stable"] != "" {
		t.Fatalf("promote stable: %+v, %v", promoted, err)
	}
	_, err = c.SetGroupVersion(ctx, "blue", "")
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != client.CodeInvalidField || e.Field != "group" {
		t.Fatalf("unknown group: %v", err)
	}
}
