package ingest

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

func tgUpdate(updateID, chat string, text string) []byte {
	return []byte(`{"update_id":` + updateID + `,"message":{"message_id":1,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":` + chat +
		`,"type":"private"},"date":1700000000,"text":"` + text + `"}}`)
}

func tgMember(updateID, chat, old, new string) []byte {
	return []byte(`{"update_id":` + updateID + `,"my_chat_member":{"chat":{"id":` + chat + `,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Ann"},"date":1700000000,` +
		`"old_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"Bot"},"status":"` + old + `"},` +
		`"new_chat_member":{"user":{"id":7000000001,"is_bot":true,"first_name":"Bot"},"status":"` + new + `"}}}`)
}

func (h *harness) auditOf(action, target string) []store.AuditEvent {
	var out []store.AuditEvent
	for _, a := range h.audits(action) {
		if a.Target == target {
			out = append(out, a)
		}
	}
	return out
}

func TestSlackUninstallRevokesInstallation(t *testing.T) {
	h := newHarness(t)
	g0, err := h.st.Generation(ctx)
	must(t, err)
	body := readFile(t, "../provider/slack/testdata/app_uninstalled.json")
	wantStatus(t, h.post(path(idSlackA), &idSlackA, body), 200, "")

	inst, err := h.st.GetInstallation(ctx, "inst_slack_a")
	must(t, err)
	if inst.RevokedAt == nil {
		t.Fatal("app_uninstalled left the installation live")
	}
	rv, err := h.st.GetRevocation(ctx, "inst_slack_a", "")
	must(t, err)
	if rv.Reason != "app_uninstalled" || rv.EventID != "Ev0UNINST1" {
		t.Fatalf("revocation %+v", rv)
	}
	if g1, _ := h.st.Generation(ctx); g1 <= g0 {
		t.Fatal("the revocation did not move the store generation (no configuration push would follow)")
	}
	audits := h.auditOf(ActionInstallationRevoke, "inst_slack_a")
	if len(audits) != 1 || audits[0].Actor != "provider:slack" || audits[0].OrgID != "org_a" {
		t.Fatalf("audit %+v", audits)
	}
	var d map[string]string
	if err := json.Unmarshal([]byte(audits[0].Detail), &d); err != nil || d["reason"] != "app_uninstalled" || d["source"] != "provider" || d["event_id"] != "Ev0UNINST1" {
		t.Fatalf("audit detail %s", audits[0].Detail)
	}
	// Slack retries, and sends tokens_revoked too: acknowledged, no second record.
	wantStatus(t, h.post(path(idSlackA), &idSlackA, body), 200, "")
	wantStatus(t, h.post(path(idSlackA), &idSlackA, readFile(t, "../provider/slack/testdata/tokens_revoked_bot.json")), 200, "")
	if n := len(h.auditOf(ActionInstallationRevoke, "inst_slack_a")); n != 1 {
		t.Fatalf("%d revoke audits after repeats", n)
	}
	// Nothing of it is taken any more.
	wantStatus(t, h.post(path(idSlackA), &idSlackA, slackBody("T0001", "A0001", "EvAfter")), 403, ReasonRevoked)
	if n := len(h.tasks(t)); n != 0 {
		t.Fatalf("%d tasks after the uninstall", n)
	}
}

func TestSharedAppRevocationResolvesTenant(t *testing.T) {
	h := newHarness(t)
	// The platform app is uninstalled from org b's workspace only.
	body := []byte(`{"token":"x","team_id":"T0002","api_app_id":"APLAT","event":{"type":"tokens_revoked","tokens":{"bot":["UBOT"]}},"type":"event_callback","event_id":"EvTR1","event_time":1}`)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, body), 200, "")
	b, err := h.st.GetInstallation(ctx, "inst_slack_pb")
	must(t, err)
	a, err := h.st.GetInstallation(ctx, "inst_slack_pa")
	must(t, err)
	if b.RevokedAt == nil || a.RevokedAt != nil {
		t.Fatalf("revoked: org b %v, org a %v; want only org b's", b.RevokedAt, a.RevokedAt)
	}
	if rv, err := h.st.GetRevocation(ctx, "inst_slack_pb", ""); err != nil || rv.Reason != "tokens_revoked.bot" {
		t.Fatalf("revocation %+v %v", rv, err)
	}
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0002", "APLAT", "EvX1")), 403, ReasonRevoked)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, slackBody("T0001", "APLAT", "EvX2")), 200, "")

	// Another app's uninstall on the platform ingress: refused, nothing revoked.
	other := []byte(`{"team_id":"T0001","api_app_id":"AOTHER","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"EvU9"}`)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, other), 403, ReasonTenantMismatch)
	// A workspace never installed: acknowledged, nothing to do.
	unknown := []byte(`{"team_id":"T0404","api_app_id":"APLAT","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"EvU10"}`)
	wantStatus(t, h.post(path(idSlackP), &idSlackP, unknown), 200, "")
	if a, _ := h.st.GetInstallation(ctx, "inst_slack_pa"); a.RevokedAt != nil {
		t.Fatal("org a's installation revoked by another app's or workspace's uninstall")
	}
}

func TestByoaRevocationCannotReachAnotherTenant(t *testing.T) {
	h := newHarness(t)
	// org a's own app says "uninstalled from T0002": T0002 is org b's
	// installation of the platform app, not an installation of org a's profile.
	body := []byte(`{"team_id":"T0002","api_app_id":"A0001","event":{"type":"app_uninstalled"},"type":"event_callback","event_id":"EvU11"}`)
	wantStatus(t, h.post(path(idSlackA), &idSlackA, body), 200, "")
	for _, id := range []string{"inst_slack_a", "inst_slack_pb"} {
		if i, _ := h.st.GetInstallation(ctx, id); i.RevokedAt != nil {
			t.Fatalf("%s revoked by another installation's notification", id)
		}
	}
}

func TestTelegramBlockedRevokesChat(t *testing.T) {
	h := newHarness(t)
	g0, _ := h.st.Generation(ctx)
	wantStatus(t, h.post(path(idTgA), &idTgA, tgMember("20001", "4242", "member", "kicked")), 200, "")
	rv, err := h.st.GetRevocation(ctx, "inst_tg_a", "4242")
	must(t, err)
	if rv.Reason != "my_chat_member.kicked" || rv.EventID != "20001" {
		t.Fatalf("revocation %+v", rv)
	}
	if g1, _ := h.st.Generation(ctx); g1 != g0 {
		t.Fatal("a chat's revocation moved the generation")
	}
	if inst, _ := h.st.GetInstallation(ctx, "inst_tg_a"); inst.RevokedAt != nil {
		t.Fatal("a blocked chat revoked the whole bot")
	}
	if a := h.auditOf(ActionConversationRevoke, "inst_tg_a"); len(a) != 1 || !strings.Contains(a[0].Detail, `"conversation":"4242"`) ||
		!strings.Contains(a[0].Detail, `"reason":"my_chat_member.kicked"`) || a[0].Actor != "provider:telegram" {
		t.Fatalf("audit %+v", a)
	}
	// A message of that chat (it can still arrive: queued before, a group
	// where the bot was removed) is acknowledged, not enqueued; other chats flow.
	wantStatus(t, h.post(path(idTgA), &idTgA, tgUpdate("20002", "4242", "still there?")), 200, "")
	if n := len(h.tasks(t)); n != 0 {
		t.Fatalf("%d tasks for a blocked chat", n)
	}
	if !strings.Contains(h.logs.String(), "conversation_revoked") {
		t.Error("conversation_revoked not logged")
	}
	wantStatus(t, h.post(path(idTgA), &idTgA, tgUpdate("20003", "777", "other chat")), 200, "")
	if n := len(h.tasks(t)); n != 1 {
		t.Fatalf("%d tasks for another chat, want 1", n)
	}
	// Unblocked: the chat is served again, and the restore is audited.
	wantStatus(t, h.post(path(idTgA), &idTgA, tgMember("20004", "4242", "kicked", "member")), 200, "")
	if _, err := h.st.GetRevocation(ctx, "inst_tg_a", "4242"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revocation after unblock: %v", err)
	}
	if a := h.auditOf(ActionConversationRestore, "inst_tg_a"); len(a) != 1 {
		t.Fatalf("restore audits %+v", a)
	}
	wantStatus(t, h.post(path(idTgA), &idTgA, tgUpdate("20005", "4242", "back")), 200, "")
	if n := len(h.tasks(t)); n != 2 {
		t.Fatalf("%d tasks after unblock, want 2", n)
	}
}

func TestDiscordDeauthorized(t *testing.T) {
	h := newHarness(t)
	must(t, h.st.CreateProfile(ctx, store.AppProfile{ID: "prof_dc_plat", Provider: "discord", Name: "p", ExternalAppID: "1183190493240578048", IngressID: "ing_dc_plat", CreatedAt: t0}))
	must(t, h.st.CreateInstallation(ctx, store.Installation{ID: "inst_dc_user", OrgID: "org_b", ProfileID: "prof_dc_plat", Provider: "discord",
		ExternalID: "53908232506183680", IngressID: "ing_dc_user", CreatedAt: t0}))
	idDcP := filter.Identity{Profile: "prof_dc_plat", Provider: "discord", IngressID: "ing_dc_plat", Platform: true}
	body := readFile(t, "../provider/discord/testdata/webhook_application_deauthorized.json")

	// On a guild installation's own path, a user's deauthorization names no
	// installation there: acknowledged with Discord's 204, nothing revoked.
	w := h.post(path(idDcA), &idDcA, body)
	wantStatus(t, w, 204, "")
	if i, _ := h.st.GetInstallation(ctx, "inst_dc_a"); i.RevokedAt != nil {
		t.Fatal("guild installation revoked by a user's deauthorization")
	}
	// On the shared app: the user's installation is revoked.
	wantStatus(t, h.post(path(idDcP), &idDcP, body), 204, "")
	i, err := h.st.GetInstallation(ctx, "inst_dc_user")
	must(t, err)
	if i.RevokedAt == nil {
		t.Fatal("user installation not revoked")
	}
	if rv, err := h.st.GetRevocation(ctx, "inst_dc_user", ""); err != nil || rv.Reason != "APPLICATION_DEAUTHORIZED" {
		t.Fatalf("revocation %+v %v", rv, err)
	}
	// The webhook events PING is answered 204 with no body.
	w = h.post(path(idDcP), &idDcP, readFile(t, "../provider/discord/testdata/webhook_ping.json"))
	wantStatus(t, w, 204, "")
	if w.Body.Len() != 0 {
		t.Fatalf("PING answer body %q", w.Body)
	}
}

func withHeader(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func TestGitHubInstallationDeletedAndMetaDeauthorize(t *testing.T) {
	h := newHarness(t)
	for _, p := range []store.AppProfile{
		{ID: "prof_gh_a", OwnerOrgID: "org_a", Provider: "github", Name: "gh", ExternalAppID: "123456", CreatedAt: t0},
		{ID: "prof_ms_a", OwnerOrgID: "org_a", Provider: "messenger", Name: "ms", CreatedAt: t0},
	} {
		must(t, h.st.CreateProfile(ctx, p))
	}
	for _, i := range []store.Installation{
		{ID: "inst_gh_a", OrgID: "org_a", ProfileID: "prof_gh_a", Provider: "github", ExternalID: "41234567", IngressID: "ing_gh_a", CreatedAt: t0},
		{ID: "inst_ms_a", OrgID: "org_a", ProfileID: "prof_ms_a", Provider: "messenger", ExternalID: "106000000000001", IngressID: "ing_ms_a", CreatedAt: t0},
	} {
		must(t, h.st.CreateInstallation(ctx, i))
	}
	idGh := filter.Identity{Org: "org_a", Installation: "inst_gh_a", Profile: "prof_gh_a", Provider: "github", IngressID: "ing_gh_a"}
	idMs := filter.Identity{Org: "org_a", Installation: "inst_ms_a", Profile: "prof_ms_a", Provider: "messenger", IngressID: "ing_ms_a"}

	wantStatus(t, h.post(path(idGh), &idGh, readFile(t, "../provider/github/testdata/installation_deleted.json"),
		withHeader("X-GitHub-Event", "installation"), withHeader("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")), 200, "")
	if rv, err := h.st.GetRevocation(ctx, "inst_gh_a", ""); err != nil || rv.Reason != "installation.deleted" {
		t.Fatalf("github revocation %+v %v", rv, err)
	}
	wantStatus(t, h.post(path(idMs), &idMs, readFile(t, "../provider/messenger/testdata/deauthorize.form"),
		withCT("application/x-www-form-urlencoded")), 200, "")
	if rv, err := h.st.GetRevocation(ctx, "inst_ms_a", ""); err != nil || rv.Reason != "deauthorize" {
		t.Fatalf("messenger revocation %+v %v", rv, err)
	}
	for _, id := range []string{"inst_gh_a", "inst_ms_a"} {
		if i, _ := h.st.GetInstallation(ctx, id); i.RevokedAt == nil {
			t.Fatalf("%s not revoked", id)
		}
		if a := h.auditOf(ActionInstallationRevoke, id); len(a) != 1 {
			t.Fatalf("%s: audits %+v", id, a)
		}
	}
}
