package telegram

import (
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

func TestGolden(t *testing.T) { providertest.Golden(t, Inbound{}, "testdata") }

func TestRegistered(t *testing.T) {
	if _, ok := provider.Get(Name); !ok {
		t.Fatal("telegram is not registered")
	}
}

func TestMentionsUTF16Offsets(t *testing.T) {
	// "👋" is two UTF-16 code units: a byte- or rune-based offset would cut the
	// wrong substring.
	text := "👋 @bob hi"
	got := Mentions(text, []entity{{Type: "mention", Offset: 3, Length: 4}})
	if !reflect.DeepEqual(got, []string{"bob"}) {
		t.Fatalf("Mentions = %q, want [bob]", got)
	}
	// Out-of-range entities are skipped, not a panic.
	if got := Mentions("hi", []entity{{Type: "mention", Offset: 1, Length: 9}, {Type: "mention", Offset: -1, Length: 1}}); got != nil {
		t.Fatalf("out-of-range entity produced %q", got)
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
