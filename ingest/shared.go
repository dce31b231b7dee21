package ingest

import (
	"fmt"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/store"
)

// maxNamed bounds how many installation ids of one event are looked up (a
// body is outside input; Slack names one, Discord at most two).
const maxNamed = 8

// sharedNames are the provider-side installation ids an event of a shared
// platform app names: its Authorized ids, else its Account; none for a DM
// that names no tenant (Discord, a guild install used in the bot's DM).
func sharedNames(ev provider.Event) []string {
	if len(ev.Authorized) > 0 {
		return ev.Authorized
	}
	if ev.Account != "" {
		return []string{ev.Account}
	}
	return nil
}

// choice is the outcome of chooseShared: an installation, or why none.
type choice struct {
	inst   store.Installation
	reason Reason // "" when inst is chosen
	detail string
}

// chooseShared decides which installation of a shared platform app an event
// belongs to, from the installations found in the store:
//
//   - named: the ids the body names (sharedNames); found: the installation
//     found for each of them (absent when none);
//   - when the body names none, sole: the profile's live installations (at
//     most two are needed to see that there is more than one).
//
// Exactly one installation is authorised: it is chosen (revoked or not; the
// caller refuses a revoked one with its own reason). None: unknown
// installation. Several (a Slack Connect channel shared by two tenants of
// the app, a Discord DM to an app installed by several tenants): refused as
// ambiguous, never guessed.
func chooseShared(profile string, named []string, found map[string]store.Installation, sole []store.Installation) choice {
	if len(named) == 0 {
		switch len(sole) {
		case 0:
			return choice{reason: ReasonUnknownInstallation, detail: fmt.Sprintf("shared app event names no tenant and profile %s has no live installation", profile)}
		case 1:
			return choice{inst: sole[0]}
		}
		return choice{reason: ReasonAmbiguousInstallation, detail: fmt.Sprintf("shared app event names no tenant and profile %s has several live installations", profile)}
	}
	var chosen []store.Installation
	for _, n := range named {
		in, ok := found[n]
		if !ok {
			continue
		}
		dup := false
		for _, c := range chosen {
			dup = dup || c.ID == in.ID
		}
		if !dup {
			chosen = append(chosen, in)
		}
	}
	switch len(chosen) {
	case 0:
		return choice{reason: ReasonUnknownInstallation, detail: fmt.Sprintf("no installation of profile %s for account %s", profile, quoteList(named))}
	case 1:
		return choice{inst: chosen[0]}
	}
	return choice{reason: ReasonAmbiguousInstallation, detail: fmt.Sprintf("event of profile %s is authorised for %d installations (%s)", profile, len(chosen), quoteList(named))}
}

func quoteList(ids []string) string {
	out := ""
	for i, id := range ids {
		if i > 0 {
			out += ", "
		}
		out += provider.Quote(id)
	}
	return out
}
