package edge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// What the edge forwards of an accepted request: no Expect (the body is
// already read, and ingest's own 100 Continue would reach the client as a
// second one) and no underscore spelling of a trusted header.
func TestForwardedHeaders(t *testing.T) {
	env := xdstest.NewEnv(t)
	edgeKey, attKey := xdstest.Key(), xdstest.Key()
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("slack-secret-1"))
	cp := startCP(t, env, edgeKey, "")
	var mu sync.Mutex
	var got http.Header
	ing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(200)
	}))
	t.Cleanup(ing.Close)
	h, srv, _ := startEdge(t, cp.addr, edgeKey, attKey, ing.URL, true)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.WaitVersion(ctx, func(v string) bool { return v != "" }); err != nil {
		t.Fatal(err)
	}
	req := slackRequest(t, srv.URL, inst.IngressID, "slack-secret-1", false)
	req.Header.Set("Expect", "100-continue")
	req.Header["X_switchboard_org"] = []string{"org_evil"}
	if code, body := do(t, req); code != 200 {
		t.Fatalf("signed request: %d %s", code, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if got == nil {
		t.Fatal("nothing reached ingest")
	}
	if v := got.Get("Expect"); v != "" {
		t.Errorf("ingest received Expect: %q", v)
	}
	if v := got.Values("X_switchboard_org"); len(v) != 0 {
		t.Errorf("ingest received X_switchboard_org: %q", v)
	}
	if got.Get("X-Switchboard-Org") != org {
		t.Errorf("ingest received org %q, want %q", got.Get("X-Switchboard-Org"), org)
	}
}
