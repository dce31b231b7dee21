// Package routing selects the target agents of an event from an installation's
// channel bindings. It is pure: bindings and event in, targets out.
//
// Rules (deterministic):
//   - A binding matches when every non-empty selector field matches the event:
//     Account = event account (team / workspace / phone number id / guild),
//     Channel = conversation, Peer = sender, Mention ∈ event mentions (compared
//     after provider.NormalizeMention: no leading "@", lower case). Revoked
//     bindings never match.
//   - Rank: more non-empty selector fields first (most specific wins), then
//     higher Priority, then the smaller binding id.
//   - Explicit mention: when the event mentions agents — a matching binding whose
//     selector.Mention matched, or a matching binding whose AgentID itself is
//     among the mentions — every mentioned agent is a target, each through its
//     best-ranked matching binding. Two agents mentioned in one shared channel
//     give two targets.
//   - Otherwise the single best-ranked matching binding is the target.
//   - No matching binding: no target (ingest acknowledges and logs no_binding).
package routing

import (
	"sort"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/store"
)

// Event is what routing looks at.
type Event struct {
	Account  string
	Channel  string
	Peer     string
	Mentions []string // normalised or not; normalised again here
}

// Specificity is the number of non-empty selector fields.
func Specificity(s store.Selector) int {
	n := 0
	for _, f := range []string{s.Account, s.Channel, s.Peer, s.Mention} {
		if f != "" {
			n++
		}
	}
	return n
}

// Less reports whether binding a ranks before b.
func Less(a, b store.Binding) bool {
	if sa, sb := Specificity(a.Selector), Specificity(b.Selector); sa != sb {
		return sa > sb
	}
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.ID < b.ID
}

// Matches reports whether binding b applies to the event.
func Matches(b store.Binding, ev Event, mentions map[string]bool) bool {
	s := b.Selector
	if b.RevokedAt != nil {
		return false
	}
	if (s.Account != "" && s.Account != ev.Account) ||
		(s.Channel != "" && s.Channel != ev.Channel) ||
		(s.Peer != "" && s.Peer != ev.Peer) {
		return false
	}
	if s.Mention != "" && !mentions[provider.NormalizeMention(s.Mention)] {
		return false
	}
	return true
}

// Select returns the target bindings of the event, best-ranked first, at most
// one per agent. See the package comment for the rules.
func Select(bindings []store.Binding, ev Event) []store.Binding {
	mentions := make(map[string]bool, len(ev.Mentions))
	for _, m := range ev.Mentions {
		if m = provider.NormalizeMention(m); m != "" {
			mentions[m] = true
		}
	}
	var cands []store.Binding
	for _, b := range bindings {
		if Matches(b, ev, mentions) {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.SliceStable(cands, func(i, j int) bool { return Less(cands[i], cands[j]) })

	mentioned := map[string]bool{}
	for _, b := range cands {
		if b.Selector.Mention != "" || mentions[provider.NormalizeMention(b.AgentID)] {
			mentioned[b.AgentID] = true
		}
	}
	if len(mentioned) == 0 {
		return cands[:1]
	}
	var out []store.Binding
	seen := map[string]bool{}
	for _, b := range cands { // ranked: the first binding of an agent is its best
		if mentioned[b.AgentID] && !seen[b.AgentID] {
			seen[b.AgentID] = true
			out = append(out, b)
		}
	}
	return out
}
