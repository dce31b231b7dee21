package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// TestAcceptedEventsRecordActivity: an accepted event notes its
// installation's activity (also one resolved from a shared platform app's
// body); a refused one does not.
func TestAcceptedEventsRecordActivity(t *testing.T) {
	h := newHarness(t)
	ar := h.st.(store.ActivityRecords)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, []byte(slackMsg)), 200, "")
	got, err := ar.GetActivity(ctx, "inst_slack_a")
	if err != nil || !got.FirstAcceptedAt.Equal(testNow) || !got.LastAcceptedAt.Equal(testNow) {
		t.Fatalf("activity of inst_slack_a after an accepted event: %+v, %v", got, err)
	}
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "Ev0PB1")), 200, "")
	if _, err := ar.GetActivity(ctx, "inst_slack_pb"); err != nil {
		t.Fatalf("activity of the platform app's installation inst_slack_pb: %v", err)
	}
	// A verified request without an event (Slack's url_verification: the
	// health self-test) counts too.
	wantStatus(t, h.post(path(idDcA), &idDcA, []byte(`{"type":1,"id":"1","application_id":"1183190493240578048","token":"t","version":1}`)), 200, "")
	if _, err := ar.GetActivity(ctx, "inst_dc_a"); err != nil {
		t.Fatalf("activity after Discord's PING: %v", err)
	}
	// Refused (no attestation): nothing recorded.
	wantStatus(t, h.post(path(idTgA), nil, []byte(`{"update_id":1}`)), 401, ReasonAttestationMissing)
	if _, err := ar.GetActivity(ctx, "inst_tg_a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused request recorded activity: %v", err)
	}
}

func TestActivityMemo(t *testing.T) {
	var m activityMemo
	t1 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		id   string
		at   time.Time
		want bool
	}{
		{"a", t1, true},
		{"a", t1.Add(time.Second), false},
		{"b", t1.Add(time.Second), true},
		{"a", t1.Add(store.ActivityInterval - time.Nanosecond), false},
		{"a", t1.Add(store.ActivityInterval), true},
		{"a", t1, true}, // the clock went back: record rather than go quiet
	}
	for i, s := range steps {
		if got := m.due(s.id, s.at); got != s.want {
			t.Fatalf("step %d: due(%s, %v) = %v, want %v", i, s.id, s.at, got, s.want)
		}
	}
	m.forget("b")
	if !m.due("b", t1.Add(2*time.Second)) {
		t.Fatal("after forget, the next event is not recorded")
	}
}
