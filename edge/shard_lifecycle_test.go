package edge_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// TestShardedEdgeLifecycle: a native edge against a control plane serving
// 16 shards loads every shard, accepts a signed request, takes a new
// installation and a revocation (one shard each), and serves GET /config
// as one whole configuration.
func TestShardedEdgeLifecycle(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	first := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCPShards(t, env, edgeKey, "", nil, 16)
	ing := newIngest(t, attKey)
	h, srv, _ := startEdge(t, cp.addr, edgeKey, attKey, ing.srv.URL, true)
	eventually(t, wait, "every shard loaded", func() string {
		if !h.Ready() {
			return "not ready"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.WaitVersion(ctx, func(v string) bool { return v == cp.c.LatestVersion() }); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1", true)); code != 200 {
		t.Fatalf("signed request: %d %s", code, body)
	}
	second := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-2"))
	eventually(t, wait, "new installation accepted", expect(t, srv.URL, second.IngressID, "slack-secret-2", 200, ""))
	env.Revoke(t, second.ID)
	eventually(t, wait, "revoked installation refused", expect(t, srv.URL, second.IngressID, "slack-secret-2", 403, "revoked"))
	if code, body := do(t, slackRequest(t, srv.URL, first.IngressID, "slack-secret-1", false)); code != 200 {
		t.Fatalf("first installation after the changes: %d %s", code, body)
	}
	if err := h.WaitVersion(ctx, func(v string) bool { return v == cp.c.LatestVersion() }); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	e, err := filter.Load(rec.Body.Bytes(), edgeKey)
	if err != nil || e.Len() != 2 || e.Version() != h.Version() {
		t.Fatalf("GET /config: %v (%d entries, version %q, in force %q)", err, e.Len(), e.Version(), h.Version())
	}
}
