package setup_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup"
)

// reviewed lists every field a packet is built from; none holds a secret
// value (a secret is present only by purpose, fingerprint and dates).
var reviewed = []string{
	"Input.Provider", "Input.Kind", "Input.ID", "Input.OrgID", "Input.ProfileID", "Input.Name", "Input.Platform",
	"Input.ExternalAppID", "Input.ExternalID", "Input.PublicURL", "Input.WebhookPath", "Input.APIURL",
	"Input.Secrets", "Input.Secrets.Owner", "Input.Secrets.Purpose", "Input.Secrets.Fingerprint", "Input.Secrets.NotBefore", "Input.Secrets.NotAfter",
	"Input.Handoff", "Input.Handoff.OwnerAccount", "Input.Handoff.URLsConfigured", "Input.Handoff.ScopesApproved",
	"Input.Handoff.CanaryValidatedAt", "Input.Handoff.CanaryChannel", "Input.Handoff.RotationOwner", "Input.Handoff.NextRotation",
	"Input.Handoff.UpdatedAt", "Input.Handoff.UpdatedBy", "Input.Now",
}

// TestInputHoldsNoSecretValues: the setup packet cannot leak a secret
// because its input holds none. A field added to setup.Input (or to the
// structs it holds) fails this test until it is reviewed and listed above;
// a field whose name says it is a secret value fails always.
func TestInputHoldsNoSecretValues(t *testing.T) {
	var got []string
	var walk func(prefix string, ty reflect.Type)
	walk = func(prefix string, ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty.PkgPath() != reflect.TypeOf(setup.Input{}).PkgPath() {
			return
		}
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			path := prefix + "." + f.Name
			got = append(got, path)
			if n := strings.ToLower(f.Name); n == "value" || n == "token" || n == "secret" || strings.HasSuffix(n, "value") || strings.HasSuffix(n, "plaintext") {
				t.Errorf("%s is named like a secret value: a packet's input must hold fingerprints only", path)
			}
			walk(path, f.Type)
		}
	}
	walk("Input", reflect.TypeOf(setup.Input{}))
	for _, p := range got {
		if !slices.Contains(reviewed, p) {
			t.Errorf("%s is not reviewed: may it carry a secret value into a setup packet? If not, add it to reviewed", p)
		}
	}
	for _, p := range reviewed {
		if !slices.Contains(got, p) {
			t.Errorf("reviewed field %s no longer exists: remove it from the list", p)
		}
	}
}
