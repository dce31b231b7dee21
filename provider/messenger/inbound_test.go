package messenger

import (
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

func TestGolden(t *testing.T) { providertest.Golden(t, Inbound{}, "testdata") }

func TestRegistered(t *testing.T) {
	if _, ok := provider.Get(Name); !ok {
		t.Fatal("messenger is not registered")
	}
}

func FuzzParse(f *testing.F) {
	providertest.Seed(f, "testdata")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		providertest.FuzzParse(t, Inbound{}, body, contentType)
	})
}

// The conformance kit's uninstall requirement.
func TestUninstall(t *testing.T) { providertest.Uninstall(t, Inbound{}, "testdata") }
