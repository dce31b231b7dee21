package instagram

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Product is Instagram messaging's Meta product description for its setup packet.
var Product = setup.MetaProduct{Name: Name, Title: "Connect Instagram messaging", Object: Object,
	Fields: []string{"messages", "messaging_postbacks"}, Scopes: []string{"instagram_basic", "instagram_manage_messages", "pages_manage_metadata", "business_management"},
	Subscribe:   "POST https://graph.facebook.com/v21.0/<PAGE_ID>/subscribed_apps?subscribed_fields=messages (Authorization: Bearer <PAGE_ACCESS_TOKEN>)",
	AccountHint: "the Instagram professional account id"}

func init() { setup.Register(Name, Setup) }

// Setup is Instagram messaging's setup packet.
func Setup(in setup.Input) setup.Spec { return setup.Meta(Product, in) }
