package setup

import (
	"fmt"
	"strings"
	"time"
)

// DocInput is the input docs/setup/<provider>.md is generated from: an
// installation of an organisation's own app, every identifier a placeholder.
func DocInput(provider string) Input {
	return Input{Provider: provider, Kind: KindInstallation, ID: "<INSTALLATION_ID>", OrgID: "<ORG_ID>", ProfileID: "<PROFILE_ID>",
		Name: "Switchboard", PublicURL: "https://<PUBLIC_URL>", WebhookPath: "/v1/hooks/" + provider + "/<INGRESS_ID>",
		APIURL: "https://<API_URL>", Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Doc is docs/setup/<provider>.md: the packet of DocInput, with a header
// saying where it comes from.
func Doc(provider string) (string, error) {
	p, err := Build(DocInput(provider))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- Generated from the %s setup packet (provider/%s/setup.go) by\n     go test ./provider/all -run TestSetupDocs -update\n     Do not edit by hand. -->\n\n", provider, provider)
	md := Markdown(p)
	// The title first, then how to get the live packet.
	title, rest, _ := strings.Cut(md, "\n")
	b.WriteString(title + "\n\n")
	fmt.Fprintf(&b, "This is the setup packet with placeholders. Your own, with your installation's\nURLs, secret fingerprints, rotation dates and handoff record filled in, is served by\nthe API: `GET /v1/installations/{id}/setup?format=markdown` (JSON without `format`),\nand `GET /v1/profiles/{id}/setup` for an app profile. `<PUBLIC_URL>` is the edge's\npublic host (`serve --public-url`), `<API_URL>` the API's (`--api-public-url`).\n")
	b.WriteString(rest)
	return b.String(), nil
}
