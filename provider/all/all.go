// Package all registers every built-in provider (import it for its side
// effect). Adding a provider: a folder under provider/ that calls
// provider.Register in init, and one import line here.
package all

import (
	_ "github.com/switchboard-dev/switchboard/provider/discord"
	_ "github.com/switchboard-dev/switchboard/provider/github"
	_ "github.com/switchboard-dev/switchboard/provider/instagram"
	_ "github.com/switchboard-dev/switchboard/provider/line"
	_ "github.com/switchboard-dev/switchboard/provider/messenger"
	_ "github.com/switchboard-dev/switchboard/provider/slack"
	_ "github.com/switchboard-dev/switchboard/provider/standardwebhooks"
	_ "github.com/switchboard-dev/switchboard/provider/telegram"
	_ "github.com/switchboard-dev/switchboard/provider/twilio"
	_ "github.com/switchboard-dev/switchboard/provider/whatsapp"
)
