package credpolicy

import "testing"

func TestDecide(t *testing.T) {
	const orgA, orgB, plat = "org_a", "org_b", ""
	inst := func(owner string, own, prof, optIn bool) Subject {
		return Subject{InstallationOrg: orgA, ProfileFound: true, ProfileOwner: owner, HasOwn: own, HasProfile: prof, PlatformOptIn: optIn}
	}
	cases := []struct {
		name string
		use  Use
		s    Subject
		want Decision
	}{
		// Verification at the edge.
		{"verify: own secret first", Verify, inst(orgA, true, true, false), Decision{Source: SourceInstallation}},
		{"verify: own secret on a platform profile's installation", Verify, inst(plat, true, true, false), Decision{Source: SourceInstallation}},
		{"verify: the org's own profile", Verify, inst(orgA, false, true, false), Decision{Source: SourceOrgProfile}},
		{"verify: the org's own profile without a secret", Verify, inst(orgA, false, false, false), Decision{Refusal: RefusalNoMaterial}},
		{"verify: never a platform secret on an org installation", Verify, inst(plat, false, true, false), Decision{Refusal: RefusalPlatformNeverVerifiesOrg}},
		{"verify: not even with the send opt-in", Verify, inst(plat, false, true, true), Decision{Refusal: RefusalPlatformNeverVerifiesOrg}},
		{"verify: never another org's profile", Verify, inst(orgB, false, true, false), Decision{Refusal: RefusalOtherOrgProfile}},
		{"verify: profile missing", Verify, Subject{InstallationOrg: orgA}, Decision{Refusal: RefusalNoMaterial}},
		{"verify: platform ingress with the platform secret", Verify, Subject{PlatformIngress: true, ProfileFound: true, ProfileOwner: plat, HasProfile: true}, Decision{Source: SourcePlatformProfile}},
		{"verify: platform ingress without a secret", Verify, Subject{PlatformIngress: true, ProfileFound: true, ProfileOwner: plat}, Decision{Refusal: RefusalNoMaterial}},
		{"verify: an org's secret never verifies platform traffic", Verify, Subject{PlatformIngress: true, ProfileFound: true, ProfileOwner: orgA, HasProfile: true}, Decision{Refusal: RefusalOrgProfileOnPlatformIngress}},
		// Sending from the worker.
		{"send: own token first", Send, inst(plat, true, true, true), Decision{Source: SourceInstallation}},
		{"send: the org's own app's token", Send, inst(orgA, false, true, false), Decision{Source: SourceOrgProfile}},
		{"send: the org's own app without a token", Send, inst(orgA, false, false, false), Decision{Refusal: RefusalNoMaterial}},
		{"send: platform token needs the opt-in", Send, inst(plat, false, true, false), Decision{Refusal: RefusalPlatformNotOptedIn}},
		{"send: platform token with the opt-in, audited", Send, inst(plat, false, true, true), Decision{Source: SourcePlatformProfile, Audit: true}},
		{"send: opted in but the platform has no token", Send, inst(plat, false, false, true), Decision{Refusal: RefusalNoMaterial}},
		{"send: never another org's token", Send, inst(orgB, false, true, true), Decision{Refusal: RefusalOtherOrgProfile}},
		{"send: a platform ingress sends nothing", Send, Subject{PlatformIngress: true, ProfileFound: true, HasProfile: true}, Decision{Refusal: RefusalPlatformIngressSends}},
	}
	for _, c := range cases {
		if got := Decide(c.use, c.s); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
