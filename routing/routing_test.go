package routing

import (
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

func b(id, agent string, prio int, sel store.Selector) store.Binding {
	return store.Binding{ID: id, InstallationID: "inst_1", AgentID: agent, Persona: "p-" + id, Priority: prio, Selector: sel}
}

func ids(bs []store.Binding) []string {
	var out []string
	for _, x := range bs {
		out = append(out, x.ID)
	}
	return out
}

func TestSelect(t *testing.T) {
	revoked := time.Unix(1, 0)
	catchAll := b("bind_catch", "agt_a", 0, store.Selector{})
	team := b("bind_team", "agt_b", 0, store.Selector{Account: "T1"})
	channel := b("bind_chan", "agt_c", 0, store.Selector{Account: "T1", Channel: "C1"})
	peer := b("bind_peer", "agt_d", 0, store.Selector{Account: "T1", Channel: "C1", Peer: "U9"})
	chanHigh := b("bind_chan_hi", "agt_e", 10, store.Selector{Channel: "C1", Account: "T1"})
	chanSameA := b("bind_aaa", "agt_f", 0, store.Selector{Account: "T1", Channel: "C1"})
	support := b("bind_support", "agt_s", 0, store.Selector{Channel: "C2", Mention: "@Support"})
	billing := b("bind_billing", "agt_bill", 0, store.Selector{Channel: "C2", Mention: "@billing"})
	shared1 := b("bind_sh1", "agt_x", 0, store.Selector{Channel: "C3"})
	shared2 := b("bind_sh2", "agt_y", 5, store.Selector{Channel: "C3"})
	dead := b("bind_dead", "agt_z", 100, store.Selector{Account: "T1", Channel: "C1", Peer: "U9", Mention: "x"})
	dead.RevokedAt = &revoked

	cases := []struct {
		name     string
		bindings []store.Binding
		ev       Event
		want     []string
	}{
		{"nothing bound", nil, Event{Account: "T1", Channel: "C1"}, nil},
		{"no match", []store.Binding{team}, Event{Account: "T2", Channel: "C1"}, nil},
		{"catch-all", []store.Binding{catchAll}, Event{Account: "T1", Channel: "C9"}, []string{"bind_catch"}},
		{"account beats catch-all", []store.Binding{catchAll, team}, Event{Account: "T1", Channel: "C9"}, []string{"bind_team"}},
		{"channel beats account", []store.Binding{team, channel, catchAll}, Event{Account: "T1", Channel: "C1"}, []string{"bind_chan"}},
		{"peer beats channel", []store.Binding{channel, peer}, Event{Account: "T1", Channel: "C1", Peer: "U9"}, []string{"bind_peer"}},
		{"peer selector needs that peer", []store.Binding{channel, peer}, Event{Account: "T1", Channel: "C1", Peer: "U1"}, []string{"bind_chan"}},
		{"priority breaks a specificity tie", []store.Binding{channel, chanHigh}, Event{Account: "T1", Channel: "C1"}, []string{"bind_chan_hi"}},
		{"specificity beats priority", []store.Binding{chanHigh, peer}, Event{Account: "T1", Channel: "C1", Peer: "U9"}, []string{"bind_peer"}},
		{"id breaks a full tie", []store.Binding{channel, chanSameA}, Event{Account: "T1", Channel: "C1"}, []string{"bind_aaa"}},
		{"id tie independent of input order", []store.Binding{chanSameA, channel}, Event{Account: "T1", Channel: "C1"}, []string{"bind_aaa"}},
		{"revoked never matches", []store.Binding{dead, channel}, Event{Account: "T1", Channel: "C1", Peer: "U9", Mentions: []string{"x"}}, []string{"bind_chan"}},
		{"mention selector needs the mention", []store.Binding{support}, Event{Channel: "C2"}, nil},
		{"mention selects, case-insensitive", []store.Binding{support, billing}, Event{Channel: "C2", Mentions: []string{"support"}}, []string{"bind_support"}},
		{"mention beats a more specific binding of another agent", []store.Binding{peer, b("bind_m", "agt_m", 0, store.Selector{Mention: "legal"})},
			Event{Account: "T1", Channel: "C1", Peer: "U9", Mentions: []string{"@legal"}}, []string{"bind_m"}},
		{"two agents mentioned: two targets", []store.Binding{support, billing}, Event{Channel: "C2", Mentions: []string{"@billing", "@support"}}, []string{"bind_billing", "bind_support"}},
		{"shared channel without mention: best one", []store.Binding{shared1, shared2}, Event{Channel: "C3"}, []string{"bind_sh2"}},
		{"agent mentioned by id", []store.Binding{shared1, shared2}, Event{Channel: "C3", Mentions: []string{"agt_x"}}, []string{"bind_sh1"}},
		{"both agents mentioned by id", []store.Binding{shared1, shared2}, Event{Channel: "C3", Mentions: []string{"AGT_X", "agt_y"}}, []string{"bind_sh2", "bind_sh1"}},
		{"mentioned agent not bound here is ignored", []store.Binding{shared1}, Event{Channel: "C3", Mentions: []string{"agt_q"}}, []string{"bind_sh1"}},
		{"one target per agent: its best binding", []store.Binding{
			b("bind_1", "agt_s", 0, store.Selector{Mention: "support"}),
			b("bind_2", "agt_s", 0, store.Selector{Channel: "C2", Mention: "support"}),
		}, Event{Channel: "C2", Mentions: []string{"support"}}, []string{"bind_2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ids(Select(c.bindings, c.ev))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Select = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSpecificity(t *testing.T) {
	if Specificity(store.Selector{}) != 0 || Specificity(store.Selector{Account: "a", Channel: "c", Peer: "p", Mention: "m"}) != 4 {
		t.Fatal("specificity counts wrong")
	}
}
