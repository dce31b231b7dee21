package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/queue"
	"github.com/switchboard-dev/switchboard/servicetest"
)

func TestHooksCountsByProviderOutcomeReason(t *testing.T) {
	reg := prometheus.NewRegistry()
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Answer") {
		case "reject":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"attestation_missing"}` + "\n"))
		case "weird":
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"Robert'); DROP TABLE"}`))
		case "down":
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"queue_unavailable"}`))
		default:
			w.Write([]byte("ok"))
		}
	})
	h := Hooks(inner, reg, "ingest")
	Hooks(inner, reg, "ingest") // a second registration reuses the first
	do := func(path, answer string) {
		req := httptest.NewRequest("POST", path, nil)
		req.Header.Set("X-Answer", answer)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	do("/v1/hooks/slack/abc", "")
	do("/v1/hooks/slack/abc", "")
	do("/v1/hooks/telegram/abc", "reject")
	do("/v1/hooks/made-up-provider/abc", "weird")
	do("/v1/hooks/whatsapp/abc", "down")

	got := series(t, reg, "switchboard_hook_requests_total")
	want := map[string]float64{
		"component=ingest,outcome=accepted,provider=slack,reason=none":                   2,
		"component=ingest,outcome=error,provider=whatsapp,reason=queue_unavailable":      1,
		"component=ingest,outcome=rejected,provider=other,reason=unknown":                1,
		"component=ingest,outcome=rejected,provider=telegram,reason=attestation_missing": 1,
	}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestQueueCollectorReadsShardQueues(t *testing.T) {
	rs := servicetest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	const shards = 4
	q := queue.NewClient("", shards, queue.WithRedisClient(rdb))
	env := envelope.Envelope{Provider: "slack", OrgID: "org_a", InstallationID: "inst_a", ProfileID: "prof_a",
		Conversation: "C1", Sender: "U1", Text: "hi", EventID: "Ev1", ReceivedAt: time.Now().UTC(),
		AgentID: "agt_a", Persona: "p", BindingID: "bind_a"}
	for _, ev := range []string{"Ev1", "Ev2", "Ev3"} {
		e := env
		e.EventID = ev
		if err := q.Enqueue(context.Background(), e.Finish()); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewQueueCollector(rdb, shards, slog.New(slog.DiscardHandler)))
	shard := queue.Shard(env.Finish().SessionKey, shards)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	pending := map[string]float64{}
	up := -1.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "switchboard_queue_tasks":
				if labels["state"] == "pending" {
					pending[labels["shard"]] = m.GetGauge().GetValue()
				}
			case "switchboard_queue_up":
				up = m.GetGauge().GetValue()
			}
		}
	}
	if up != 1 || len(pending) != shards {
		t.Fatalf("up=%v, pending per shard %v", up, pending)
	}
	for s, n := range pending {
		want := 0.0
		if s == string(rune('0'+shard)) {
			want = 3
		}
		if n != want {
			t.Errorf("shard %s pending %v, want %v", s, n, want)
		}
	}

	// Redis gone: up reads 0, the scrape still succeeds.
	rs.Stop()
	if got := series(t, reg, "switchboard_queue_up"); got[""] != 0 || len(got) != 1 {
		t.Fatalf("with Redis down: switchboard_queue_up %v, want 0", got)
	}
}

func TestAgentTransportMeasuresDeliveryLatency(t *testing.T) {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(500)
		}
	}))
	defer agent.Close()
	reg := prometheus.NewRegistry()
	hc := &http.Client{Transport: AgentTransport(nil, reg)}
	body, _ := json.Marshal(envelope.Envelope{Provider: "discord", ReceivedAt: time.Now().Add(-3 * time.Second)})
	for _, p := range []string{"/ok", "/fail"} {
		resp, err := hc.Post(agent.URL+p, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := len(series(t, reg, "switchboard_delivery_latency_seconds")); n != 2 {
		t.Fatalf("latency series: %d, want 2 (2xx and 5xx)", n)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "switchboard_delivery_latency_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if s := m.GetHistogram().GetSampleSum(); s < 3 || s > 30 {
				t.Errorf("latency sum %v s, want about 3 s (received 3 s before delivery)", s)
			}
		}
	}
}

// series gathers reg and returns the values of metric name by its labels
// ("k=v,k=v", sorted by name); histograms give their sample sum.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var kv []string
			for _, l := range m.GetLabel() {
				kv = append(kv, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetHistogram().GetSampleSum()
			out[strings.Join(kv, ",")] = v
		}
	}
	return out
}
