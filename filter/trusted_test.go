package filter

import "testing"

// A client's X_Switchboard_Org is removed like X-Switchboard-Org: a proxy or
// CGI-style framework behind the edge may map '_' to '-' and hand it on as
// the trusted header.
func TestIsTrustedHeaderUnderscores(t *testing.T) {
	for name, want := range map[string]bool{
		"x_switchboard_org": true, "X_Switchboard_Attestation": true, "x-switchboard_org": true,
		"X_SWITCHBOARD-PLATFORM": true, "x_switchboard": false, "x__switchboard_org": false,
	} {
		if got := IsTrustedHeader(name); got != want {
			t.Errorf("IsTrustedHeader(%q) = %v, want %v", name, got, want)
		}
	}
	out := StripTrusted([][2]string{{"X_switchboard_org", "org_evil"}, {"Content-Type", "application/json"}})
	if len(out) != 1 || out[0][0] != "Content-Type" {
		t.Fatalf("StripTrusted kept an underscore variant: %v", out)
	}
}
