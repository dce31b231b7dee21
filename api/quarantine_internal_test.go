package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/quarantine.golden.json")

var qNow = time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)

func qEvent(action string, detail map[string]any) store.AuditEvent {
	d, _ := json.Marshal(detail)
	return store.AuditEvent{At: qNow.Add(-time.Minute), Actor: "edge", OrgID: "org_a", Action: action, Target: "inst_a", Detail: string(d)}
}

func ts(d time.Duration) string { return qNow.Add(d).Format(time.RFC3339) }

func quarantined(edge string, from, until time.Duration) store.AuditEvent {
	return qEvent("ingress.quarantined", map[string]any{"source": "edge", "reason": "quarantined", "provider": "slack", "count": 1,
		"from": ts(from), "to": ts(from), "until": ts(until), "edge": edge})
}

func rejected(reason string, count int, to time.Duration) store.AuditEvent {
	return qEvent("webhook.reject", map[string]any{"source": "edge", "reason": reason, "provider": "slack", "count": count,
		"from": ts(to - 4*time.Second), "to": ts(to), "edge": "edge-1"})
}

// TestQuarantineOf: the state computed from the audit events, table-driven;
// the views (detail and fix texts included) are in testdata.
func TestQuarantineOf(t *testing.T) {
	inst := store.Installation{ID: "inst_a", IngressID: "ing_a"}
	cases := []struct {
		name        string
		quarantines []store.AuditEvent
		rejects     []store.AuditEvent
		quarantined bool
		perMinute   int64
	}{
		{name: "never quarantined", rejects: []store.AuditEvent{rejected("bad_signature", 3, -time.Hour)}},
		{name: "in force: forged flood", quarantines: []store.AuditEvent{quarantined("edge-1", -20*time.Second, 40*time.Second)},
			rejects: []store.AuditEvent{
				rejected("bad_signature", 60, -25*time.Second), rejected("bad_signature", 41, -20*time.Second),
				rejected("bad_signature", 7, -2*time.Minute), // before the minute that led to it
				rejected("stale_timestamp", 2, -21*time.Second),
			}, quarantined: true, perMinute: 103},
		{name: "in force on two edges: earliest start, latest end", quarantines: []store.AuditEvent{
			quarantined("edge-2", -10*time.Second, 50*time.Second), quarantined("edge-1", -30*time.Second, 30*time.Second),
			quarantined("edge-3", -3*time.Hour, -2*time.Hour-59*time.Minute), // an old one, ended
		}, rejects: []store.AuditEvent{rejected("no_valid_secret", 150, -31*time.Second)}, quarantined: true, perMinute: 150},
		{name: "ended: the latest shown", quarantines: []store.AuditEvent{
			quarantined("edge-1", -3*time.Hour, -2*time.Hour-59*time.Minute), quarantined("edge-1", -2*time.Minute, -time.Minute),
		}, rejects: []store.AuditEvent{rejected("bad_signature", 101, -2*time.Minute)}, perMinute: 101},
		{name: "ends exactly now: not in force", quarantines: []store.AuditEvent{quarantined("edge-1", -time.Minute, 0)}},
		{name: "no until (older edge): the default cool-down", quarantines: []store.AuditEvent{
			qEvent("ingress.quarantined", map[string]any{"source": "edge", "reason": "quarantined", "count": 1, "from": ts(-30 * time.Second), "to": ts(-30 * time.Second), "edge": "edge-1"}),
		}, quarantined: true},
		{name: "unreadable detail ignored", quarantines: []store.AuditEvent{{At: qNow, Action: "ingress.quarantined", Target: "inst_a", Detail: "{"}}},
	}
	got := map[string]quarantineView{}
	for _, c := range cases {
		v := quarantineOf(inst, c.quarantines, c.rejects, qNow)
		if v.Quarantined != c.quarantined || v.RefusedPerMinute != c.perMinute {
			t.Errorf("%s: quarantined %v, %d refused/min; want %v, %d", c.name, v.Quarantined, v.RefusedPerMinute, c.quarantined, c.perMinute)
		}
		if v.Quarantined && (v.Since == nil || v.Until == nil || v.Fix == "" || !v.Until.After(qNow)) {
			t.Errorf("%s: in force without since/until/fix: %+v", c.name, v)
		}
		got[c.name] = v
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "quarantine.golden.json")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("views differ from %s (run with -update and review the diff):\n%s", path, b)
	}
}
