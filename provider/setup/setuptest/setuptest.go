// Package setuptest golden-tests setup packets: each provider folder's test
// builds packets from fixed inputs and compares their JSON and Markdown with
// testdata/setup/<case>.json and .md (`go test ./provider/... -update`
// rewrites them).
package setuptest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider/providertest"
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Now is the clock of every golden packet.
var Now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// Installation is a BYOA installation input for provider with the given
// secret purposes stored on the installation (since 2029-12-01).
func Installation(provider string, purposes ...string) setup.Input {
	in := setup.Input{Provider: provider, Kind: setup.KindInstallation, ID: "inst_golden", OrgID: "org_golden", ProfileID: "prof_golden",
		Name: "Acme Support", ExternalAppID: "A0APP", ExternalID: "T0ACCOUNT", PublicURL: "https://hooks.example.com",
		WebhookPath: "/v1/hooks/" + provider + "/0123456789abcdef0123456789abcdef", APIURL: "https://api.example.com", Now: Now}
	for _, p := range purposes {
		in.Secrets = append(in.Secrets, setup.Secret{Owner: setup.KindInstallation, Purpose: p, Fingerprint: "hmac:00112233445566" + p[:2], NotBefore: time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC)})
	}
	return in
}

// Profile is an org profile input (no webhook path of its own).
func Profile(provider string) setup.Input {
	return setup.Input{Provider: provider, Kind: setup.KindProfile, ID: "prof_golden", OrgID: "org_golden", Name: "Acme Support",
		ExternalAppID: "A0APP", APIURL: "https://api.example.com", PublicURL: "https://hooks.example.com", Now: Now}
}

// Golden builds in's packet and compares it with testdata/setup/<name>.*.
// A packet cannot hold a secret value: setup.Input carries none, only each
// secret's purpose, fingerprint and dates (TestInputHoldsNoSecretValues in
// package setup fails when a field is added to it unreviewed; the API's
// TestSetupPacketRoutes checks packets built from stored secrets). Golden
// checks the other side: every secret of in is named in the packet by its
// fingerprint, so its rotation can be tracked.
func Golden(t *testing.T, name string, in setup.Input) setup.Packet {
	t.Helper()
	p, err := setup.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	md := []byte(setup.Markdown(p))
	for _, s := range in.Secrets {
		if !bytes.Contains(js, []byte(s.Fingerprint)) || !bytes.Contains(md, []byte(s.Fingerprint)) {
			t.Errorf("packet %s does not name %s secret %s by its fingerprint %s", name, s.Owner, s.Purpose, s.Fingerprint)
		}
	}
	if !strings.Contains(string(md), "## Canary validation") || !strings.Contains(string(md), "## Agency handoff record") {
		t.Errorf("packet %s lacks the shared checklists", name)
	}
	for ext, got := range map[string][]byte{".json": js, ".md": md} {
		path := filepath.Join("testdata", "setup", name+ext)
		if providertest.Updating() {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the built packet (run go test -update and review the diff)", path)
		}
	}
	return p
}
