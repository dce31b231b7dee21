// Package allkits registers the conformance kit of every built-in provider
// (import it for its side effect), as provider/all registers the providers.
// The conformance suite fails for a registered provider whose kit is not
// imported here.
package allkits

import (
	_ "github.com/switchboard-dev/switchboard/provider/discord/kit"
	_ "github.com/switchboard-dev/switchboard/provider/github/kit"
	_ "github.com/switchboard-dev/switchboard/provider/instagram/kit"
	_ "github.com/switchboard-dev/switchboard/provider/line/kit"
	_ "github.com/switchboard-dev/switchboard/provider/messenger/kit"
	_ "github.com/switchboard-dev/switchboard/provider/slack/kit"
	_ "github.com/switchboard-dev/switchboard/provider/standardwebhooks/kit"
	_ "github.com/switchboard-dev/switchboard/provider/telegram/kit"
	_ "github.com/switchboard-dev/switchboard/provider/twilio/kit"
	_ "github.com/switchboard-dev/switchboard/provider/whatsapp/kit"
)
