package github_test

import (
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/setup/setuptest"
)

func TestSetupPackets(t *testing.T) {
	p := setuptest.Golden(t, "installation", setuptest.Installation("github", "signing"))
	setuptest.Golden(t, "profile", setuptest.Profile("github"))
	if p.WebhookURL != "https://hooks.example.com/v1/hooks/github/0123456789abcdef0123456789abcdef" || len(p.Steps) == 0 || len(p.PasteBack) == 0 {
		t.Errorf("packet %+v", p)
	}
	if !strings.Contains(p.Steps[len(p.Steps)-1].Text+p.Steps[0].Text+strings.Join(func() []string {
		var v []string
		for _, s := range p.Steps {
			for _, f := range s.Fields {
				v = append(v, f.Value)
			}
		}
		return v
	}(), " "), p.WebhookURL) {
		t.Errorf("no step names the webhook URL")
	}
}
