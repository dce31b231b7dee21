package ingest

import (
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/store"
)

func TestSharedNames(t *testing.T) {
	cases := []struct {
		name string
		ev   provider.Event
		want []string
	}{
		{"authorized win over the account", provider.Event{Account: "T1", Authorized: []string{"E1"}}, []string{"E1"}},
		{"account alone", provider.Event{Account: "T1"}, []string{"T1"}},
		{"nothing named (a DM)", provider.Event{}, nil},
	}
	for _, c := range cases {
		got := sharedNames(c.ev)
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestChooseShared(t *testing.T) {
	a := store.Installation{ID: "inst_a", OrgID: "org_a", ExternalID: "T1"}
	b := store.Installation{ID: "inst_b", OrgID: "org_b", ExternalID: "T2"}
	grid := store.Installation{ID: "inst_grid", OrgID: "org_a", ExternalID: "E1"}
	cases := []struct {
		name   string
		named  []string
		found  map[string]store.Installation
		sole   []store.Installation
		want   string
		reason Reason
	}{
		{"one named, found", []string{"T1"}, map[string]store.Installation{"T1": a}, nil, "inst_a", ""},
		{"org-wide install by enterprise id", []string{"E1"}, map[string]store.Installation{"E1": grid}, nil, "inst_grid", ""},
		{"one named, none found", []string{"T9"}, nil, nil, "", ReasonUnknownInstallation},
		{"two named, one found", []string{"T1", "T9"}, map[string]store.Installation{"T1": a}, nil, "inst_a", ""},
		{"two named, both found: ambiguous", []string{"T1", "T2"}, map[string]store.Installation{"T1": a, "T2": b}, nil, "", ReasonAmbiguousInstallation},
		{"same installation under two names", []string{"T1", "T1b"}, map[string]store.Installation{"T1": a, "T1b": a}, nil, "inst_a", ""},
		{"none named, one live installation", nil, nil, []store.Installation{b}, "inst_b", ""},
		{"none named, several live installations", nil, nil, []store.Installation{a, b}, "", ReasonAmbiguousInstallation},
		{"none named, no installation", nil, nil, nil, "", ReasonUnknownInstallation},
		{"named ids decide even when the profile has one installation", []string{"T9"}, nil, []store.Installation{a}, "", ReasonUnknownInstallation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := chooseShared("prof_p", c.named, c.found, c.sole)
			if got.reason != c.reason || got.inst.ID != c.want {
				t.Fatalf("chose %q (%s: %s), want %q (%s)", got.inst.ID, got.reason, got.detail, c.want, c.reason)
			}
			if c.reason != "" && got.detail == "" {
				t.Fatal("refusal without detail")
			}
		})
	}
}

// Shared platform apps on the payload shapes Slack and Discord document,
// through the handler into Redis.
func TestSharedPlatformApps(t *testing.T) {
	h := newHarness(t)
	// An Enterprise Grid org-wide install of the platform Slack app for org
	// a, and a platform Discord application installed by org a and org b.
	for _, p := range []store.AppProfile{
		{ID: "prof_dc_plat", Provider: "discord", Name: "dc plat", ExternalAppID: "1183190493240578048", IngressID: "ing_dc_plat", CreatedAt: t0},
		{ID: "prof_dc_solo", Provider: "discord", Name: "dc solo", ExternalAppID: "1183190493240578048", IngressID: "ing_dc_solo", CreatedAt: t0},
	} {
		must(t, h.st.CreateProfile(ctx, p))
	}
	for _, i := range []store.Installation{
		{ID: "inst_slack_grid", OrgID: "org_a", ProfileID: "prof_slack_plat", Provider: "slack", ExternalID: "E0GRID", IngressID: "ing_slack_grid"},
		{ID: "inst_dc_pa", OrgID: "org_a", ProfileID: "prof_dc_plat", Provider: "discord", ExternalID: "613425648685547541", IngressID: "ing_dc_pa"},
		{ID: "inst_dc_pb", OrgID: "org_b", ProfileID: "prof_dc_plat", Provider: "discord", ExternalID: "53908232506183680", IngressID: "ing_dc_pb"},
		{ID: "inst_dc_solo", OrgID: "org_b", ProfileID: "prof_dc_solo", Provider: "discord", ExternalID: "700000000000000001", IngressID: "ing_dc_solo_b"},
	} {
		i.CreatedAt = t0
		must(t, h.st.CreateInstallation(ctx, i))
	}
	for _, b := range []store.Binding{
		{ID: "bind_grid", OrgID: "org_a", InstallationID: "inst_slack_grid", AgentID: "agt_a1", Persona: "grid"},
		{ID: "bind_slack_pa", OrgID: "org_a", InstallationID: "inst_slack_pa", AgentID: "agt_a2", Persona: "connect"},
		{ID: "bind_dc_pb", OrgID: "org_b", InstallationID: "inst_dc_pb", AgentID: "agt_b1", Persona: "dm"},
		{ID: "bind_dc_solo", OrgID: "org_b", InstallationID: "inst_dc_solo", AgentID: "agt_b1", Persona: "solo"},
	} {
		b.CreatedAt = t0
		must(t, h.st.CreateBinding(ctx, b))
	}
	idDcP := filter.Identity{Profile: "prof_dc_plat", Provider: "discord", IngressID: "ing_dc_plat", Platform: true}
	idDcSolo := filter.Identity{Profile: "prof_dc_solo", Provider: "discord", IngressID: "ing_dc_solo", Platform: true}
	slackAs := func(outerTeam, eventID string, auths ...string) []byte {
		s := `{"team_id":"` + outerTeam + `","api_app_id":"APLAT","type":"event_callback","event_id":"` + eventID +
			`","event":{"type":"message","channel":"C0SHARED","user":"U0GUEST","text":"hi","ts":"3.3"},"is_ext_shared_channel":true,"authorizations":[`
		for i, a := range auths {
			if i > 0 {
				s += ","
			}
			s += a
		}
		return []byte(s + `]}`)
	}
	team := func(id string) string {
		return `{"enterprise_id":null,"team_id":"` + id + `","user_id":"UBOT","is_bot":true,"is_enterprise_install":false}`
	}
	grid := readFile(t, "../provider/slack/testdata/enterprise_org_wide_message.json")
	grid = []byte(replaceAll(string(grid), `"A0001"`, `"APLAT"`))
	gridCmd := []byte(replaceAll(string(readFile(t, "../provider/slack/testdata/enterprise_slash_command.form")), "api_app_id=A0001", "api_app_id=APLAT"))
	dmUser := readFile(t, "../provider/discord/testdata/dm_user_install.json")
	dmBot := readFile(t, "../provider/discord/testdata/dm_guild_install_bot_dm.json")

	cases := []struct {
		name   string
		id     filter.Identity
		body   []byte
		ct     string
		status int
		reason Reason
		key    string // session key of the one task expected
	}{
		{"enterprise org-wide install: event in a workspace of the grid", idSlackP, grid, "", 200, "",
			"s1/org_a/slack/inst_slack_grid/C0GRID//agt_a1/grid"},
		{"enterprise org-wide install: slash command", idSlackP, gridCmd, "application/x-www-form-urlencoded", 200, "",
			"s1/org_a/slack/inst_slack_grid/C0GRID//agt_a1/grid"},
		{"slack connect: authorizations name org a's team, event from org b's team", idSlackP, slackAs("T0002", "EvC1", team("T0001")), "", 200, "",
			"s1/org_a/slack/inst_slack_pa/C0SHARED//agt_a2/connect"},
		{"slack connect: authorised for both tenants", idSlackP, slackAs("T0002", "EvC2", team("T0001"), team("T0002")), "", 403, ReasonAmbiguousInstallation, ""},
		{"slack connect: authorised for a team with no installation", idSlackP, slackAs("T0001", "EvC3", team("T0404")), "", 403, ReasonUnknownInstallation, ""},
		{"byoa: slack connect event on the authorised installation's path", idSlackA,
			[]byte(replaceAll(string(slackAs("T0OTHER", "EvC4", team("T0001"))), "APLAT", "A0001")), "", 200, "",
			"s1/org_a/slack/inst_slack_a/C0SHARED//agt_a1/default"},
		{"byoa: event authorised for another team", idSlackA,
			[]byte(replaceAll(string(slackAs("T0001", "EvC5", team("T0002"))), "APLAT", "A0001")), "", 403, ReasonTenantMismatch, ""},
		{"discord DM, user install: the user's installation", idDcP, dmUser, "", 200, "",
			"s1/org_b/discord/inst_dc_pb/900000000000000002//agt_b1/dm"},
		{"discord DM to the bot, app installed by two tenants", idDcP, dmBot, "", 403, ReasonAmbiguousInstallation, ""},
		{"discord DM to the bot, app installed by one tenant", idDcSolo, dmBot, "", 200, "",
			"s1/org_b/discord/inst_dc_solo/900000000000000003//agt_b1/solo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.tasks(t)
			var opts []reqOpt
			if c.ct != "" {
				opts = append(opts, withCT(c.ct))
			}
			wantStatus(t, h.post(path(c.id), &c.id, c.body, opts...), c.status, c.reason)
			after := h.tasks(t)
			var fresh []string
			for k, e := range after {
				if _, ok := before[k]; !ok {
					fresh = append(fresh, e.SessionKey)
				}
			}
			switch {
			case c.key == "" && len(fresh) != 0:
				t.Fatalf("refused event enqueued %v", fresh)
			case c.key != "" && (len(fresh) != 1 || fresh[0] != c.key):
				t.Fatalf("new tasks %v, want one with session key %s", fresh, c.key)
			}
		})
	}
}

func replaceAll(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
