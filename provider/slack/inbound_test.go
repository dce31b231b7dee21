package slack

import (
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

func TestGolden(t *testing.T) { providertest.Golden(t, Inbound{}, "testdata") }

func TestRegistered(t *testing.T) {
	if p, ok := provider.Get(Name); !ok || p.Name() != Name {
		t.Fatal("slack is not registered")
	}
}

func TestMentions(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"hi <@U123>", []string{"u123"}},
		{"hi <@U123|bob> <@U123>", []string{"u123"}},
		{"<!subteam^S1|@Support> and @billing", []string{"s1", "support", "billing"}},
		{"mail a@b.com", nil},
		{"<https://x.com/@notme|link> @yes.", []string{"yes"}},
		{"unterminated <@U1", nil},
		{"<!here> <#C1|general>", nil},
	}
	for _, c := range cases {
		if got := Mentions(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Mentions(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

func TestContentTypeSelectsShape(t *testing.T) {
	// A JSON body sent as a form is not an Events API callback.
	if _, err := (Inbound{}).Parse([]byte(`{"type":"event_callback"}`), "application/x-www-form-urlencoded; charset=utf-8"); err == nil {
		t.Fatal("JSON body posted as a form was accepted")
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
