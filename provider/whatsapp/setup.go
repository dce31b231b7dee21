package whatsapp

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Product is WhatsApp's Meta product description for its setup packet.
var Product = setup.MetaProduct{Name: Name, Title: "Connect WhatsApp (Cloud API)", Object: "whatsapp_business_account",
	Fields: []string{"messages"}, Scopes: []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management"},
	Subscribe:   "POST https://graph.facebook.com/v21.0/<WABA_ID>/subscribed_apps (Authorization: Bearer <WHATSAPP_ACCESS_TOKEN>)",
	AccountHint: "the phone number id (WhatsApp → API Setup → Phone number ID)"}

func init() { setup.Register(Name, Setup) }

// Setup is WhatsApp's setup packet.
func Setup(in setup.Input) setup.Spec { return setup.Meta(Product, in) }
