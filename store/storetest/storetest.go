// Package storetest is the conformance suite every store backend runs:
// storetest.Run(t, open) with open returning a fresh, empty, migrated store.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Run runs every conformance test; open is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"OrgsAndAgencies", testOrgsAndAgencies},
		{"Profiles", testProfiles},
		{"Installations", testInstallations},
		{"FindInstallation", testFindInstallation},
		{"Revocations", testRevocations},
		{"Secrets", testSecrets},
		{"AgentsAndBindings", testAgentsAndBindings},
		{"Stages", testStages},
		{"Evidence", testEvidence},
		{"Audit", testAudit},
		{"Tokens", testTokens},
		{"IdenticalBindings", testIdenticalBindings},
		{"TokenExpiry", testTokenExpiry},
		{"InTxRollback", testInTxRollback},
		{"InTxCommit", testInTxCommit},
		{"Generation", testGeneration},
		{"TimesAreUTC", testTimesAreUTC},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ImportKeys", testImportKeys},
		{"SetupRecords", testSetupRecords},
		{"InstallationSettings", testInstallationSettings}, // settings.go
		{"ActivityRecords", testActivityRecords},
		{"OrgLimits", testOrgLimits},                             // limits.go
		{"GenerationAndRevocation", testGenerationAndRevocation}, // genrev.go
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// t0 has sub-microsecond digits and a non-UTC zone on purpose: stores keep
// microseconds in UTC.
var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("CET", 3600))

func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func id(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func ingress() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func equal(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// Fixture is a small tenant tree the tests build on.
type fixture struct {
	agency store.Agency
	org    store.Org
	other  store.Org
	prof   store.AppProfile
	inst   store.Installation
	agent  store.Agent
}

func newFixture(t *testing.T, s store.Store) fixture {
	t.Helper()
	var f fixture
	f.agency = store.Agency{ID: id("agc"), Name: "Agency", CreatedAt: us(t0)}
	must(t, s.CreateAgency(ctx, f.agency))
	f.org = store.Org{ID: id("org"), Name: "Acme", AgencyID: f.agency.ID, CreatedAt: us(t0)}
	must(t, s.CreateOrg(ctx, f.org))
	f.other = store.Org{ID: id("org"), Name: "Other", CreatedAt: us(t0.Add(time.Second))}
	must(t, s.CreateOrg(ctx, f.other))
	f.prof = store.AppProfile{ID: id("prof"), OwnerOrgID: f.org.ID, Provider: "slack", Name: "Acme bot",
		ExternalAppID: "A123", CreatedAt: us(t0)}
	must(t, s.CreateProfile(ctx, f.prof))
	f.inst = store.Installation{ID: id("inst"), OrgID: f.org.ID, ProfileID: f.prof.ID, Provider: "slack",
		ExternalID: "T123", IngressID: ingress(), CreatedAt: us(t0)}
	must(t, s.CreateInstallation(ctx, f.inst))
	f.agent = store.Agent{ID: id("agt"), OrgID: f.org.ID, Name: "support", URL: "http://127.0.0.1:1/hook", CreatedAt: us(t0)}
	must(t, s.CreateAgent(ctx, f.agent))
	return f
}

func testOrgsAndAgencies(t *testing.T, s store.Store) {
	f := newFixture(t, s)

	a, err := s.GetAgency(ctx, f.agency.ID)
	must(t, err)
	equal(t, a, f.agency, "agency")
	as, err := s.ListAgencies(ctx)
	must(t, err)
	equal(t, as, []store.Agency{f.agency}, "agencies")
	_, err = s.GetAgency(ctx, "agc_missing")
	wantErr(t, err, store.ErrNotFound, "get missing agency")
	wantErr(t, s.CreateAgency(ctx, f.agency), store.ErrConflict, "duplicate agency")
	agAt := us(t0.Add(2 * time.Hour))
	must(t, s.RevokeAgency(ctx, f.agency.ID, agAt))
	must(t, s.RevokeAgency(ctx, f.agency.ID, agAt.Add(time.Hour))) // keeps the first time
	a, err = s.GetAgency(ctx, f.agency.ID)
	must(t, err)
	if a.RevokedAt == nil || !a.RevokedAt.Equal(agAt) {
		t.Fatalf("revoked agency: RevokedAt = %v, want %v", a.RevokedAt, agAt)
	}
	wantErr(t, s.RevokeAgency(ctx, "agc_missing", agAt), store.ErrNotFound, "revoke missing agency")

	o, err := s.GetOrg(ctx, f.org.ID)
	must(t, err)
	equal(t, o, f.org, "org")
	all, err := s.ListOrgs(ctx, "")
	must(t, err)
	equal(t, all, []store.Org{f.org, f.other}, "all orgs")
	managed, err := s.ListOrgs(ctx, f.agency.ID)
	must(t, err)
	equal(t, managed, []store.Org{f.org}, "orgs of agency")
	none, err := s.ListOrgs(ctx, "agc_none")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("orgs of unknown agency: %v", none)
	}

	wantErr(t, s.CreateOrg(ctx, f.org), store.ErrConflict, "duplicate org")
	wantErr(t, s.CreateOrg(ctx, store.Org{ID: id("org"), Name: "x", AgencyID: "agc_missing", CreatedAt: t0}),
		store.ErrNotFound, "org of missing agency")
	_, err = s.GetOrg(ctx, "org_missing")
	wantErr(t, err, store.ErrNotFound, "get missing org")

	at := t0.Add(time.Hour)
	must(t, s.RevokeOrg(ctx, f.org.ID, at))
	must(t, s.RevokeOrg(ctx, f.org.ID, at.Add(time.Hour))) // keeps the first time
	o, err = s.GetOrg(ctx, f.org.ID)
	must(t, err)
	if o.RevokedAt == nil || !o.RevokedAt.Equal(us(at)) {
		t.Fatalf("revoked org: RevokedAt = %v, want %v", o.RevokedAt, at)
	}
	wantErr(t, s.RevokeOrg(ctx, "org_missing", at), store.ErrNotFound, "revoke missing org")
}

func testProfiles(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	plat := store.AppProfile{ID: id("prof"), OwnerOrgID: store.OwnerPlatform, Provider: "slack", Name: "Platform Slack",
		ExternalAppID: "A999", IngressID: ingress(), CreatedAt: us(t0.Add(time.Second))}
	must(t, s.CreateProfile(ctx, plat))

	p, err := s.GetProfile(ctx, plat.ID)
	must(t, err)
	equal(t, p, plat, "platform profile")

	all, err := s.ListProfiles(ctx, nil)
	must(t, err)
	equal(t, all, []store.AppProfile{f.prof, plat}, "all profiles")
	platform := store.OwnerPlatform
	got, err := s.ListProfiles(ctx, &platform)
	must(t, err)
	equal(t, got, []store.AppProfile{plat}, "platform profiles")
	got, err = s.ListProfiles(ctx, &f.org.ID)
	must(t, err)
	equal(t, got, []store.AppProfile{f.prof}, "org profiles")
	got, err = s.ListProfiles(ctx, &f.other.ID)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("other org's profiles: %v", got)
	}

	dup := plat
	dup.ID = id("prof")
	wantErr(t, s.CreateProfile(ctx, dup), store.ErrConflict, "duplicate profile ingress id")
	// Org profiles have no ingress id: many may leave it empty.
	second := f.prof
	second.ID = id("prof")
	must(t, s.CreateProfile(ctx, second))
	wantErr(t, s.CreateProfile(ctx, store.AppProfile{ID: id("prof"), OwnerOrgID: "org_missing", Provider: "slack", Name: "x", CreatedAt: t0}),
		store.ErrNotFound, "profile of missing org")

	must(t, s.RevokeProfile(ctx, plat.ID, t0))
	p, err = s.GetProfile(ctx, plat.ID)
	must(t, err)
	if p.RevokedAt == nil {
		t.Fatal("revoked profile has no RevokedAt")
	}
	wantErr(t, s.RevokeProfile(ctx, "prof_missing", t0), store.ErrNotFound, "revoke missing profile")
	_, err = s.GetProfile(ctx, "prof_missing")
	wantErr(t, err, store.ErrNotFound, "get missing profile")
}

func testInstallations(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	i, err := s.GetInstallation(ctx, f.inst.ID)
	must(t, err)
	equal(t, i, f.inst, "installation")
	i, err = s.GetInstallationByIngress(ctx, f.inst.IngressID)
	must(t, err)
	equal(t, i, f.inst, "installation by ingress")
	_, err = s.GetInstallationByIngress(ctx, ingress())
	wantErr(t, err, store.ErrNotFound, "unknown ingress id")
	_, err = s.GetInstallation(ctx, "inst_missing")
	wantErr(t, err, store.ErrNotFound, "get missing installation")

	// Duplicate ingress id: ErrConflict, nothing written.
	dup := store.Installation{ID: id("inst"), OrgID: f.other.ID, ProfileID: f.prof.ID, Provider: "slack",
		IngressID: f.inst.IngressID, CreatedAt: t0}
	wantErr(t, s.CreateInstallation(ctx, dup), store.ErrConflict, "duplicate ingress id")
	_, err = s.GetInstallation(ctx, dup.ID)
	wantErr(t, err, store.ErrNotFound, "installation refused for a duplicate ingress id")

	wantErr(t, s.CreateInstallation(ctx, store.Installation{ID: id("inst"), OrgID: f.org.ID, ProfileID: "prof_missing",
		Provider: "slack", IngressID: ingress(), CreatedAt: t0}), store.ErrNotFound, "installation of missing profile")

	second := store.Installation{ID: id("inst"), OrgID: f.other.ID, ProfileID: f.prof.ID, Provider: "slack",
		ExternalID: "T777", IngressID: ingress(), PlatformCredentials: true, CreatedAt: us(t0.Add(time.Minute))}
	must(t, s.CreateInstallation(ctx, second))
	all, err := s.ListInstallations(ctx, "")
	must(t, err)
	equal(t, all, []store.Installation{f.inst, second}, "all installations")
	mine, err := s.ListInstallations(ctx, f.other.ID)
	must(t, err)
	equal(t, mine, []store.Installation{second}, "installations of other org")

	must(t, s.SetPlatformCredentials(ctx, f.inst.ID, !f.inst.PlatformCredentials))
	i, err = s.GetInstallation(ctx, f.inst.ID)
	must(t, err)
	if i.PlatformCredentials == f.inst.PlatformCredentials {
		t.Fatalf("SetPlatformCredentials(%v) did not change the installation", !f.inst.PlatformCredentials)
	}
	must(t, s.SetPlatformCredentials(ctx, f.inst.ID, f.inst.PlatformCredentials))
	wantErr(t, s.SetPlatformCredentials(ctx, "inst_missing", true), store.ErrNotFound, "opt-in of missing installation")

	at := us(t0.Add(time.Hour))
	must(t, s.RevokeInstallation(ctx, f.inst.ID, at))
	i, err = s.GetInstallation(ctx, f.inst.ID)
	must(t, err)
	if i.RevokedAt == nil || !i.RevokedAt.Equal(at) {
		t.Fatalf("revoked installation RevokedAt = %v, want %v", i.RevokedAt, at)
	}
	wantErr(t, s.RevokeInstallation(ctx, "inst_missing", at), store.ErrNotFound, "revoke missing installation")
}

func testFindInstallation(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	got, err := s.FindInstallation(ctx, f.prof.ID, "T123")
	must(t, err)
	equal(t, got, f.inst, "find by external id")
	_, err = s.FindInstallation(ctx, f.prof.ID, "T404")
	wantErr(t, err, store.ErrNotFound, "unknown external id")
	_, err = s.FindInstallation(ctx, "prof_other", "T123")
	wantErr(t, err, store.ErrNotFound, "external id of another profile")
	_, err = s.FindInstallation(ctx, f.prof.ID, "")
	wantErr(t, err, store.ErrNotFound, "empty external id")

	// A second live installation for the same team of the same profile conflicts.
	dup := store.Installation{ID: id("inst"), OrgID: f.other.ID, ProfileID: f.prof.ID, Provider: "slack",
		ExternalID: "T123", IngressID: ingress(), CreatedAt: us(t0.Add(time.Minute))}
	wantErr(t, s.CreateInstallation(ctx, dup), store.ErrConflict, "second live installation of one team")

	// After a revocation the team may be installed again; Find prefers the live one.
	must(t, s.RevokeInstallation(ctx, f.inst.ID, t0.Add(time.Second)))
	revoked, err := s.FindInstallation(ctx, f.prof.ID, "T123")
	must(t, err)
	if revoked.ID != f.inst.ID || revoked.RevokedAt == nil {
		t.Fatalf("only a revoked installation: got %+v", revoked)
	}
	must(t, s.CreateInstallation(ctx, dup))
	got, err = s.FindInstallation(ctx, f.prof.ID, "T123")
	must(t, err)
	equal(t, got, dup, "live installation preferred")

	live, err := s.ListLiveInstallations(ctx, f.prof.ID, 2)
	must(t, err)
	equal(t, live, []store.Installation{dup}, "live installations of the profile")
	third := store.Installation{ID: id("inst"), OrgID: f.org.ID, ProfileID: f.prof.ID, Provider: "slack",
		ExternalID: "T999", IngressID: ingress(), CreatedAt: us(t0.Add(2 * time.Minute))}
	must(t, s.CreateInstallation(ctx, third))
	live, err = s.ListLiveInstallations(ctx, f.prof.ID, 1)
	must(t, err)
	equal(t, live, []store.Installation{dup}, "live installations, limited")
	live, err = s.ListLiveInstallations(ctx, "prof_other", 2)
	must(t, err)
	if len(live) != 0 {
		t.Fatalf("live installations of another profile: %+v", live)
	}
}

func testRevocations(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	_, err := s.GetRevocation(ctx, f.inst.ID, "")
	wantErr(t, err, store.ErrNotFound, "no revocation yet")

	g0, err := s.Generation(ctx)
	must(t, err)
	chat := store.Revocation{InstallationID: f.inst.ID, Conversation: "C1", Reason: "my_chat_member.kicked", EventID: "10006", RevokedAt: us(t0)}
	must(t, s.PutRevocation(ctx, chat))
	g1, err := s.Generation(ctx)
	must(t, err)
	if g1 != g0 {
		t.Fatalf("a conversation's revocation moved the generation %d -> %d (the edge does not serve conversations)", g0, g1)
	}
	got, err := s.GetRevocation(ctx, f.inst.ID, "C1")
	must(t, err)
	equal(t, got, chat, "conversation revocation")
	_, err = s.GetRevocation(ctx, f.inst.ID, "")
	wantErr(t, err, store.ErrNotFound, "a conversation's revocation is not the installation's")
	_, err = s.GetRevocation(ctx, f.inst.ID, "C2")
	wantErr(t, err, store.ErrNotFound, "another conversation")

	// A second report keeps the first reason and time.
	must(t, s.PutRevocation(ctx, store.Revocation{InstallationID: f.inst.ID, Conversation: "C1", Reason: "my_chat_member.left", RevokedAt: us(t0.Add(time.Hour))}))
	got, err = s.GetRevocation(ctx, f.inst.ID, "C1")
	must(t, err)
	equal(t, got, chat, "first revocation kept")

	must(t, s.DeleteRevocation(ctx, f.inst.ID, "C1"))
	_, err = s.GetRevocation(ctx, f.inst.ID, "C1")
	wantErr(t, err, store.ErrNotFound, "lifted conversation revocation")
	wantErr(t, s.DeleteRevocation(ctx, f.inst.ID, "C1"), store.ErrNotFound, "lift twice")

	whole := store.Revocation{InstallationID: f.inst.ID, Reason: "app_uninstalled", EventID: "Ev1", RevokedAt: us(t0)}
	must(t, s.PutRevocation(ctx, whole))
	g2, err := s.Generation(ctx)
	must(t, err)
	if g2 <= g1 {
		t.Fatalf("an installation's revocation left the generation at %d", g2)
	}
	got, err = s.GetRevocation(ctx, f.inst.ID, "")
	must(t, err)
	equal(t, got, whole, "installation revocation")
	wantErr(t, s.DeleteRevocation(ctx, f.inst.ID, ""), store.ErrConflict, "lift an installation's revocation")

	wantErr(t, s.PutRevocation(ctx, store.Revocation{InstallationID: "inst_missing", Reason: "x", RevokedAt: t0}), store.ErrNotFound, "revocation of a missing installation")
}

func sealed(id, ownerKind, ownerID, purpose string, at time.Time) store.Secret {
	return store.Secret{ID: id, OwnerKind: ownerKind, OwnerID: ownerID, Purpose: purpose, KeyID: "k1",
		Ciphertext: []byte("ciphertext-" + id), Fingerprint: "sha256:" + id, NotBefore: us(at), CreatedAt: us(at)}
}

func testSecrets(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	s1 := sealed(id("sec"), store.OwnerInstallation, f.inst.ID, store.PurposeSigning, t0)
	s2 := sealed(id("sec"), store.OwnerInstallation, f.inst.ID, store.PurposeBotToken, t0.Add(time.Second))
	s3 := sealed(id("sec"), store.OwnerProfile, f.prof.ID, store.PurposeSigning, t0.Add(2*time.Second))
	for _, sec := range []store.Secret{s1, s2, s3} {
		must(t, s.CreateSecret(ctx, sec))
	}
	wantErr(t, s.CreateSecret(ctx, s1), store.ErrConflict, "duplicate secret id")
	if err := s.CreateSecret(ctx, store.Secret{ID: id("sec"), OwnerKind: store.OwnerAgent, OwnerID: f.agent.ID,
		Purpose: store.PurposeSigning, NotBefore: t0, CreatedAt: t0}); err == nil {
		t.Fatal("secret without ciphertext accepted")
	}

	got, err := s.ListSecrets(ctx, store.OwnerInstallation, f.inst.ID)
	must(t, err)
	equal(t, got, []store.Secret{s1, s2}, "installation secrets")
	all, err := s.ListAllSecrets(ctx)
	must(t, err)
	equal(t, all, []store.Secret{s1, s2, s3}, "all secrets")

	// Rotation: expire the live signing secret, add the new one.
	until := us(t0.Add(24 * time.Hour))
	must(t, s.ExpireSecrets(ctx, store.OwnerInstallation, f.inst.ID, store.PurposeSigning, until))
	s4 := sealed(id("sec"), store.OwnerInstallation, f.inst.ID, store.PurposeSigning, t0.Add(3*time.Second))
	must(t, s.CreateSecret(ctx, s4))
	// A second expiry only touches secrets without an end (s4), never moves s1's.
	later := us(t0.Add(48 * time.Hour))
	must(t, s.ExpireSecrets(ctx, store.OwnerInstallation, f.inst.ID, store.PurposeSigning, later))
	got, err = s.ListSecrets(ctx, store.OwnerInstallation, f.inst.ID)
	must(t, err)
	s1.NotAfter, s4.NotAfter = &until, &later
	equal(t, got, []store.Secret{s1, s2, s4}, "secrets after two rotations")
	prof, err := s.ListSecrets(ctx, store.OwnerProfile, f.prof.ID)
	must(t, err)
	equal(t, prof, []store.Secret{s3}, "profile secret untouched by installation rotation")

	must(t, s.UpdateSecretCiphertext(ctx, s2.ID, "k2", []byte("rewrapped")))
	got, err = s.ListSecrets(ctx, store.OwnerInstallation, f.inst.ID)
	must(t, err)
	if got[1].KeyID != "k2" || !bytes.Equal(got[1].Ciphertext, []byte("rewrapped")) {
		t.Fatalf("after UpdateSecretCiphertext: %+v", got[1])
	}
	wantErr(t, s.UpdateSecretCiphertext(ctx, "sec_missing", "k2", []byte("x")), store.ErrNotFound, "update missing secret")
}

func testAgentsAndBindings(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	a, err := s.GetAgent(ctx, f.agent.ID)
	must(t, err)
	equal(t, a, f.agent, "agent")
	agents, err := s.ListAgents(ctx, f.org.ID)
	must(t, err)
	equal(t, agents, []store.Agent{f.agent}, "org agents")
	agents, err = s.ListAgents(ctx, f.other.ID)
	must(t, err)
	if len(agents) != 0 {
		t.Fatalf("other org agents: %v", agents)
	}
	_, err = s.GetAgent(ctx, "agt_missing")
	wantErr(t, err, store.ErrNotFound, "missing agent")

	b1 := store.Binding{ID: id("bind"), OrgID: f.org.ID, InstallationID: f.inst.ID,
		Selector: store.Selector{Account: "T123", Channel: "C1", Peer: "U1", Mention: "@support"},
		AgentID:  f.agent.ID, Persona: "helpful", Priority: 5, CreatedAt: us(t0)}
	b2 := store.Binding{ID: id("bind"), OrgID: f.org.ID, InstallationID: f.inst.ID,
		AgentID: f.agent.ID, Priority: -1, CreatedAt: us(t0.Add(time.Second))}
	must(t, s.CreateBinding(ctx, b1))
	must(t, s.CreateBinding(ctx, b2))
	wantErr(t, s.CreateBinding(ctx, b1), store.ErrConflict, "duplicate binding")
	wantErr(t, s.CreateBinding(ctx, store.Binding{ID: id("bind"), OrgID: f.org.ID, InstallationID: f.inst.ID,
		AgentID: "agt_missing", CreatedAt: t0}), store.ErrNotFound, "binding to missing agent")

	b, err := s.GetBinding(ctx, b1.ID)
	must(t, err)
	equal(t, b, b1, "binding")
	bs, err := s.ListBindings(ctx, f.inst.ID)
	must(t, err)
	equal(t, bs, []store.Binding{b1, b2}, "installation bindings")
	bs, err = s.ListBindings(ctx, "")
	must(t, err)
	equal(t, bs, []store.Binding{b1, b2}, "all bindings")
	bs, err = s.ListOrgBindings(ctx, f.org.ID)
	must(t, err)
	equal(t, bs, []store.Binding{b1, b2}, "org bindings")
	bs, err = s.ListOrgBindings(ctx, f.other.ID)
	must(t, err)
	if len(bs) != 0 {
		t.Fatalf("other org bindings: %v", bs)
	}

	must(t, s.RevokeBinding(ctx, b1.ID, t0))
	b, err = s.GetBinding(ctx, b1.ID)
	must(t, err)
	if b.RevokedAt == nil {
		t.Fatal("revoked binding has no RevokedAt")
	}
	must(t, s.RevokeAgent(ctx, f.agent.ID, t0))
	a, err = s.GetAgent(ctx, f.agent.ID)
	must(t, err)
	if a.RevokedAt == nil {
		t.Fatal("revoked agent has no RevokedAt")
	}
	wantErr(t, s.RevokeBinding(ctx, "bind_missing", t0), store.ErrNotFound, "revoke missing binding")
	wantErr(t, s.RevokeAgent(ctx, "agt_missing", t0), store.ErrNotFound, "revoke missing agent")
}

func testStages(t *testing.T, s store.Store) {
	_, err := s.GetStage(ctx, "slack")
	wantErr(t, err, store.ErrNotFound, "stage never set")
	st := store.RolloutStage{Provider: "slack", Stage: store.StageCanary, CanaryOrgs: []string{"org_a", "org_b"}, UpdatedAt: us(t0),
		PreviousStage: store.StageOff, ProbeOrgs: []string{"org_probe"}}
	must(t, s.SetStage(ctx, st))
	got, err := s.GetStage(ctx, "slack")
	must(t, err)
	equal(t, got, st, "canary stage")

	st = store.RolloutStage{Provider: "slack", Stage: store.StageOn, CanaryOrgs: []string{}, ProbeOrgs: []string{}, UpdatedAt: us(t0.Add(time.Hour))}
	must(t, s.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: store.StageOn, UpdatedAt: t0.Add(time.Hour)}))
	got, err = s.GetStage(ctx, "slack")
	must(t, err)
	equal(t, got, st, "stage replaced")

	tg := store.RolloutStage{Provider: "discord", Stage: store.StageOff, CanaryOrgs: []string{}, ProbeOrgs: []string{}, UpdatedAt: us(t0)}
	must(t, s.SetStage(ctx, tg))
	all, err := s.ListStages(ctx)
	must(t, err)
	equal(t, all, []store.RolloutStage{tg, st}, "stages by provider")

	if err := s.SetStage(ctx, store.RolloutStage{Provider: "line", Stage: "sideways", UpdatedAt: t0}); err == nil {
		t.Fatal("unknown stage accepted")
	}
}

func testEvidence(t *testing.T, s store.Store) {
	_, err := s.GetEvidence(ctx, "evd_missing")
	wantErr(t, err, store.ErrNotFound, "missing evidence")
	a := store.Evidence{ID: "evd_a", Provider: "slack", Kind: store.EvidenceMatrix, Passed: true, Stage: store.StageCanary,
		CanaryOrgs: []string{"org_a"}, RecordedAt: us(t0), Actor: "tok_1", Report: `{"cases":[]}`, Signature: "c2ln", KeyID: "ed25519:abc"}
	b := store.Evidence{ID: "evd_b", Provider: "slack", Kind: store.EvidenceLoad, Passed: false, Stage: store.StageOff,
		CanaryOrgs: []string{}, RecordedAt: us(t0.Add(time.Minute)), Actor: "tok_1", Report: `{}`, Signature: "c2ln", KeyID: "ed25519:abc"}
	c := store.Evidence{ID: "evd_c", Provider: "discord", Kind: store.EvidenceLoad, Passed: true, Stage: store.StageCanary,
		CanaryOrgs: []string{}, RecordedAt: us(t0.Add(2 * time.Minute)), Actor: "tok_2", Report: `{}`, Signature: "c2ln", KeyID: "ed25519:abc"}
	for _, e := range []store.Evidence{a, b, c} {
		must(t, s.CreateEvidence(ctx, e))
	}
	wantErr(t, s.CreateEvidence(ctx, a), store.ErrConflict, "duplicate evidence id")
	if err := s.CreateEvidence(ctx, store.Evidence{ID: "evd_x", Provider: "slack", Kind: "vibes", RecordedAt: t0}); err == nil {
		t.Fatal("unknown evidence kind accepted")
	}
	got, err := s.GetEvidence(ctx, "evd_a")
	must(t, err)
	equal(t, got, a, "evidence round trip")
	slack, err := s.ListEvidence(ctx, "slack", 0)
	must(t, err)
	equal(t, slack, []store.Evidence{b, a}, "slack evidence newest first")
	all, err := s.ListEvidence(ctx, "", 2)
	must(t, err)
	equal(t, all, []store.Evidence{c, b}, "all evidence, limited")
}

func testAudit(t *testing.T, s store.Store) {
	var ids []int64
	orgs := []string{"org_a", "org_b", "", "org_a"}
	for i, org := range orgs {
		n, err := s.AppendAudit(ctx, store.AuditEvent{At: t0.Add(time.Duration(i) * time.Second), Actor: "tok_x", OrgID: org,
			Action: "installation.create", Target: fmt.Sprintf("inst_%d", i), Detail: `{"n":1}`})
		must(t, err)
		if len(ids) > 0 && n <= ids[len(ids)-1] {
			t.Fatalf("audit id %d after %d: not increasing", n, ids[len(ids)-1])
		}
		ids = append(ids, n)
	}
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("all audit events: %d, want 4", len(all))
	}
	want0 := store.AuditEvent{ID: ids[0], At: us(t0), Actor: "tok_x", OrgID: "org_a", Action: "installation.create",
		Target: "inst_0", Detail: `{"n":1}`}
	equal(t, all[0], want0, "first audit event")

	a, err := s.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{"org_a"}})
	must(t, err)
	if len(a) != 2 || a[0].ID != ids[0] || a[1].ID != ids[3] {
		t.Fatalf("org_a events: %+v", a)
	}
	if _, err := s.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "tok_x", Action: "token.rotate", Target: "tok_old", Detail: `{"new_token_id":"tok_new"}`}); err != nil {
		t.Fatal(err)
	}
	rot, err := s.ListAudit(ctx, store.AuditFilter{Action: "token.rotate"})
	must(t, err)
	if len(rot) != 1 || rot[0].Target != "tok_old" {
		t.Fatalf("token.rotate events: %+v", rot)
	}
	ab, err := s.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{"org_a", "org_b"}, AfterID: ids[0]})
	must(t, err)
	if len(ab) != 2 || ab[0].ID != ids[1] || ab[1].ID != ids[3] {
		t.Fatalf("org_a+org_b events after the first: %+v", ab)
	}
	none, err := s.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{}})
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("empty org filter returned %d events", len(none))
	}
	lim, err := s.ListAudit(ctx, store.AuditFilter{Limit: 2, AfterID: ids[0]})
	must(t, err)
	if len(lim) != 2 || lim[0].ID != ids[1] || lim[1].ID != ids[2] {
		t.Fatalf("limit 2 after first: %+v", lim)
	}
	// Empty detail is stored as an empty JSON object.
	n, err := s.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "system", Action: "stage.set"})
	must(t, err)
	last, err := s.ListAudit(ctx, store.AuditFilter{AfterID: n - 1})
	must(t, err)
	if len(last) != 1 || last[0].Detail != "{}" {
		t.Fatalf("event with empty detail: %+v", last)
	}
}

func testTokens(t *testing.T, s store.Store) {
	tok := store.APIToken{ID: id("tok"), Kind: store.TokenOrg, SubjectID: "org_x", Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: us(t0)}
	must(t, s.CreateToken(ctx, tok))
	got, err := s.GetTokenByHash(ctx, tok.Hash)
	must(t, err)
	equal(t, got, tok, "token by hash")
	_, err = s.GetTokenByHash(ctx, []byte("nope"))
	wantErr(t, err, store.ErrNotFound, "unknown token hash")
	dup := tok
	dup.ID = id("tok")
	wantErr(t, s.CreateToken(ctx, dup), store.ErrConflict, "duplicate token hash")
	plat := store.APIToken{ID: id("tok"), Kind: store.TokenPlatform, Hash: []byte("platform-hash"), CreatedAt: us(t0)}
	must(t, s.CreateToken(ctx, plat))
	if err := s.CreateToken(ctx, store.APIToken{ID: id("tok"), Kind: "root", Hash: []byte("h"), CreatedAt: t0}); err == nil {
		t.Fatal("unknown token kind accepted")
	}
	must(t, s.RevokeToken(ctx, tok.ID, t0.Add(time.Hour)))
	got, err = s.GetTokenByHash(ctx, tok.Hash)
	must(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(us(t0.Add(time.Hour))) {
		t.Fatalf("revoked token: %+v", got)
	}
	wantErr(t, s.RevokeToken(ctx, "tok_missing", t0), store.ErrNotFound, "revoke missing token")
	byID, err := s.GetToken(ctx, tok.ID)
	must(t, err)
	equal(t, byID, got, "token by id")
	_, err = s.GetToken(ctx, "tok_missing")
	wantErr(t, err, store.ErrNotFound, "get missing token")
	// ListTokens: every token, revoked ones too, oldest first.
	later := store.APIToken{ID: id("tok"), Kind: store.TokenAgency, SubjectID: "agc_x", Hash: []byte("later-hash"), CreatedAt: us(t0.Add(time.Minute))}
	must(t, s.CreateToken(ctx, later))
	l, err := s.ListTokens(ctx)
	must(t, err)
	pos := map[string]int{}
	for i, x := range l {
		pos[x.ID] = i
		if x.ID == tok.ID {
			equal(t, x, got, "listed revoked token")
		}
	}
	for _, x := range []string{tok.ID, plat.ID, later.ID} {
		if _, ok := pos[x]; !ok {
			t.Fatalf("token %s not listed: %+v", x, l)
		}
	}
	if pos[later.ID] < pos[tok.ID] || pos[later.ID] < pos[plat.ID] {
		t.Fatalf("tokens not oldest first: %+v", l)
	}
}

func testInTxRollback(t *testing.T, s store.Store) {
	gen0, err := s.Generation(ctx)
	must(t, err)
	org := store.Org{ID: id("org"), Name: "Half", CreatedAt: t0}
	inst := store.Installation{ID: id("inst"), OrgID: org.ID, Provider: "slack", IngressID: ingress(), CreatedAt: t0}
	boom := errors.New("boom")
	err = s.InTx(ctx, func(q store.Queries) error {
		must(t, q.CreateOrg(ctx, org))
		// Reads in the transaction see its own writes.
		if _, err := q.GetOrg(ctx, org.ID); err != nil {
			t.Errorf("read own write in tx: %v", err)
		}
		prof := store.AppProfile{ID: id("prof"), OwnerOrgID: org.ID, Provider: "slack", Name: "p", CreatedAt: t0}
		must(t, q.CreateProfile(ctx, prof))
		inst.ProfileID = prof.ID
		must(t, q.CreateInstallation(ctx, inst))
		if _, err := q.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "system", OrgID: org.ID, Action: "org.create", Target: org.ID}); err != nil {
			t.Errorf("audit in tx: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	_, err = s.GetOrg(ctx, org.ID)
	wantErr(t, err, store.ErrNotFound, "org after rollback")
	_, err = s.GetInstallationByIngress(ctx, inst.IngressID)
	wantErr(t, err, store.ErrNotFound, "installation after rollback")
	ev, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(ev) != 0 {
		t.Fatalf("audit after rollback: %+v", ev)
	}
	gen1, err := s.Generation(ctx)
	must(t, err)
	if gen1 != gen0 {
		t.Fatalf("generation moved on rollback: %d -> %d", gen0, gen1)
	}

	// A constraint failure half-way also leaves nothing.
	f := newFixture(t, s)
	org2 := store.Org{ID: id("org"), Name: "Half2", CreatedAt: t0}
	err = s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, org2); err != nil {
			return err
		}
		return q.CreateInstallation(ctx, store.Installation{ID: id("inst"), OrgID: org2.ID, ProfileID: f.prof.ID,
			Provider: "slack", IngressID: f.inst.IngressID, CreatedAt: t0})
	})
	wantErr(t, err, store.ErrConflict, "tx with duplicate ingress id")
	_, err = s.GetOrg(ctx, org2.ID)
	wantErr(t, err, store.ErrNotFound, "org of failed tx")
}

func testInTxCommit(t *testing.T, s store.Store) {
	org := store.Org{ID: id("org"), Name: "Whole", CreatedAt: us(t0)}
	var auditID int64
	must(t, s.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateOrg(ctx, org); err != nil {
			return err
		}
		var err error
		auditID, err = q.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "system", OrgID: org.ID, Action: "org.create", Target: org.ID})
		return err
	}))
	got, err := s.GetOrg(ctx, org.ID)
	must(t, err)
	equal(t, got, org, "org committed in tx")
	ev, err := s.ListAudit(ctx, store.AuditFilter{OrgIDs: []string{org.ID}})
	must(t, err)
	if len(ev) != 1 || ev[0].ID != auditID {
		t.Fatalf("audit committed in tx: %+v (id %d)", ev, auditID)
	}
}

func testGeneration(t *testing.T, s store.Store) {
	g0, err := s.Generation(ctx)
	must(t, err)
	prev := g0
	step := func(what string, fn func() error) {
		t.Helper()
		must(t, fn())
		g, err := s.Generation(ctx)
		must(t, err)
		if g <= prev {
			t.Fatalf("generation after %s: %d, not above %d", what, g, prev)
		}
		prev = g
	}
	// Audit appends do not move it: the control plane must not rebuild per rejected webhook.
	_, err = s.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "system", Action: "x"})
	must(t, err)
	if g, err := s.Generation(ctx); err != nil || g != prev {
		t.Fatalf("generation after an audit append: %d (%v), want %d", g, err, prev)
	}
	org := store.Org{ID: id("org"), Name: "G", CreatedAt: t0}
	step("create org", func() error { return s.CreateOrg(ctx, org) })
	step("revoke org", func() error { return s.RevokeOrg(ctx, org.ID, t0) })
	step("set stage", func() error {
		return s.SetStage(ctx, store.RolloutStage{Provider: "slack", Stage: store.StageOff, UpdatedAt: t0})
	})
	// Reads and failed writes leave it alone.
	_, _ = s.ListOrgs(ctx, "")
	_ = s.CreateOrg(ctx, org)
	g, err := s.Generation(ctx)
	must(t, err)
	if g != prev {
		t.Fatalf("generation moved on a read or failed write: %d -> %d", prev, g)
	}
}

func testTimesAreUTC(t *testing.T, s store.Store) {
	org := store.Org{ID: id("org"), Name: "Zone", CreatedAt: t0}
	must(t, s.CreateOrg(ctx, org))
	got, err := s.GetOrg(ctx, org.ID)
	must(t, err)
	if got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt location %v, want UTC", got.CreatedAt.Location())
	}
	if !got.CreatedAt.Equal(us(t0)) {
		t.Fatalf("CreatedAt %v, want %v (microseconds)", got.CreatedAt, us(t0))
	}
}

// testConcurrentWrites: writers in parallel (SQLite's busy timeout and
// immediate transactions, PostgreSQL's generation row lock) all succeed, and
// audit ids and the generation account for every one.
func testConcurrentWrites(t *testing.T, s store.Store) {
	g0, err := s.Generation(ctx)
	must(t, err)
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := s.InTx(ctx, func(q store.Queries) error {
					org := store.Org{ID: id("org"), Name: "c", CreatedAt: t0}
					if err := q.CreateOrg(ctx, org); err != nil {
						return err
					}
					_, err := q.AppendAudit(ctx, store.AuditEvent{At: t0, Actor: "system", OrgID: org.ID, Action: "org.create", Target: org.ID})
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	ev, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(ev) != workers*each {
		t.Fatalf("%d audit events, want %d", len(ev), workers*each)
	}
	for i := 1; i < len(ev); i++ {
		if ev[i].ID <= ev[i-1].ID {
			t.Fatalf("audit ids not increasing: %d then %d", ev[i-1].ID, ev[i].ID)
		}
	}
	g, err := s.Generation(ctx)
	must(t, err)
	if g != g0+workers*each {
		t.Fatalf("generation %d, want %d (one state write per transaction; audit appends do not count)", g, g0+workers*each)
	}
}

// testImportKeys: keys are unique per org (a second create is ErrConflict),
// listed per org in key order, kept inside a transaction only when it commits.
func testImportKeys(t *testing.T, s store.Store) {
	ik, ok := s.(store.ImportKeys)
	if !ok {
		t.Fatalf("%T does not implement store.ImportKeys", s)
	}
	a := store.Org{ID: id("org"), Name: "A", CreatedAt: us(t0)}
	b := store.Org{ID: id("org"), Name: "B", CreatedAt: us(t0)}
	must(t, s.CreateOrg(ctx, a))
	must(t, s.CreateOrg(ctx, b))
	k2 := store.ImportKey{OrgID: a.ID, Key: "telegram/default/binding/2", Kind: store.ImportBinding, ObjectID: "bind_2", Digest: "d2", RunID: "imp_1", CreatedAt: us(t0)}
	k1 := store.ImportKey{OrgID: a.ID, Key: "telegram/default/binding/1", Kind: store.ImportBinding, ObjectID: "bind_1", Digest: "d1", RunID: "imp_1", CreatedAt: us(t0)}
	must(t, ik.CreateImportKey(ctx, k2))
	must(t, ik.CreateImportKey(ctx, k1))
	// Same key in another org: a different row.
	must(t, ik.CreateImportKey(ctx, store.ImportKey{OrgID: b.ID, Key: k1.Key, Kind: store.ImportBinding, ObjectID: "bind_b", Digest: "d", RunID: "imp_2", CreatedAt: us(t0)}))
	dup := k1
	dup.ObjectID = "bind_other"
	wantErr(t, ik.CreateImportKey(ctx, dup), store.ErrConflict, "duplicate import key")
	wantErr(t, ik.CreateImportKey(ctx, store.ImportKey{OrgID: "org_missing", Key: "k", Kind: store.ImportAgent, ObjectID: "x", Digest: "d", RunID: "r", CreatedAt: us(t0)}), store.ErrNotFound, "import key of a missing org")
	got, err := ik.ListImportKeys(ctx, a.ID)
	must(t, err)
	equal(t, got, []store.ImportKey{k1, k2}, "import keys of org a")
	// Rolled back with its transaction.
	err = s.InTx(ctx, func(q store.Queries) error {
		if err := q.(store.ImportKeys).CreateImportKey(ctx, store.ImportKey{OrgID: a.ID, Key: "rolled-back", Kind: store.ImportAgent, ObjectID: "agt_x", Digest: "d", RunID: "imp_3", CreatedAt: us(t0)}); err != nil {
			return err
		}
		return errors.New("abort")
	})
	if err == nil {
		t.Fatal("InTx: want the abort error")
	}
	got, err = ik.ListImportKeys(ctx, a.ID)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("import key of a rolled-back transaction kept: %+v", got)
	}
}

// testSetupRecords: handoff records and OAuth clients are replaced on a
// second put; an OAuth state's nonce is usable once; missing rows are ErrNotFound.
func testSetupRecords(t *testing.T, s store.Store) {
	sr, ok := s.(store.SetupRecords)
	if !ok {
		t.Fatalf("%T does not implement store.SetupRecords", s)
	}
	o := store.Org{ID: id("org"), Name: "A", CreatedAt: us(t0)}
	must(t, s.CreateOrg(ctx, o))
	p := store.AppProfile{ID: id("prof"), OwnerOrgID: o.ID, Provider: "slack", Name: "p", CreatedAt: us(t0)}
	must(t, s.CreateProfile(ctx, p))
	inst := store.Installation{ID: id("inst"), OrgID: o.ID, ProfileID: p.ID, Provider: "slack", IngressID: ingress(), CreatedAt: us(t0)}
	must(t, s.CreateInstallation(ctx, inst))

	_, err := sr.GetHandoff(ctx, inst.ID)
	wantErr(t, err, store.ErrNotFound, "handoff before any put")
	h := store.Handoff{InstallationID: inst.ID, Record: `{"owner_account":"a@example.com"}`, UpdatedAt: us(t0), UpdatedBy: "tok_1"}
	must(t, sr.PutHandoff(ctx, h))
	h2 := store.Handoff{InstallationID: inst.ID, Record: `{"owner_account":"b@example.com"}`, UpdatedAt: us(t0.Add(time.Hour)), UpdatedBy: "tok_2"}
	must(t, sr.PutHandoff(ctx, h2))
	got, err := sr.GetHandoff(ctx, inst.ID)
	must(t, err)
	equal(t, got, h2, "handoff after a second put")
	wantErr(t, sr.PutHandoff(ctx, store.Handoff{InstallationID: "inst_missing", Record: "{}", UpdatedAt: us(t0), UpdatedBy: "t"}), store.ErrNotFound, "handoff of a missing installation")

	_, err = sr.GetOAuthClient(ctx, p.ID)
	wantErr(t, err, store.ErrNotFound, "oauth client before any put")
	c := store.OAuthClient{ProfileID: p.ID, ClientID: "123.456", UpdatedAt: us(t0)}
	must(t, sr.PutOAuthClient(ctx, c))
	c.ClientID = "789.000"
	must(t, sr.PutOAuthClient(ctx, c))
	gc, err := sr.GetOAuthClient(ctx, p.ID)
	must(t, err)
	equal(t, gc, c, "oauth client after a second put")

	exp := us(t0.Add(10 * time.Minute))
	must(t, sr.UseOAuthState(ctx, "nonce-1", us(t0), exp))
	wantErr(t, sr.UseOAuthState(ctx, "nonce-1", us(t0), exp), store.ErrConflict, "second use of a state")
	must(t, sr.UseOAuthState(ctx, "nonce-2", us(t0), exp))
	// Expired rows are pruned (their states are refused by expiry anyway).
	must(t, sr.UseOAuthState(ctx, "nonce-3", us(t0.Add(time.Hour)), us(t0.Add(2*time.Hour))))
	must(t, sr.UseOAuthState(ctx, "nonce-1", us(t0.Add(time.Hour)), us(t0.Add(2*time.Hour))))
}

// testIdenticalBindings: the store itself refuses a second active binding
// identical to one that exists (same installation, selector, agent, persona,
// priority), also when the two are written at once; once the first is
// revoked the same binding may be created again.
func testIdenticalBindings(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	mk := func() store.Binding {
		return store.Binding{ID: id("bind"), OrgID: f.org.ID, InstallationID: f.inst.ID,
			Selector: store.Selector{Channel: "C9"}, AgentID: f.agent.ID, Persona: "p", Priority: 3, CreatedAt: us(t0)}
	}
	first := mk()
	must(t, s.CreateBinding(ctx, first))
	wantErr(t, s.CreateBinding(ctx, mk()), store.ErrConflict, "identical active binding")
	other := mk()
	other.Priority = 4
	must(t, s.CreateBinding(ctx, other)) // differs in priority: a binding of its own

	must(t, s.RevokeBinding(ctx, first.ID, t0))
	must(t, s.RevokeBinding(ctx, other.ID, t0))
	const n = 16
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() { errs <- s.CreateBinding(ctx, mk()) }()
	}
	created := 0
	for i := 0; i < n; i++ {
		err := <-errs
		switch {
		case err == nil:
			created++
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("parallel identical binding: %v", err)
		}
	}
	if created != 1 {
		t.Fatalf("%d of %d parallel identical bindings created, want 1", created, n)
	}
}

func testTokenExpiry(t *testing.T, s store.Store) {
	exp := us(t0.Add(24 * time.Hour))
	tok := store.APIToken{ID: id("tok"), Kind: store.TokenPlatform, Hash: []byte("expiring-token-hash"), CreatedAt: us(t0), ExpiresAt: &exp}
	must(t, s.CreateToken(ctx, tok))
	got, err := s.GetToken(ctx, tok.ID)
	must(t, err)
	equal(t, got, tok, "token with expiry")
	// ExpireToken only brings the expiry forward.
	must(t, s.ExpireToken(ctx, tok.ID, t0.Add(48*time.Hour)))
	got, err = s.GetToken(ctx, tok.ID)
	must(t, err)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("later expiry replaced a sooner one: %+v", got.ExpiresAt)
	}
	must(t, s.ExpireToken(ctx, tok.ID, t0.Add(time.Hour)))
	got, err = s.GetToken(ctx, tok.ID)
	must(t, err)
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(us(t0.Add(time.Hour))) {
		t.Fatalf("sooner expiry not set: %+v", got.ExpiresAt)
	}
	wantErr(t, s.ExpireToken(ctx, "tok_missing", t0), store.ErrNotFound, "expire missing token")
}

// testActivityRecords: the first accepted time stays, the last one moves; a
// missing installation is ErrNotFound; recording leaves the generation alone.
func testActivityRecords(t *testing.T, s store.Store) {
	ar, ok := s.(store.ActivityRecords)
	if !ok {
		t.Fatalf("%T does not implement store.ActivityRecords", s)
	}
	o := store.Org{ID: id("org"), Name: "A", CreatedAt: us(t0)}
	must(t, s.CreateOrg(ctx, o))
	p := store.AppProfile{ID: id("prof"), OwnerOrgID: o.ID, Provider: "telegram", Name: "p", CreatedAt: us(t0)}
	must(t, s.CreateProfile(ctx, p))
	inst := store.Installation{ID: id("inst"), OrgID: o.ID, ProfileID: p.ID, Provider: "telegram", IngressID: ingress(), CreatedAt: us(t0)}
	must(t, s.CreateInstallation(ctx, inst))

	_, err := ar.GetActivity(ctx, inst.ID)
	wantErr(t, err, store.ErrNotFound, "activity before any event")
	gen, err := s.Generation(ctx)
	must(t, err)
	must(t, ar.RecordAccepted(ctx, inst.ID, us(t0.Add(time.Minute))))
	must(t, ar.RecordAccepted(ctx, inst.ID, us(t0.Add(time.Hour))))
	got, err := ar.GetActivity(ctx, inst.ID)
	must(t, err)
	equal(t, got, store.Activity{InstallationID: inst.ID, FirstAcceptedAt: us(t0.Add(time.Minute)), LastAcceptedAt: us(t0.Add(time.Hour))}, "activity after two events")
	if g, err := s.Generation(ctx); err != nil || g != gen {
		t.Fatalf("recording activity moved the generation %d -> %d (%v)", gen, g, err)
	}
	wantErr(t, ar.RecordAccepted(ctx, "inst_missing", us(t0)), store.ErrNotFound, "activity of a missing installation")
	// Inside a transaction too.
	must(t, s.InTx(ctx, func(q store.Queries) error {
		return q.(store.ActivityRecords).RecordAccepted(ctx, inst.ID, us(t0.Add(2*time.Hour)))
	}))
}
