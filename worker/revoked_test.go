package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/store"
)

// Tasks queued before a provider-reported revocation are not delivered: they
// end as dead letters naming the provider's reason. Other conversations of a
// live installation flow.
func TestRevokedTasksDeadLetterWithReason(t *testing.T) {
	e := newEnv(t, 2)
	ctx := context.Background()
	now := time.Now().Add(-time.Hour)
	if err := e.st.CreateInstallation(ctx, store.Installation{ID: "inst_gone", OrgID: "org_a", ProfileID: "prof_plat", Provider: "slack",
		ExternalID: "T9", IngressID: "00000000000000000000000000000009", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	e.agent.setPolicy(func(_ envelope.Envelope, _ int) (int, string) { return 0, `{"replies":[{"text":"hi"}]}` })
	gone := event("C1", 1)
	gone.InstallationID = "inst_gone"
	gone = gone.Finish()
	blocked := event("D_BLOCKED", 1)
	open := event("C_OPEN", 1)
	for _, ev := range []envelope.Envelope{gone, blocked, open} {
		if err := e.client.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// The provider reports the uninstall and the block while they wait.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.st.RevokeInstallation(ctx, "inst_gone", now))
	must(e.st.PutRevocation(ctx, store.Revocation{InstallationID: "inst_gone", Reason: "app_uninstalled", RevokedAt: now}))
	must(e.st.PutRevocation(ctx, store.Revocation{InstallationID: "inst_a", Conversation: "D_BLOCKED", Reason: "my_chat_member.kicked", RevokedAt: now}))

	run(t, e.pool("w1", nil))
	waitFor(t, "two dead letters", 10*time.Second, func() bool {
		dl, _ := DeadLetters(ctx, e.rc, e.shards)
		return len(dl) == 2
	})
	waitFor(t, "the open conversation's reply", 10*time.Second, func() bool { return len(e.slack.messages()) == 1 })
	dl, err := DeadLetters(ctx, e.rc, e.shards)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{gone.ID: "revoked by the provider (app_uninstalled)", blocked.ID: "revoked by the provider (my_chat_member.kicked)"}
	for _, d := range dl {
		if w, ok := want[d.ID]; !ok || !strings.Contains(d.LastError, w) {
			t.Fatalf("dead letter %s: %q, want one containing %q", d.ID, d.LastError, w)
		}
	}
	if n := e.agent.triesOf(gone.EventID) + e.agent.triesOf(blocked.EventID); n != 0 {
		t.Fatalf("agent called %d times for revoked tasks", n)
	}
	if m := e.slack.messages(); m[0][1] != "C_OPEN" {
		t.Fatalf("sent %v", m)
	}
}
