package rollout

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestEvaluate(t *testing.T) {
	slo := DefaultAnalysis().SLO
	base := Sample{EdgeTotal: 100, EdgeRefused: map[string]float64{"bad_signature": 1, "unknown_ingress": 50}, IngestTotal: 50, Ingest5xx: 0,
		Deliveries: 50, Failures: 0, DeadLetters: 2, Latency: []Bucket{{0.1, 40}, {1, 50}, {math.Inf(1), 50}}}
	with := func(f func(s *Sample)) Sample {
		s := base
		s.EdgeRefused = map[string]float64{}
		for k, v := range base.EdgeRefused {
			s.EdgeRefused[k] = v
		}
		s.Latency = append([]Bucket(nil), base.Latency...)
		f(&s)
		return s
	}
	cases := []struct {
		name    string
		cur     Sample
		failed  bool
		noTraf  bool
		figures map[string]float64
		failure string
	}{
		{"no traffic", base, false, true, map[string]float64{"edge_requests": 0}, ""},
		{"healthy", with(func(s *Sample) {
			s.EdgeTotal += 100
			s.IngestTotal += 100
			s.Deliveries += 100
			s.Latency = []Bucket{{0.1, 140}, {1, 150}, {math.Inf(1), 150}}
		}), false, false, map[string]float64{"delivery_failure_rate": 0, "delivery_p99_seconds": 0.1, "ingest_5xx_rate": 0}, ""},
		{"ignored reason", with(func(s *Sample) { s.EdgeTotal += 100; s.EdgeRefused["unknown_ingress"] += 90 }), false, false, nil, ""},
		{"refusals of one reason", with(func(s *Sample) { s.EdgeTotal += 100; s.EdgeRefused["bad_signature"] += 6 }), true, false,
			map[string]float64{"edge_refusal_rate:bad_signature": 0.06}, "edge refusal rate for bad_signature 6.00%"},
		{"ingest 5xx", with(func(s *Sample) { s.IngestTotal += 100; s.Ingest5xx += 2 }), true, false, map[string]float64{"ingest_5xx_rate": 0.02}, "ingest 5xx rate 2.00%"},
		{"agent failing", with(func(s *Sample) {
			s.Deliveries += 10
			s.Failures += 10
			s.Latency = []Bucket{{0.1, 50}, {1, 60}, {math.Inf(1), 60}}
		}), true, false, map[string]float64{"delivery_failure_rate": 1}, "delivery failure rate 100.00%"},
		{"dead letters with no traffic", with(func(s *Sample) { s.DeadLetters++ }), true, false, map[string]float64{"new_dead_letters": 1}, "1 new dead letters"},
		{"slow deliveries", with(func(s *Sample) {
			s.Deliveries += 10
			s.Latency = []Bucket{{0.1, 40}, {1, 50}, {30, 60}, {math.Inf(1), 60}}
		}), true, false, map[string]float64{"delivery_p99_seconds": 30}, "delivery latency p99 30.000s"},
		{"counter reset is not negative", with(func(s *Sample) { s.EdgeTotal = 3; s.Deliveries = 1; s.Failures = 0 }), false, true, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Evaluate(base, c.cur, slo)
			if got.Failed != c.failed || got.NoTraffic != c.noTraf {
				t.Fatalf("Evaluate = %+v, want failed=%v noTraffic=%v", got, c.failed, c.noTraf)
			}
			for k, v := range c.figures {
				if g, ok := got.Figures[k]; !ok || math.Abs(g-v) > 1e-9 {
					t.Errorf("figure %s = %v (present %v), want %v", k, g, ok, v)
				}
			}
			if c.failure != "" && (len(got.Failures) == 0 || !strings.Contains(strings.Join(got.Failures, "|"), c.failure)) {
				t.Errorf("failures %q, want one containing %q", got.Failures, c.failure)
			}
		})
	}
}

func TestAnalysisObserve(t *testing.T) {
	var a Analysis
	bad, good := Check{Failed: true}, Check{}
	steps := []struct {
		c        Check
		rollback bool
		n        int
	}{{bad, false, 1}, {bad, false, 2}, {good, false, 0}, {bad, false, 1}, {bad, false, 2}, {bad, true, 3}}
	for i, s := range steps {
		if got := a.Observe(s.c, 3); got != s.rollback || a.Consecutive != s.n {
			t.Fatalf("step %d: rollback=%v consecutive=%d, want %v %d", i, got, a.Consecutive, s.rollback, s.n)
		}
	}
}

func TestParseAnalysis(t *testing.T) {
	known := func(p string) bool { return p == "slack" || p == "discord" }
	set, err := ParseAnalysis(nil, known)
	if err != nil || set.For("slack").FailureLimit != 3 || time.Duration(set.For("slack").Interval) != time.Minute {
		t.Fatalf("defaults: %+v %v", set, err)
	}
	set, err = ParseAnalysis([]byte(`{"default":{"interval":"10s"},"providers":{"slack":{"failure_limit":2,"slo":{"max_delivery_failure_rate":0.5}}}}`), known)
	if err != nil {
		t.Fatal(err)
	}
	if s := set.For("slack"); s.FailureLimit != 2 || time.Duration(s.Interval) != 10*time.Second || s.SLO.MaxDeliveryFailureRate != 0.5 || s.SLO.MaxIngest5xxRate != 0.01 {
		t.Errorf("slack: %+v", s)
	}
	if d := set.For("discord"); d.FailureLimit != 3 || time.Duration(d.Interval) != 10*time.Second {
		t.Errorf("discord: %+v", d)
	}
	for _, c := range []struct{ in, err string }{
		{`{"providers":{"myspace":{}}}`, `unknown provider "myspace"`},
		{`{"default":{"interval":"1ms"}}`, "interval: at least 100ms"},
		{`{"default":{"failure_limit":0}}`, "failure_limit"},
		{`{"providers":{"slack":{"slo":{"max_refusal_rate":2}}}}`, "providers.slack: slo.max_refusal_rate"},
		{`{"default":{"intervall":"1s"}}`, `unknown field "intervall"`},
		{`{"default":{"interval":5}}`, "want a duration"},
		{`[`, "analysis settings"},
	} {
		if _, err := ParseAnalysis([]byte(c.in), known); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err %v, want %q", c.in, err, c.err)
		}
	}
}

const page = `# HELP switchboard_edge_requests_total x
# TYPE switchboard_edge_requests_total counter
switchboard_edge_requests_total{decision="accept",provider="slack",reason="none"} 90
switchboard_edge_requests_total{decision="reject",provider="slack",reason="bad_signature"} 7
switchboard_edge_requests_total{decision="reject",provider="discord",reason="bad_signature"} 3
switchboard_hook_requests_total{component="ingest",outcome="error",provider="slack",reason="queue_unavailable"} 2
switchboard_hook_requests_total{component="ingest",outcome="accepted",provider="slack",reason="none"} 80
switchboard_agent_request_duration_seconds_count{provider="slack",status="2xx"} 70
switchboard_agent_request_duration_seconds_count{provider="slack",status="5xx"} 5
switchboard_delivery_latency_seconds_bucket{provider="slack",status="2xx",le="0.5"} 60
switchboard_delivery_latency_seconds_bucket{provider="slack",status="5xx",le="0.5"} 5
switchboard_delivery_latency_seconds_bucket{provider="slack",status="2xx",le="+Inf"} 70
switchboard_delivery_latency_seconds_bucket{provider="slack",status="5xx",le="+Inf"} 5
switchboard_queue_tasks{shard="0",state="archived"} 1
switchboard_queue_tasks{shard="1",state="archived"} 2
switchboard_queue_tasks{shard="1",state="pending"} 9
`

func TestSampleFrom(t *testing.T) {
	series, err := ParseText([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	s := SampleFrom("slack", t0, series, series, series)
	if s.EdgeTotal != 97 || s.EdgeRefused["bad_signature"] != 7 || s.IngestTotal != 82 || s.Ingest5xx != 2 ||
		s.Deliveries != 75 || s.Failures != 5 || s.DeadLetters != 3 || len(s.Latency) != 2 || s.Latency[0].Count != 65 || s.Latency[1].Count != 75 {
		t.Fatalf("sample %+v", s)
	}
}

func TestParseTextErrors(t *testing.T) {
	for _, c := range []struct{ in, err string }{
		{"x{a=\"b} 1", "line 1: unterminated"},
		{"ok 1\nx{a} 1", "line 2: bad label"},
		{"x", "no value"},
		{"x one", `value "one"`},
		{"x 1 2 3", "want a value"},
		{`{a="b"} 1`, "no metric name"},
	} {
		if _, err := ParseText([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: err %v, want %q", c.in, err, c.err)
		}
	}
	got, err := ParseText([]byte(`m{a="x\"y",b="z"} 1.5 1700000000`))
	if err != nil || len(got) != 1 || got[0].Labels["a"] != `x"y` || got[0].Labels["b"] != "z" || got[0].Value != 1.5 {
		t.Errorf("escaped label: %+v %v", got, err)
	}
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte(page))
	f.Add([]byte(`m{a="x\"y",b="z"} 1.5 1700000000`))
	f.Add([]byte("x{a=\"b} 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		series, err := ParseText(data)
		if err != nil {
			return
		}
		for _, s := range series {
			if s.Name == "" {
				t.Fatalf("series without a name from %q", data)
			}
		}
		_ = SampleFrom("slack", t0, series, series, series)
	})
}
