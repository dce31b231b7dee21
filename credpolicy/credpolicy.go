// Package credpolicy is the one rule of which credentials may be used for
// whom: which secrets may verify traffic on an ingress (the edge
// configuration builder, xds) and which token may send for an installation
// (the worker's sender). It is a pure function over data, so both sides
// decide alike and one table-driven test covers the rule:
//
//   - An installation's own material is always preferred.
//   - Else its profile's material when the profile is owned by the
//     installation's own org (the org's own app, BYOA).
//   - A platform profile's material verifies only the platform profile's
//     own shared ingress, never an org installation's ingress, and an org's
//     material never verifies platform traffic.
//   - A platform profile's token sends for an org's installation only with
//     that installation's explicit platform-credentials opt-in, and every
//     such send is audited first (Decision.Audit).
//   - Nothing else: no implicit fallback, a missing secret fails closed.
package credpolicy

import "github.com/switchboard-dev/switchboard/store"

// Use is what a credential is wanted for.
type Use int

const (
	// Verify: signing secrets, public keys and tokens that verify inbound
	// requests at the edge.
	Verify Use = iota + 1
	// Send: the token outbound provider API calls are made with.
	Send
)

func (u Use) String() string {
	switch u {
	case Verify:
		return "verify"
	case Send:
		return "send"
	}
	return "unknown"
}

// Source is whose material is used.
type Source string

const (
	SourceNone            Source = ""
	SourceInstallation    Source = "installation"     // the installation's own
	SourceOrgProfile      Source = "org_profile"      // its org's own profile (the org's app)
	SourcePlatformProfile Source = "platform_profile" // the platform's app
)

// Refusal is why no material may be used.
type Refusal string

const (
	RefusalNone Refusal = ""
	// RefusalNoMaterial: nothing of the purpose where the rule allows it
	// (no own secret, and the profile that may be used has none).
	RefusalNoMaterial Refusal = "no_material"
	// RefusalPlatformNotOptedIn: only the platform profile has material and
	// the installation has not opted in to sending with it.
	RefusalPlatformNotOptedIn Refusal = "platform_not_opted_in"
	// RefusalPlatformNeverVerifiesOrg: only the platform profile has material,
	// and a platform secret never verifies an org installation's ingress.
	RefusalPlatformNeverVerifiesOrg Refusal = "platform_never_verifies_org"
	// RefusalOtherOrgProfile: the profile belongs to another org.
	RefusalOtherOrgProfile Refusal = "other_org_profile"
	// RefusalOrgProfileOnPlatformIngress: a platform ingress whose profile
	// is an org's (an org's secret never verifies platform traffic).
	RefusalOrgProfileOnPlatformIngress Refusal = "org_profile_on_platform_ingress"
	// RefusalPlatformIngressSends: a platform ingress is not an installation
	// and sends nothing.
	RefusalPlatformIngressSends Refusal = "platform_ingress_sends_nothing"
)

// Subject is the data the rule reads: who the credential is for and where
// material of the wanted purpose exists.
type Subject struct {
	// PlatformIngress: the platform profile's own shared ingress (verify);
	// there is no installation then.
	PlatformIngress bool
	// InstallationOrg is the installation's org.
	InstallationOrg string
	// ProfileFound: the installation's profile (or the ingress's) exists;
	// ProfileOwner is its owner org, store.OwnerPlatform for the platform.
	ProfileFound bool
	ProfileOwner string
	// PlatformOptIn is the installation's audited opt-in to send with the
	// platform profile's credentials (store.Installation.PlatformCredentials).
	PlatformOptIn bool
	// HasOwn / HasProfile: valid material of the purpose exists on the
	// installation / on the profile.
	HasOwn, HasProfile bool
}

// Decision is the rule's answer.
type Decision struct {
	Source Source
	// Audit: the use must be recorded (and refused when it cannot be)
	// before it happens: sending with the platform's token for an org.
	Audit   bool
	Refusal Refusal
}

// Decide applies the rule.
func Decide(use Use, s Subject) Decision {
	if s.PlatformIngress {
		switch {
		case use != Verify:
			return Decision{Refusal: RefusalPlatformIngressSends}
		case !s.ProfileFound || s.ProfileOwner != store.OwnerPlatform:
			return Decision{Refusal: RefusalOrgProfileOnPlatformIngress}
		case !s.HasProfile:
			return Decision{Refusal: RefusalNoMaterial}
		}
		return Decision{Source: SourcePlatformProfile}
	}
	if s.HasOwn {
		return Decision{Source: SourceInstallation}
	}
	if !s.ProfileFound {
		return Decision{Refusal: RefusalNoMaterial}
	}
	switch {
	case s.ProfileOwner != store.OwnerPlatform && s.ProfileOwner == s.InstallationOrg:
		if !s.HasProfile {
			return Decision{Refusal: RefusalNoMaterial}
		}
		return Decision{Source: SourceOrgProfile}
	case s.ProfileOwner != store.OwnerPlatform:
		return Decision{Refusal: RefusalOtherOrgProfile}
	case use == Verify:
		return Decision{Refusal: RefusalPlatformNeverVerifiesOrg}
	case !s.PlatformOptIn:
		return Decision{Refusal: RefusalPlatformNotOptedIn}
	case !s.HasProfile:
		return Decision{Refusal: RefusalNoMaterial}
	}
	return Decision{Source: SourcePlatformProfile, Audit: true}
}
