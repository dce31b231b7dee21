package messenger

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Product is Messenger's Meta product description for its setup packet.
var Product = setup.MetaProduct{Name: Name, Title: "Connect Messenger", Object: Object,
	Fields: []string{"messages", "messaging_postbacks"}, Scopes: []string{"pages_messaging", "pages_manage_metadata", "business_management"},
	Subscribe:   "POST https://graph.facebook.com/v21.0/<PAGE_ID>/subscribed_apps?subscribed_fields=messages,messaging_postbacks (Authorization: Bearer <PAGE_ACCESS_TOKEN>)",
	AccountHint: "the Facebook Page id"}

func init() { setup.Register(Name, Setup) }

// Setup is Messenger's setup packet.
func Setup(in setup.Input) setup.Spec { return setup.Meta(Product, in) }
