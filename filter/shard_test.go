package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestShardOfIsStable pins ShardOf: the control plane, the native edge and
// the Wasm filter must agree on every ingress id's shard, release after
// release (a change would put ingress ids in shards their edges do not
// hold: refused shard_not_loaded).
func TestShardOfIsStable(t *testing.T) {
	for _, c := range []struct {
		id      string
		k, want int
	}{
		{"a0000000000000000000000000000001", 64, 39},
		{"a0000000000000000000000000000001", 256, 39},
		{"a0000000000000000000000000000001", 1024, 807},
		{"a0000000000000000000000000000002", 256, 186},
		{"b0000000000000000000000000000001", 1024, 900},
		{"ffffffffffffffffffffffffffffffff", 1024, 581},
		{"b0000000000000000000000000000001", 1, 0},
		{"b0000000000000000000000000000001", 0, 0},
	} {
		if got := ShardOf(c.id, c.k); got != c.want {
			t.Errorf("ShardOf(%s, %d) = %d, want %d", c.id, c.k, got, c.want)
		}
	}
	// Ingress ids are random: 100k of them spread over 1024 shards with no
	// shard above twice the mean (a skewed hash would make one shard's
	// pushes the fleet's).
	counts := make([]int, 1024)
	for i := 0; i < 100_000; i++ {
		counts[ShardOf(fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15), 1024)]++
	}
	for j, n := range counts {
		if n == 0 || n > 2*100_000/1024 {
			t.Fatalf("shard %d holds %d of 100000", j, n)
		}
	}
}

func TestIngressOf(t *testing.T) {
	for _, c := range []struct {
		target, id string
		ok         bool
	}{
		{"/v1/hooks/slack/" + ingSlackA, ingSlackA, true},
		{"/v1/hooks/slack/" + ingSlackA + "?x=1", ingSlackA, true},
		{"/v1/hooks/slack/" + ingSlackA + "/deeper", ingSlackA + "/deeper", true},
		{"/v1/hooks/slack/", "", false},
		{"/v1/hooks/slack", "", false},
		{"/v1/hooks//" + ingSlackA, "", false},
		{"/v1/other/slack/" + ingSlackA, "", false},
		{"", "", false},
	} {
		id, ok := IngressOf(c.target)
		if id != c.id || ok != c.ok {
			t.Errorf("IngressOf(%q) = %q, %v; want %q, %v", c.target, id, ok, c.id, c.ok)
		}
	}
}

// shardJSON is the shard of k holding insts (all of which must belong to it).
func shardJSON(t testing.TB, j, k int, insts ...Installation) []byte {
	t.Helper()
	b, err := json.Marshal(Config{Version: fmt.Sprintf("s%d", j), Shard: j, Shards: k, Installations: insts})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShardConfigValidation(t *testing.T) {
	a := inst(t, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "x"})
	ja := ShardOf(ingSlackA, 64)
	for _, c := range []struct{ name, in, field string }{
		{"installation in another shard", string(shardJSON(t, (ja+1)%64, 64, a)), "installations[0].ingress_id"},
		{"shard beyond shards", `{"shard":64,"shards":64,"installations":[]}`, "shard"},
		{"shard without shards", `{"shard":3,"installations":[]}`, "shards"},
		{"manifest without shards", `{"manifest":true}`, "shards"},
		{"manifest with a shard", `{"manifest":true,"shard":1,"shards":4}`, "shard"},
		{"manifest with installations", `{"manifest":true,"shards":64,"installations":[` + strings.TrimSuffix(strings.TrimPrefix(string(configJSON(t, a)), `{"version":"test-1","installations":[`), `]}`) + `]}`, "installations"},
		{"too many shards", `{"shards":65537,"installations":[]}`, "shards"},
		{"negative shard", `{"shard":-1,"shards":4,"installations":[]}`, "shard"},
		{"manifest not a bool", `{"manifest":1,"shards":4}`, "manifest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.in))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != c.field {
				t.Fatalf("error %v, want a ConfigError on %q", err, c.field)
			}
		})
	}
	e, err := Load(shardJSON(t, ja, 64, a), testEdgeKey)
	if err != nil {
		t.Fatal(err)
	}
	if j, k, m := e.Sharding(); j != ja || k != 64 || m || e.Len() != 1 {
		t.Fatalf("Sharding = %d, %d, %v; %d entries", j, k, m, e.Len())
	}
	m, err := Load([]byte(`{"version":"m","manifest":true,"shards":64}`), testEdgeKey)
	if err != nil {
		t.Fatal(err)
	}
	if j, k, man := m.Sharding(); j != 0 || k != 64 || !man || m.Len() != 0 {
		t.Fatalf("manifest Sharding = %d, %d, %v; %d entries", j, k, man, m.Len())
	}
}

// TestShardSetFailsClosed: a request is decided by its own shard only; one
// whose shard is not loaded is refused shard_not_loaded (503), never passed
// and never decided by another shard.
func TestShardSetFailsClosed(t *testing.T) {
	const k = 4
	// Two ingress ids in different shards.
	idA, idB := ingSlackA, ""
	for i := 1; idB == ""; i++ {
		if id := fmt.Sprintf("a%031x", i+100); ShardOf(id, k) != ShardOf(idA, k) {
			idB = id
		}
	}
	a := inst(t, idA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "secret-a"})
	b := inst(t, idB, "slack", SchemeSlackV0, "org_b", secretSpec{id: "s", purpose: PurposeSigning, plain: "secret-b"})
	load := func(j int, insts ...Installation) *Edge {
		e, err := Load(shardJSON(t, j, k, insts...), testEdgeKey)
		if err != nil {
			t.Fatal(err)
		}
		e.SetAttestationKey(testAttestKey)
		return e
	}
	set := NewShardSet(k)
	set, err := set.With(load(ShardOf(idA, k), a))
	if err != nil {
		t.Fatal(err)
	}
	if set.Loaded() != 1 || set.Complete() || set.Len() != 1 {
		t.Fatalf("loaded %d complete %v len %d", set.Loaded(), set.Complete(), set.Len())
	}
	body := `{"type":"event_callback"}`
	signed := func(id, secret string) *Request {
		return post(hookPath("slack", id), body, "X-Slack-Request-Timestamp", fmt.Sprint(T0), "X-Slack-Signature", slackSig(secret, T0, body))
	}
	decide := func(r *Request) Decision {
		e, d := set.Resolve(r.Path)
		if d != nil {
			return *d
		}
		return e.Decide(r, T0)
	}
	if d := decide(signed(idA, "secret-a")); !d.Accept {
		t.Fatalf("loaded shard: %s", d.JSONLine())
	}
	// b's shard is missing: refused with the typed reason, 503.
	d := decide(signed(idB, "secret-b"))
	if d.Accept || d.Reason != ReasonShardNotLoaded || d.Status != 503 {
		t.Fatalf("missing shard: %s", d.JSONLine())
	}
	// Not a hooks path: unknown_ingress, whatever is loaded.
	if _, d := set.Resolve("/healthz"); d == nil || d.Reason != ReasonUnknownIngress {
		t.Fatalf("not a hooks path: %+v", d)
	}
	// b loaded: accepted; a shard loaded in b's place under the wrong K is refused.
	full, err := set.With(load(ShardOf(idB, k), b))
	if err != nil {
		t.Fatal(err)
	}
	if full.Complete() || full.Loaded() != 2 {
		t.Fatalf("2 of 4 shards loaded: complete %v, loaded %d", full.Complete(), full.Loaded())
	}
	set = full
	if d := decide(signed(idB, "secret-b")); !d.Accept {
		t.Fatalf("b after load: %s", d.JSONLine())
	}
	other, err := Load(shardJSON(t, ShardOf(idB, 8), 8, b), testEdgeKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.With(other); err == nil {
		t.Fatal("a shard of 8 went into a set of 4")
	}
	whole := loadEdge(t, a)
	if _, err := set.With(whole); err == nil {
		t.Fatal("a whole configuration went into a shard set")
	}
	// Without: back to refused.
	set = set.Without(ShardOf(idB, k))
	if d := decide(signed(idB, "secret-b")); d.Reason != ReasonShardNotLoaded {
		t.Fatalf("after Without: %s", d.JSONLine())
	}
	// A whole configuration decides everything itself.
	ws := WholeSet(whole)
	if e, d := ws.Resolve(hookPath("slack", idB)); d != nil || e != whole {
		t.Fatalf("whole set: %v %v", e, d)
	}
	var nilSet *ShardSet
	if _, d := nilSet.Resolve(hookPath("slack", idA)); d == nil || d.Reason != ReasonNoConfig {
		t.Fatalf("nil set: %+v", d)
	}
}

// FuzzIngressOf: never panics; a target it reads names a shard in range
// and is a hooks path whose ingress id follows the provider.
func FuzzIngressOf(f *testing.F) {
	for _, s := range []string{"/v1/hooks/slack/" + ingSlackA, "/v1/hooks/a/b?c", "/v1/hooks//", "/v1/hooks/x/y/z#f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		id, ok := IngressOf(target)
		if !ok {
			if id != "" {
				t.Fatalf("not ok but id %q", id)
			}
			return
		}
		if id == "" || !strings.HasPrefix(target, HooksPrefix) || !strings.Contains(target, "/"+id) {
			t.Fatalf("IngressOf(%q) = %q", target, id)
		}
		if j := ShardOf(id, 1024); j < 0 || j >= 1024 {
			t.Fatalf("shard %d", j)
		}
	})
}
