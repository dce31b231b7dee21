package edge

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/xds"
)

// shardedResponse is an ECDS response holding the named resources of a
// sharded build of insts (k shards).
func shardedResponse(t *testing.T, edgeKey []byte, k int, version string, insts []filter.Installation, names ...string) *discovery.DiscoveryResponse {
	t.Helper()
	res, err := xds.BuildResources(filter.Config{Installations: insts}, xds.ResourceOptions{IngestAddress: "127.0.0.1:1", Shards: k})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	resp := &discovery.DiscoveryResponse{VersionInfo: version, TypeUrl: resource.ExtensionConfigType}
	for _, r := range res[resource.ExtensionConfigType] {
		ext := r.(*corev3.TypedExtensionConfig)
		if !want[ext.GetName()] {
			continue
		}
		a, err := anypb.New(ext)
		if err != nil {
			t.Fatal(err)
		}
		resp.Resources = append(resp.Resources, a)
	}
	if len(resp.Resources) != len(names) {
		t.Fatalf("built %d of %v", len(resp.Resources), names)
	}
	return resp
}

func slackInstallation(t *testing.T, edgeKey []byte, ingress, secret string) filter.Installation {
	t.Helper()
	sealed, err := filter.Seal(edgeKey, []byte(secret), filter.SealAAD(ingress, "sec_"+ingress[:6]))
	if err != nil {
		t.Fatal(err)
	}
	return filter.Installation{IngressID: ingress, Provider: "slack", Scheme: filter.SchemeSlackV0, OrgID: "org_" + ingress[:6],
		InstallationID: "inst_" + ingress[:6], ProfileID: "prof_" + ingress[:6],
		Secrets: []filter.Secret{{ID: "sec_" + ingress[:6], Purpose: filter.PurposeSigning, Sealed: sealed}}}
}

// TestEdgeRefusesRequestWhoseShardIsNotLoaded: a native edge holding the
// manifest and some shards decides requests of the loaded shards and
// refuses every other with 503 shard_not_loaded, never passing one to
// ingest; a response it cannot load in full changes nothing (NACK).
func TestEdgeRefusesRequestWhoseShardIsNotLoaded(t *testing.T) {
	const k = 4
	edgeKey, attKey := bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{4}, 32)
	forwarded := 0
	ing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { forwarded++ }))
	defer ing.Close()
	u, _ := url.Parse(ing.URL)
	h, err := New(Config{ControlPlane: "127.0.0.1:1", NodeID: "edge-shards", EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Installations in every shard.
	var insts []filter.Installation
	byShard := map[int]filter.Installation{}
	for i := 1; len(byShard) < k; i++ {
		id := fmt.Sprintf("%032x", i*7919)
		if _, ok := byShard[filter.ShardOf(id, k)]; ok {
			continue
		}
		in := slackInstallation(t, edgeKey, id, "secret-"+id[:6])
		byShard[filter.ShardOf(id, k)] = in
		insts = append(insts, in)
	}
	loaded, missing := byShard[1], byShard[2]
	post := func(in filter.Installation, secret string) (int, string) {
		body := []byte(`{"type":"event_callback","event_id":"Ev1","team_id":"T1"}`)
		req := httptest.NewRequest("POST", "/v1/hooks/slack/"+in.IngressID, bytes.NewReader(body))
		for _, kv := range sign.Slack(secret, time.Now().Unix(), body) {
			req.Header.Add(kv[0], kv[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	// The manifest and shards 0 and 1 of 4.
	if err := h.apply(shardedResponse(t, edgeKey, k, "v1", insts, xds.FilterName, xds.ShardName(k, 0), xds.ShardName(k, 1))); err != nil {
		t.Fatal(err)
	}
	if h.Ready() || h.Version() != "v1" {
		t.Fatalf("ready %v with 2 of 4 shards, version %q", h.Ready(), h.Version())
	}
	if got := strings.Join(h.resourceNamesLocked(), ","); got != strings.Join(append([]string{xds.FilterName}, xds.ShardNames(k)...), ",") {
		t.Fatalf("subscribes to %s", got)
	}
	if code, body := post(missing, "secret-"+missing.IngressID[:6]); code != 503 || !strings.Contains(body, string(filter.ReasonShardNotLoaded)) {
		t.Fatalf("request of a shard not loaded: %d %s", code, body)
	}
	if code, body := post(loaded, "wrong"); code != 401 || !strings.Contains(body, "bad_signature") {
		t.Fatalf("forged request of a loaded shard: %d %s", code, body)
	}
	if code, body := post(loaded, "secret-"+loaded.IngressID[:6]); code != 200 {
		t.Fatalf("signed request of a loaded shard: %d %s", code, body)
	}
	if forwarded != 1 {
		t.Fatalf("%d requests reached ingest, want the one accepted", forwarded)
	}
	// A response with a shard of another K is refused whole: nothing changes.
	bad := shardedResponse(t, edgeKey, k, "v2", insts, xds.ShardName(k, 2))
	other := shardedResponse(t, edgeKey, 8, "v2", insts, xds.ShardName(8, 3))
	bad.Resources = append(bad.Resources, other.Resources...)
	if err := h.apply(bad); err == nil {
		t.Fatal("a shard of 8 loaded into a configuration of 4")
	}
	if code, _ := post(missing, "secret-"+missing.IngressID[:6]); code != 503 || h.Version() != "v1" {
		t.Fatalf("after the refused response: %d, version %s", code, h.Version())
	}
	// The other shards: complete, every request decided by its own shard.
	if err := h.apply(shardedResponse(t, edgeKey, k, "v3", insts, xds.ShardName(k, 2), xds.ShardName(k, 3))); err != nil {
		t.Fatal(err)
	}
	if !h.Ready() || h.Version() != "v3" {
		t.Fatalf("ready %v, version %s", h.Ready(), h.Version())
	}
	if code, body := post(missing, "secret-"+missing.IngressID[:6]); code != 200 {
		t.Fatalf("after its shard loaded: %d %s", code, body)
	}
	// GET /config is the whole configuration of the loaded shards.
	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/config", nil))
	e, err := filter.Load(rec.Body.Bytes(), edgeKey)
	if err != nil || e.Len() != k || e.Version() != "v3" {
		t.Fatalf("GET /config: %v (%d entries, %q)", err, e.Len(), e.Version())
	}
}

// TestEdgeKeepsItsConfigurationUntilEveryShardOfANewKIsLoaded: a native
// edge running a whole configuration (or K shards) keeps deciding with it
// while the shards of a new K arrive, and switches once all are loaded.
func TestEdgeKeepsItsConfigurationUntilEveryShardOfANewKIsLoaded(t *testing.T) {
	edgeKey, attKey := bytes.Repeat([]byte{5}, 32), bytes.Repeat([]byte{6}, 32)
	ing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ing.Close()
	u, _ := url.Parse(ing.URL)
	h, err := New(Config{ControlPlane: "127.0.0.1:1", NodeID: "edge-k", EdgeKey: edgeKey, AttestationKey: attKey,
		Ingest: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var insts []filter.Installation
	for i := 1; i <= 12; i++ {
		insts = append(insts, slackInstallation(t, edgeKey, fmt.Sprintf("%032x", i*104729), fmt.Sprintf("secret-%d", i)))
	}
	status := func(in filter.Installation, secret string) int {
		body := []byte(`{"type":"event_callback"}`)
		req := httptest.NewRequest("POST", "/v1/hooks/slack/"+in.IngressID, bytes.NewReader(body))
		for _, kv := range sign.Slack(secret, time.Now().Unix(), body) {
			req.Header.Add(kv[0], kv[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	all := func(want int) {
		t.Helper()
		for i, in := range insts {
			if got := status(in, fmt.Sprintf("secret-%d", i+1)); got != want {
				t.Fatalf("installation %d: %d, want %d (version %s)", i, got, want, h.Version())
			}
		}
	}
	// A whole configuration in force.
	whole := shardedResponse(t, edgeKey, 1, "w1", insts, xds.FilterName)
	if err := h.apply(whole); err != nil {
		t.Fatal(err)
	}
	all(200)
	// The manifest of K = 4 and half the shards: the whole one stays in force.
	if err := h.apply(shardedResponse(t, edgeKey, 4, "s1", insts, xds.FilterName, xds.ShardName(4, 0), xds.ShardName(4, 1))); err != nil {
		t.Fatal(err)
	}
	if h.Version() != "w1" {
		t.Fatalf("in force %s while shards of 4 are missing", h.Version())
	}
	all(200)
	if got := h.resourceNamesLocked(); len(got) != 5 {
		t.Fatalf("subscribes to %v", got)
	}
	// The rest: the shards come into force.
	if err := h.apply(shardedResponse(t, edgeKey, 4, "s1", insts, xds.ShardName(4, 2), xds.ShardName(4, 3))); err != nil {
		t.Fatal(err)
	}
	if h.Version() != "s1" || !h.Ready() {
		t.Fatalf("version %s, ready %v", h.Version(), h.Ready())
	}
	all(200)
	// K = 8 replacing K = 4: the 4 stay until every shard of 8 is here.
	if err := h.apply(shardedResponse(t, edgeKey, 8, "e1", insts, xds.FilterName, xds.ShardName(8, 5))); err != nil {
		t.Fatal(err)
	}
	if h.Version() != "s1" {
		t.Fatalf("in force %s while shards of 8 are missing", h.Version())
	}
	all(200)
	names := append([]string{xds.FilterName}, xds.ShardNames(8)...)
	if err := h.apply(shardedResponse(t, edgeKey, 8, "e1", insts, names[1:]...)); err != nil {
		t.Fatal(err)
	}
	if h.Version() != "e1" {
		t.Fatalf("version %s after every shard of 8", h.Version())
	}
	all(200)
	// Back to a whole configuration: in force at once.
	if err := h.apply(whole); err != nil {
		t.Fatal(err)
	}
	if h.Version() != "w1" || len(h.resourceNamesLocked()) != 1 {
		t.Fatalf("version %s, names %v", h.Version(), h.resourceNamesLocked())
	}
	all(200)
}
