// Package kit is Instagram's conformance kit (see provider/conformance and
// provider/internal/metamsg/metakit).
package kit

import (
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/instagram"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg/metakit"
)

// Kit is the Instagram kit.
var Kit = metakit.Kit{
	Name: instagram.Name, Object: instagram.Object, Dir: conformance.Testdata(),
	Lim: conformance.Limit{Max: instagram.MaxTextBytes, Unit: "bytes", Over: conformance.Refuse},
	New: func(base string) *metamsg.Sender { return instagram.NewSender(base, "", nil) },
}

func init() { conformance.Register(Kit) }
