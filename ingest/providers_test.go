package ingest

import (
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

// TestSettingsAndHeadersReachTheParser: a Standard Webhooks installation's
// conversation_pointer (its settings) and the webhook-id header decide the
// envelope's conversation and event id; GitHub's X-GitHub-Event and
// X-GitHub-Delivery headers reach its parser, and ping is answered.
func TestSettingsAndHeadersReachTheParser(t *testing.T) {
	h := newHarness(t)
	must(t, h.st.CreateProfile(ctx, store.AppProfile{ID: "prof_sw_a", OwnerOrgID: "org_a", Provider: "standardwebhooks", Name: "sw", CreatedAt: t0}))
	must(t, h.st.CreateInstallation(ctx, store.Installation{ID: "inst_sw_a", OrgID: "org_a", ProfileID: "prof_sw_a", Provider: "standardwebhooks", ExternalID: "svc", IngressID: "ing_sw_a", CreatedAt: t0}))
	must(t, h.st.CreateBinding(ctx, store.Binding{ID: "bind_sw", OrgID: "org_a", InstallationID: "inst_sw_a", AgentID: "agt_a1", Persona: "sw", CreatedAt: t0}))
	must(t, h.st.CreateProfile(ctx, store.AppProfile{ID: "prof_gh_a", OwnerOrgID: "org_a", Provider: "github", Name: "gh", CreatedAt: t0}))
	must(t, h.st.CreateInstallation(ctx, store.Installation{ID: "inst_gh_a", OrgID: "org_a", ProfileID: "prof_gh_a", Provider: "github", ExternalID: "2311213", IngressID: "ing_gh_a", CreatedAt: t0}))
	must(t, h.st.CreateBinding(ctx, store.Binding{ID: "bind_gh", OrgID: "org_a", InstallationID: "inst_gh_a", AgentID: "agt_a1", Persona: "gh", CreatedAt: t0}))

	sw := filter.Identity{Org: "org_a", Installation: "inst_sw_a", Profile: "prof_sw_a", Provider: "standardwebhooks", IngressID: "ing_sw_a"}
	body := []byte(`{"type":"message.created","timestamp":"2022-11-03T20:26:10Z","data":{"room":{"id":"r-7"},"topic":"t-1","text":"hi"}}`)
	// Without settings the installation cannot be read: refused as malformed.
	wantStatus(t, h.post(path(sw), &sw, body, withHeader("webhook-id", "msg_1")), 400, ReasonMalformedPayload)
	must(t, h.st.(store.InstallationSettings).SetInstallationSettings(ctx, "inst_sw_a", map[string]string{"conversation_pointer": "/data/room/id", "thread_pointer": "/data/topic"}))
	wantStatus(t, h.post(path(sw), &sw, body, withHeader("webhook-id", "msg_1")), 200, "")

	gh := filter.Identity{Org: "org_a", Installation: "inst_gh_a", Profile: "prof_gh_a", Provider: "github", IngressID: "ing_gh_a"}
	comment := readFile(t, "../provider/github/testdata/issue_comment.json")
	wantStatus(t, h.post(path(gh), &gh, comment), 400, ReasonMalformedPayload) // no X-GitHub-Event
	wantStatus(t, h.post(path(gh), &gh, comment, withHeader("X-GitHub-Event", "issue_comment"), withHeader("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")), 200, "")
	ping := h.post(path(gh), &gh, readFile(t, "../provider/github/testdata/ping.json"), withHeader("X-GitHub-Event", "ping"))
	if ping.Code != 200 || ping.Body.String() != "{\"ok\":true}\n" {
		t.Fatalf("ping: %d %q", ping.Code, ping.Body.String())
	}

	got := map[string]bool{}
	for _, e := range h.tasks(t) {
		switch e.Provider {
		case "standardwebhooks":
			if e.Conversation != "r-7" || e.Thread != "t-1" || e.EventID != "msg_1" || e.Text != "" || e.EventType != "message.created" || e.Kind != "message" {
				t.Errorf("standard webhooks envelope %+v", e)
			}
			got[e.Provider] = true
		case "github":
			if e.Conversation != "octo-org/hello-world#42" || e.EventID != "72d3162e-cc78-11e3-81ab-4c9367dc0958" || e.EventType != "issue_comment" {
				t.Errorf("github envelope %+v", e)
			}
			got[e.Provider] = true
		}
	}
	if !got["standardwebhooks"] || !got["github"] {
		t.Fatalf("tasks: %v", got)
	}
}
