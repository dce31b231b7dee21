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
