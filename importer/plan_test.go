package importer

import (
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// TestIdentity: how an account resolves to the platform's profile or the
// organisation's own, and when it is refused (pure: no store).
func TestIdentity(t *testing.T) {
	fp := func(v string) string { return "fp:" + v }
	plat := func(id, secret string) ProfileState {
		return ProfileState{AppProfile: store.AppProfile{ID: id, Provider: "telegram", ExternalAppID: "42"},
			Secrets: map[string]string{store.PurposeSecretToken: fp(secret)}}
	}
	own := map[string]string{store.PurposeSecretToken: "own-secret", store.PurposeBotToken: "42:abc"}
	tests := []struct {
		name      string
		acc       Account
		platforms []ProfileState
		claims    []Claim
		keys      map[string]store.ImportKey
		action    Action
		reason    Reason
		identity  string
	}{
		{name: "no secrets, no identity", acc: Account{}, platforms: []ProfileState{plat("p1", "s1")}, action: Conflict, reason: ReasonMissingSecret},
		{name: "org without its verify secret", acc: Account{Identity: IdentityOrg, Secrets: map[string]string{store.PurposeBotToken: "42:abc"}}, action: Conflict, reason: ReasonMissingSecret},
		{name: "platform, none exists", acc: Account{Identity: IdentityPlatform}, action: Conflict, reason: ReasonNoPlatform},
		{name: "platform, two exist", acc: Account{Identity: IdentityPlatform}, platforms: []ProfileState{plat("p1", "s1"), plat("p2", "s2")}, action: Conflict, reason: ReasonAmbiguousProfile},
		{name: "platform by profile id", acc: Account{Identity: IdentityPlatform, ProfileID: "p2"}, platforms: []ProfileState{plat("p1", "s1"), plat("p2", "s2")}, action: Unchanged, identity: IdentityPlatform},
		{name: "platform, unknown profile id", acc: Account{Identity: IdentityPlatform, ProfileID: "p9"}, platforms: []ProfileState{plat("p1", "s1")}, action: Conflict, reason: ReasonNoPlatform},
		{name: "platform, secret differs", acc: Account{Identity: IdentityPlatform, ProfileID: "p1", Secrets: map[string]string{store.PurposeSecretToken: "other"}}, platforms: []ProfileState{plat("p1", "s1")}, action: Conflict, reason: ReasonSecretMismatch},
		{name: "platform, secret given but no profile has it", acc: Account{Identity: IdentityPlatform, Secrets: map[string]string{store.PurposeSecretToken: "other"}}, platforms: []ProfileState{plat("p1", "s1")}, action: Conflict, reason: ReasonSecretMismatch},
		{name: "secret is the platform's: platform", acc: Account{Secrets: map[string]string{store.PurposeSecretToken: "s1"}}, platforms: []ProfileState{plat("p1", "s1")}, action: Unchanged, identity: IdentityPlatform},
		{name: "secret is the platform's, said org", acc: Account{Identity: IdentityOrg, Secrets: map[string]string{store.PurposeSecretToken: "s1"}}, platforms: []ProfileState{plat("p1", "s1")}, action: Conflict, reason: ReasonSecretMismatch},
		{name: "own secrets: org profile", acc: Account{Secrets: own}, platforms: []ProfileState{plat("p1", "s1")}, action: Create, identity: IdentityOrg},
		{name: "own secrets held by another org", acc: Account{Secrets: own},
			claims: []Claim{{Provider: "telegram", Purpose: store.PurposeSecretToken, Fingerprint: fp("own-secret"), OrgID: "org_b", OwnerKind: "profile", OwnerID: "prof_b"}},
			action: Conflict, reason: ReasonOtherOrg},
		{name: "own secrets already on the org's profile", acc: Account{Secrets: own},
			claims: []Claim{{Provider: "telegram", Purpose: store.PurposeSecretToken, Fingerprint: fp("own-secret"), OrgID: "org_a", OwnerKind: "profile", OwnerID: "prof_a"}},
			action: Conflict, reason: ReasonExists},
		{name: "own secrets on the org's imported profile", acc: Account{Secrets: own},
			claims: []Claim{{Provider: "telegram", Purpose: store.PurposeSecretToken, Fingerprint: fp("own-secret"), OrgID: "org_a", OwnerKind: "profile", OwnerID: "prof_a"}},
			keys:   map[string]store.ImportKey{"telegram/profile": {Key: "telegram/profile", Kind: store.ImportProfile, ObjectID: "prof_a", Digest: digest([]any{"profile", "telegram", "", "42"}), RunID: "imp_1"}},
			action: Unchanged, identity: IdentityOrg},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := tc.acc
			acc.Key, acc.Where, acc.Provider = "telegram", "providers.telegram", "telegram"
			if acc.Secrets[store.PurposeBotToken] != "" {
				acc.ExternalAppID = "42"
			}
			st := &State{OrgID: "org_a", OrgLive: true, PlatformProfiles: tc.platforms, Claims: tc.claims, Keys: tc.keys,
				Live: map[string]bool{"prof_a": true}, ObjectSecrets: map[string]map[string]string{"prof_a": {store.PurposeSecretToken: fp("own-secret")}}}
			if st.Keys == nil {
				st.Keys = map[string]store.ImportKey{}
			}
			pl := BuildPlan(&Source{Accounts: []Account{acc}}, st, fp)
			r := pl.Rows[0]
			if r.Kind != "profile" || r.Action != tc.action || r.Reason != tc.reason || (tc.identity != "" && r.Identity != tc.identity) {
				t.Fatalf("row %+v, want %s (%s) identity %q", r, tc.action, tc.reason, tc.identity)
			}
			if r.Action == Conflict && r.op != nil {
				t.Fatal("a conflict row carries a create")
			}
		})
	}
}

// TestMissingOrg: nothing is created in an organisation that does not exist.
func TestMissingOrg(t *testing.T) {
	fp := func(v string) string { return "fp:" + v }
	src := &Source{Accounts: []Account{{Key: "telegram", Provider: "telegram", Secrets: map[string]string{store.PurposeSecretToken: "x"}}},
		Agents: []Agent{{Key: "agent/a", URL: "https://a.example"}}}
	pl := BuildPlan(src, &State{OrgID: "org_gone", Keys: map[string]store.ImportKey{}}, fp)
	for _, r := range pl.Rows {
		if r.Action == Create || r.op != nil {
			t.Fatalf("row %+v would be created in a missing org", r)
		}
	}
}
