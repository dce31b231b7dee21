package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Requirement "setup": the provider's folder registers its setup packet
// (provider/setup.Register in provider/<p>/setup.go), and the packet built for
// an installation carries what every connection needs: the installation's
// webhook URL, steps to follow at the provider, what to paste back, a rotation
// entry for every current secret, and the four checklists (canary, cutover,
// rotation, handoff). It is checked through the setup registry rather than a
// kit method: the packet is the provider folder's own pure function.
func init() { Require(Requirement{Name: "setup", Check: checkSetup}) }

// setupChecklists are the checklists every packet ends with.
var setupChecklists = []string{"Canary validation", "Dev → prod cutover", "Rotation", "Agency handoff record"}

func checkSetup(t *testing.T, k Kit) {
	p := k.Provider()
	if !setup.Has(p) {
		t.Fatalf("%s has no setup packet: register one with setup.Register in provider/%s/setup.go", p, p)
	}
	in := setup.DocInput(p)
	since := time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC)
	in.Secrets = []setup.Secret{{Owner: "installation", Purpose: "conformance_probe", Fingerprint: "hmac-sha256:0123abcd", NotBefore: since}}
	pk, err := setup.Build(in)
	if err != nil {
		t.Fatalf("%s: setup packet: %v", p, err)
	}
	if want := in.WebhookURL(); pk.WebhookURL != want {
		t.Errorf("%s: packet webhook_url %q, want %q", p, pk.WebhookURL, want)
	}
	if len(pk.Steps) == 0 {
		t.Errorf("%s: packet has no steps to follow at the provider", p)
	}
	if len(pk.PasteBack) == 0 {
		t.Errorf("%s: packet names nothing to paste back (the provider's secrets and ids)", p)
	}
	for _, pb := range pk.PasteBack {
		if pb.Route == "" {
			t.Errorf("%s: paste-back %q names no API route that stores it", p, pb.Purpose)
		}
	}
	rotated := false
	for _, r := range pk.Rotation {
		if r.Purpose == "conformance_probe" && r.RotateBy == since.Add(setup.RotationInterval).Format("2006-01-02") {
			rotated = true
		}
	}
	if !rotated {
		t.Errorf("%s: packet has no rotation date for a current secret: %+v", p, pk.Rotation)
	}
	have := map[string]bool{}
	for _, c := range pk.Checklists {
		if len(c.Items) > 0 {
			have[c.Name] = true
		}
	}
	for _, name := range setupChecklists {
		if !have[name] {
			t.Errorf("%s: packet lacks the %q checklist", p, name)
		}
	}
	if md := setup.Markdown(pk); !strings.Contains(md, pk.WebhookURL) {
		t.Errorf("%s: the Markdown packet does not show the webhook URL", p)
	}
}
