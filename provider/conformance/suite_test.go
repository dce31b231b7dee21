package conformance_test

import (
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	_ "github.com/switchboard-dev/switchboard/provider/all"
	_ "github.com/switchboard-dev/switchboard/provider/allkits"
	"github.com/switchboard-dev/switchboard/provider/conformance"
)

// TestConformance: every registered provider has a kit meeting every requirement.
func TestConformance(t *testing.T) { conformance.Run(t, provider.Names()) }

// TestMissingKit: a registered provider without a kit is reported (the
// suite's first check), so adding a provider without its kit fails.
func TestMissingKit(t *testing.T) {
	got := conformance.Missing(append(provider.Names(), "carrierpigeon"))
	if len(got) != 1 || got[0] != "carrierpigeon" {
		t.Fatalf("Missing = %v, want [carrierpigeon]", got)
	}
	names := map[string]bool{}
	for _, r := range conformance.Requirements() {
		names[r.Name] = true
	}
	for _, want := range []string{"verification", "normalisation", "outbound", "uninstall", "setup"} {
		if !names[want] {
			t.Errorf("requirement %s is not registered", want)
		}
	}
}
