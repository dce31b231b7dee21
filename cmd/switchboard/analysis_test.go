package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/sqlite"
)

func TestParseMetricTargets(t *testing.T) {
	got, err := parseMetricTargets([]string{"edge=http://127.0.0.1:9902/metrics", " ingest=https://i/metrics ", ""})
	if err != nil || len(got) != 2 || got[0].kind != "edge" || got[1].url != "https://i/metrics" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"edge", "db=http://x/metrics", "worker=ftp://x", "edge=/metrics"} {
		if _, err := parseMetricTargets([]string{bad}); err == nil || !strings.Contains(err.Error(), "--analysis-metrics") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A new store states its initial stage: recorded for every provider
// without one, audited; existing stages are left as they are.
func TestEnsureStages(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
	var out bytes.Buffer
	if err := ensureStages(ctx, st, "canary", now, &out); err == nil || !strings.Contains(err.Error(), "off or on") {
		t.Fatalf("--initial-stage canary: %v", err)
	}
	if err := ensureStages(ctx, st, "", now, &out); err != nil || !strings.Contains(out.String(), "not served") {
		t.Fatalf("no flag: %v %q", err, out.String())
	}
	if l, _ := st.ListStages(ctx); len(l) != 0 {
		t.Fatalf("stages recorded without the flag: %+v", l)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.SetStage(ctx, store.RolloutStage{Provider: "discord", Stage: store.StageCanary, CanaryOrgs: []string{"org_a"}, UpdatedAt: now()}))
	must(ensureStages(ctx, st, "off", now, &out))
	l, _ := st.ListStages(ctx)
	if len(l) != 10 {
		t.Fatalf("%d stages, want 10", len(l))
	}
	for _, s := range l {
		if s.Provider == "discord" && s.Stage != store.StageCanary || s.Provider != "discord" && s.Stage != store.StageOff {
			t.Errorf("%s at %s", s.Provider, s.Stage)
		}
	}
	ev, _ := st.ListAudit(ctx, store.AuditFilter{})
	if len(ev) != 9 || ev[0].Action != "stage.set" || ev[0].Actor != "system" || !strings.Contains(ev[0].Detail, "serve --initial-stage") {
		t.Fatalf("audit %+v", ev)
	}
}
