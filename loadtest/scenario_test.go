package loadtest

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const base = `{"name":"t","providers":{"slack":1},"stages":[{"rate":10,"duration":"1s"}],"conversations":1,
 "thresholds":{"edge_p99":"100ms","e2e_p99":"1s"}}`

func TestParseScenarioErrors(t *testing.T) {
	known := func(p string) bool { return p == "slack" || p == "telegram" }
	with := func(old, new string) string { return strings.Replace(base, old, new, 1) }
	cases := []struct{ name, in, err string }{
		{"not json", `{`, "scenario: "},
		{"trailing", base + `{}`, "trailing data"},
		{"unknown field", with(`"name":"t"`, `"name":"t","rps":3`), `unknown field "rps"`},
		{"no name", with(`"name":"t"`, `"name":""`), "scenario name: required"},
		{"no providers", with(`{"slack":1}`, `{}`), "scenario providers: name at least one"},
		{"unknown provider", with(`{"slack":1}`, `{"myspace":1}`), "scenario providers.myspace: unknown"},
		{"zero share", with(`{"slack":1}`, `{"slack":0}`), "providers.slack: share must be a positive number"},
		{"no stages", with(`[{"rate":10,"duration":"1s"}]`, `[]`), "scenario stages: between 1 and 64"},
		{"negative rate", with(`"rate":10`, `"rate":-1`), "stages[0].rate"},
		{"huge rate", with(`"rate":10`, `"rate":1e9`), "stages[0].rate"},
		{"empty stage", with(`"duration":"1s"`, `"duration":"0s"`), "stages[0].duration: a stage lasts"},
		{"bad duration", with(`"duration":"1s"`, `"duration":"soon"`), `duration "soon"`},
		{"duration as number", with(`"duration":"1s"`, `"duration":1`), "want a duration string"},
		{"too long", with(`"duration":"1s"`, `"duration":"7h"`), "at most 6h0m0s"},
		{"share out of range", with(`"conversations":1`, `"conversations":1,"forged_share":1.5`), "forged_share: a fraction"},
		{"no valid traffic left", with(`"conversations":1`, `"conversations":1,"forged_share":0.5,"stale_share":0.5`), "valid traffic must remain"},
		{"no conversations", with(`"conversations":1`, `"conversations":0`), "conversations: between 1"},
		{"cross-tenant needs tenants", with(`"conversations":1`, `"conversations":1,"tenants":1,"cross_tenant_share":0.1`), "needs at least 2 tenants"},
		{"no edge p99", with(`"edge_p99":"100ms",`, ``), "thresholds.edge_p99: required"},
		{"bad ratio", with(`"edge_p99"`, `"valid_2xx_ratio":2,"edge_p99"`), "thresholds.valid_2xx_ratio"},
		{"type error", with(`"conversations":1`, `"conversations":"many"`), "conversations: want a JSON int"},
		{"flood of another provider", with(`"conversations":1`, `"conversations":1,"flood":{"provider":"telegram","factor":10}`), "flood.provider: one of the scenario's providers"},
		{"flood with one tenant", with(`"conversations":1`, `"conversations":1,"tenants":1,"flood":{"provider":"slack","factor":10}`), "a flood needs at least 2 tenants"},
		{"flood of no tenant", with(`"conversations":1`, `"conversations":1,"flood":{"provider":"slack","tenant":2,"factor":10}`), "flood.tenant: between 0 and 1"},
		{"flood without factor", with(`"conversations":1`, `"conversations":1,"flood":{"provider":"slack"}`), "flood.factor"},
		{"flood over the rate bound", strings.Replace(with(`"rate":10`, `"rate":300`), `"conversations":1`, `"conversations":1,"flood":{"provider":"slack","factor":100}`, 1), "with the flood's factor"},
		{"flood body too large", with(`"conversations":1`, `"conversations":1,"flood":{"provider":"slack","factor":1,"body_bytes":2000000}`), "flood.body_bytes: between 0 and 1048576"},
		{"flood unknown field", with(`"conversations":1`, `"conversations":1,"flood":{"provider":"slack","factor":1,"rate":5}`), `unknown field "rate"`},
		{"noisy needs others", with(`"conversations":1`, `"conversations":1,"tenants":1,"noisy":{"weight":10}`), "noisy: needs at least 2 tenants"},
		{"noisy weight", with(`"conversations":1`, `"conversations":1,"noisy":{"weight":0.5}`), "noisy.weight: between 1 and 1000"},
		{"noisy delay", with(`"conversations":1`, `"conversations":1,"noisy":{"agent_delay":"2m"}`), "noisy.agent_delay"},
		{"noisy limits", with(`"conversations":1`, `"conversations":1,"noisy":{"limits":{"rate_per_sec":-1,"burst":0,"max_in_flight":0}}`), "noisy.limits"},
		{"noisy needs its threshold", with(`"conversations":1`, `"conversations":1,"noisy":{"weight":10}`), "thresholds.others_e2e_p99: required with noisy"},
		{"others threshold without noisy", with(`"e2e_p99":"1s"`, `"e2e_p99":"1s","others_e2e_p99":"1s"`), "only with noisy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(c.in), known)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err %v, want it to contain %q", err, c.err)
			}
		})
	}
	s, err := ParseScenario([]byte(base), known)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tenants != 2 || s.Drain.D() != 30*time.Second || *s.Thresholds.Valid2xxRatio != 0.999 || *s.Thresholds.MaxDuplicateRatio != 0.01 {
		t.Fatalf("defaults: %+v", s)
	}
}

// The shipped scenarios parse.
func TestShippedScenarios(t *testing.T) {
	files, _ := filepath.Glob("scenarios/*.json")
	if len(files) < 2 {
		t.Fatalf("scenarios: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseScenario(b, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestTenantOf: draws spread over every tenant, except the flooded one of
// the flood's provider.
func TestTenantOf(t *testing.T) {
	s := Scenario{Tenants: 4, Flood: &Flood{Provider: "slack", Tenant: 1, Factor: 10}}
	for _, c := range []struct {
		provider string
		want     map[int]bool
	}{
		{"slack", map[int]bool{0: true, 2: true, 3: true}},
		{"telegram", map[int]bool{0: true, 1: true, 2: true, 3: true}},
	} {
		got := map[int]bool{}
		for i := 0; i < 1000; i++ {
			got[s.TenantOf(c.provider, float64(i)/1000)] = true
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: tenants %v, want %v", c.provider, got, c.want)
		}
		for k := range got {
			if !c.want[k] {
				t.Errorf("%s: tenant %d drawn", c.provider, k)
			}
		}
	}
	if n := (Scenario{Tenants: 3}).TenantOf("slack", 0.999999); n != 2 {
		t.Errorf("last draw: tenant %d", n)
	}
}

func TestRatePlan(t *testing.T) {
	s := Scenario{Stages: []Stage{
		{Rate: 10, Ramp: Duration(2 * time.Second), Duration: Duration(time.Second)},
		{Rate: 30, Duration: Duration(time.Second)},
		{Rate: 0, Ramp: Duration(time.Second)},
	}}
	cases := []struct {
		at   time.Duration
		rate float64
	}{{0, 0}, {time.Second, 5}, {2 * time.Second, 10}, {2500 * time.Millisecond, 10}, {3 * time.Second, 30}, {3900 * time.Millisecond, 30},
		{4 * time.Second, 30}, {4500 * time.Millisecond, 15}, {5 * time.Second, 0}, {time.Hour, 0}}
	for _, c := range cases {
		if got := s.RateAt(c.at); math.Abs(got-c.rate) > 1e-9 {
			t.Errorf("RateAt(%s) = %v, want %v", c.at, got, c.rate)
		}
	}
	// ramp 0→10 over 2s: 10, hold 1s: 10, 30 for 1s: 30, ramp 30→0 over 1s: 15.
	if e := s.Expected(); math.Abs(e-65) > 1e-9 {
		t.Errorf("Expected = %v, want 65", e)
	}
	if s.Duration() != 5*time.Second {
		t.Errorf("Duration = %s", s.Duration())
	}
}

func TestKindAndProvider(t *testing.T) {
	s := Scenario{ForgedShare: 0.1, StaleShare: 0.2, CrossTenantShare: 0.1, Providers: map[string]float64{"telegram": 1, "slack": 3}}
	for _, c := range []struct {
		u    float64
		kind Kind
		prov string
	}{{0, KindForged, "slack"}, {0.05, KindForged, "slack"}, {0.1, KindStale, "slack"}, {0.29, KindStale, "slack"},
		{0.31, KindCrossTenant, "slack"}, {0.4, KindValid, "slack"}, {0.74, KindValid, "slack"}, {0.75, KindValid, "telegram"}, {0.999, KindValid, "telegram"}} {
		if k := s.KindOf(c.u); k != c.kind {
			t.Errorf("KindOf(%v) = %s, want %s", c.u, k, c.kind)
		}
		if p := s.ProviderOf(c.u); p != c.prov {
			t.Errorf("ProviderOf(%v) = %s, want %s", c.u, p, c.prov)
		}
	}
}

func TestEvaluate(t *testing.T) {
	sc, err := ParseScenario([]byte(base), nil)
	if err != nil {
		t.Fatal(err)
	}
	good := Figures{Requests: 1000, Sent: map[Kind]int64{KindValid: 900, KindForged: 100}, Accepted: map[Kind]int64{KindValid: 900},
		Delivered: 900, EdgeMs: []float64{1, 2, 3, 50}, E2EMs: []float64{10, 20, 900}}
	cases := []struct {
		name   string
		mutate func(f *Figures)
		failed []string
	}{
		{"passing", func(f *Figures) {}, nil},
		{"valid refused", func(f *Figures) { f.Accepted = map[Kind]int64{KindValid: 898}; f.Delivered = 898 }, []string{"valid_2xx_ratio"}},
		{"slow edge", func(f *Figures) { f.EdgeMs = append(f.EdgeMs, 101, 102, 103) }, []string{"edge_p99_ms"}},
		{"slow delivery", func(f *Figures) { f.E2EMs = append(f.E2EMs, 1001) }, []string{"e2e_p99_ms"}},
		{"nothing delivered", func(f *Figures) { f.E2EMs = nil; f.Delivered = 0 }, []string{"e2e_p99_ms", "undelivered"}},
		{"forged accepted", func(f *Figures) { f.Accepted = map[Kind]int64{KindValid: 900, KindForged: 1} }, []string{"forged_accepted"}},
		{"forged delivered", func(f *Figures) { f.ForgedDelivered = 1 }, []string{"forged_accepted"}},
		{"lost delivery", func(f *Figures) { f.Delivered = 899 }, []string{"undelivered"}},
		{"duplicates within at-least-once", func(f *Figures) { f.Redelivered = 9 }, nil},
		{"too many duplicates", func(f *Figures) { f.Redelivered = 10 }, []string{"duplicates"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good
			f.Sent, f.Accepted = copyMap(good.Sent), copyMap(good.Accepted)
			c.mutate(&f)
			r := NewResult(sc, f, time.Unix(0, 0))
			var failed []string
			for _, v := range r.Verdicts {
				if !v.Pass {
					failed = append(failed, v.Name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(c.failed, ",") || r.Passed != (len(c.failed) == 0) {
				t.Fatalf("failed %v (passed %v), want %v", failed, r.Passed, c.failed)
			}
			var sb strings.Builder
			WriteSummary(&sb, r)
			if want := map[bool]string{true: "PASS\n", false: "FAIL\n"}[r.Passed]; !strings.HasSuffix(sb.String(), want) {
				t.Errorf("summary ends %q", sb.String()[max(0, sb.Len()-20):])
			}
		})
	}
}

func copyMap(m map[Kind]int64) map[Kind]int64 {
	out := map[Kind]int64{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestQuantile(t *testing.T) {
	if Quantile(nil, 0.99) != 0 || Quantile([]float64{5}, 0.99) != 5 || Quantile([]float64{1, 2, 3, 4}, 0.5) != 2 || Quantile([]float64{4, 3, 2, 1}, 1) != 4 {
		t.Fatal("quantile")
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(base))
	for _, p := range []string{"scenarios/short.json", "scenarios/canary-stage.json", "scenarios/fairness.json", "scenarios/fairness-limited.json"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"name":"x","stages":[{"rate":1e308,"duration":"1s"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data, nil)
		if err != nil {
			return
		}
		// A valid scenario has a finite, bounded plan.
		if d := s.Duration(); d <= 0 || d > MaxTotalDuration {
			t.Fatalf("duration %s", d)
		}
		if e := s.Expected(); math.IsNaN(e) || e < 0 || e > MaxRate*MaxTotalDuration.Seconds() {
			t.Fatalf("expected %v", e)
		}
		// Every draw picks a tenant of the scenario.
		for _, u := range []float64{0, 0.5, math.Nextafter(1, 0)} {
			if n := s.TenantOf(s.ProviderNames()[0], u); n < 0 || n >= s.Tenants {
				t.Fatalf("TenantOf(%v) = %d of %d tenants", u, n, s.Tenants)
			}
		}
		for _, u := range []float64{0, 0.5, 0.999} {
			if s.ProviderOf(u) == "" || s.KindOf(u) == "" {
				t.Fatal("empty pick")
			}
		}
	})
}

// TestNoisyTenantOf: uniform without a noisy tenant; with one of weight w the
// first tenant takes w/(w+n-1) of the draws and the others share the rest.
func TestNoisyTenantOf(t *testing.T) {
	cases := []struct {
		tenants int
		noisy   *Noisy
		u       float64
		want    int
	}{
		{2, nil, 0, 0}, {2, nil, 0.49, 0}, {2, nil, 0.5, 1}, {2, nil, 0.999, 1},
		{4, nil, 0.26, 1}, {4, nil, 0.74, 2}, {4, nil, 0.76, 3},
		// weight 10 of 13: [0, 10/13) is tenant 0, then 1/13 each.
		{4, &Noisy{Weight: 10}, 0, 0}, {4, &Noisy{Weight: 10}, 0.76, 0}, {4, &Noisy{Weight: 10}, 0.77, 1},
		{4, &Noisy{Weight: 10}, 11.5 / 13, 2}, {4, &Noisy{Weight: 10}, 0.9999, 3},
		{3, &Noisy{Weight: 1}, 0.34, 1},
	}
	for _, c := range cases {
		s := Scenario{Tenants: c.tenants, Noisy: c.noisy}
		if got := s.TenantOf("slack", c.u); got != c.want {
			t.Errorf("tenants %d noisy %+v: TenantOf(%v) = %d, want %d", c.tenants, c.noisy, c.u, got, c.want)
		}
	}
}

// TestEvaluateNoisy: with a noisy tenant, its refused (429) requests and
// its slow agent's backlog do not fail valid_2xx_ratio or undelivered, and
// the others' end-to-end p99 is judged on its own.
func TestEvaluateNoisy(t *testing.T) {
	in := strings.Replace(base, `"conversations":1`, `"conversations":1,"tenants":3,"noisy":{"weight":10,"agent_delay":"1s"}`, 1)
	sc, err := ParseScenario([]byte(strings.Replace(in, `"e2e_p99":"1s"`, `"e2e_p99":"1s","others_e2e_p99":"500ms"`, 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := Figures{Requests: 120,
		Sent: map[Kind]int64{KindValid: 120}, Accepted: map[Kind]int64{KindValid: 60},
		Noisy:     &NoisyFigures{Sent: 100, Accepted: 40, RateLimited: 60, Delivered: 10},
		Delivered: 30, EdgeMs: []float64{1, 2}, E2EMs: []float64{100, 900},
		OthersE2EMs: []float64{100, 200}, NoisyE2EMs: []float64{900},
	}
	got := map[string]bool{}
	for _, v := range Evaluate(sc, f) {
		got[v.Name] = v.Pass
	}
	want := map[string]bool{"valid_2xx_ratio": true, "edge_p99_ms": true, "e2e_p99_ms": true, "forged_accepted": true,
		"undelivered": true, "duplicates": true, "others_e2e_p99_ms": true}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: pass %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
	f.OthersE2EMs = []float64{100, 600}
	f.Delivered = 29 // one of the others' accepted events undelivered
	got = map[string]bool{}
	for _, v := range Evaluate(sc, f) {
		got[v.Name] = v.Pass
	}
	if got["others_e2e_p99_ms"] || got["undelivered"] {
		t.Errorf("others over their p99 and one undelivered still pass: %v", got)
	}
}
