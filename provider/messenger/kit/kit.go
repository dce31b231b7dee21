// Package kit is Messenger's conformance kit (see provider/conformance and
// provider/internal/metamsg/metakit).
package kit

import (
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg/metakit"
	"github.com/switchboard-dev/switchboard/provider/messenger"
)

// Kit is the Messenger kit.
var Kit = metakit.Kit{
	Name: messenger.Name, Object: messenger.Object, Dir: conformance.Testdata(),
	Lim: conformance.Limit{Max: messenger.MaxText, Unit: "characters", Over: conformance.Refuse},
	New: func(base string) *metamsg.Sender { return messenger.NewSender(base, "", nil) },
}

func init() { conformance.Register(Kit) }

// The fake Meta app and account (shared with the Instagram kit).
const (
	AppSecret   = metakit.AppSecret
	VerifyToken = metakit.VerifyToken
	AccessToken = metakit.AccessToken
	Account     = metakit.Account
	User        = metakit.User
)
