package github

import (
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

func TestGolden(t *testing.T) { providertest.Golden(t, Inbound{}, "testdata") }

func TestRegistered(t *testing.T) {
	if _, ok := provider.Get(Name); !ok {
		t.Fatal("github is not registered")
	}
}

func TestConversation(t *testing.T) {
	c := Conversation("octo-org/hello-world", 42)
	if o, r, n, ok := SplitConversation(c); !ok || o != "octo-org" || r != "hello-world" || n != 42 {
		t.Fatalf("split %q: %q %q %d %v", c, o, r, n, ok)
	}
	for _, bad := range []string{"", "o/r", "o/r#", "o/r#0", "o/r#-1", "r#1", "/r#1", "o/#1", "o/r/x#1", "o/r#1x"} {
		if _, _, _, ok := SplitConversation(bad); ok {
			t.Errorf("SplitConversation(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	providertest.SeedRequests(f, "testdata")
	f.Fuzz(func(t *testing.T, body []byte, contentType, headers string) {
		providertest.FuzzRequest(t, Inbound{}, body, contentType, headers, nil)
	})
}

// The conformance kit's uninstall requirement.
func TestUninstall(t *testing.T) { providertest.Uninstall(t, Inbound{}, "testdata") }
