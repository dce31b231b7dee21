package whatsapp

import (
	"github.com/switchboard-dev/switchboard/provider/setup"
)

// Meta products set up through the same app dashboard: WhatsApp Cloud API,
// Messenger and Instagram messaging. Their packets live here, with the
// WhatsApp parser, until Messenger and Instagram have folders of their own.
type metaProduct struct {
	name, title, object string
	fields, scopes      []string
	subscribe           string // the subscribed_apps call
	accountHint         string // what the installation's external_id is
}

var products = map[string]metaProduct{
	"whatsapp": {name: "whatsapp", title: "Connect WhatsApp (Cloud API)", object: "whatsapp_business_account",
		fields: []string{"messages"}, scopes: []string{"whatsapp_business_management", "whatsapp_business_messaging", "business_management"},
		subscribe:   "POST https://graph.facebook.com/v21.0/<WABA_ID>/subscribed_apps (Authorization: Bearer <WHATSAPP_ACCESS_TOKEN>)",
		accountHint: "the phone number id (WhatsApp → API Setup → Phone number ID)"},
	"messenger": {name: "messenger", title: "Connect Messenger", object: "page",
		fields: []string{"messages", "messaging_postbacks"}, scopes: []string{"pages_messaging", "pages_manage_metadata", "business_management"},
		subscribe:   "POST https://graph.facebook.com/v21.0/<PAGE_ID>/subscribed_apps?subscribed_fields=messages,messaging_postbacks (Authorization: Bearer <PAGE_ACCESS_TOKEN>)",
		accountHint: "the Facebook Page id"},
	"instagram": {name: "instagram", title: "Connect Instagram messaging", object: "instagram",
		fields: []string{"messages", "messaging_postbacks"}, scopes: []string{"instagram_basic", "instagram_manage_messages", "pages_manage_metadata", "business_management"},
		subscribe:   "POST https://graph.facebook.com/v21.0/<PAGE_ID>/subscribed_apps?subscribed_fields=messages (Authorization: Bearer <PAGE_ACCESS_TOKEN>)",
		accountHint: "the Instagram professional account id"},
}

func init() {
	for name := range products {
		setup.Register(name, Setup)
	}
}

// WebhookFields are the webhook fields a product's packet subscribes to.
func WebhookFields(product string) []string { return products[product].fields }

// WebhookObject is the Graph API object a product's webhook subscribes to.
func WebhookObject(product string) string { return products[product].object }

// Setup is the packet of a Meta product (in.Provider: whatsapp, messenger, instagram).
func Setup(in setup.Input) setup.Spec {
	p := products[in.Provider]
	hook := in.WebhookURL()
	verify := setup.Placeholder("META_VERIFY_TOKEN")
	sp := setup.Spec{
		Title:  p.title,
		Scopes: append([]string{}, p.scopes...),
		URLs:   []string{"Webhooks → " + p.object + " → Callback URL " + hook},
		Data: map[string]any{"callback_url": hook, "verify_token": verify, "object": p.object, "fields": p.fields,
			"scopes": p.scopes, "subscribed_apps": p.subscribe},
		Rotate: map[string]string{
			"signing":      "App settings → Basic → App Secret → Reset; store the new one with previous_valid_until a few minutes ahead (Meta signs with the new one at once)",
			"verify_token": "choose a new verify token, store it with the rotate route, then re-enter it with the callback URL (Meta checks it with the GET handshake)",
			"bot_token":    "create a new System User access token (Business Settings → System users → Generate new token), store it, then revoke the old one",
		},
	}
	sp.Steps = []setup.Step{
		{Title: "Create (or open) the Meta app", Link: "https://developers.facebook.com/apps",
			Text: "A Business app with the " + p.title[len("Connect "):] + " product added. App settings → Basic shows the App ID (the profile's external_app_id) and the App Secret (the edge verifies X-Hub-Signature-256 with it)."},
		{Title: "Configure the webhook", Text: "Webhooks (or the product's Configuration page) → Callback URL and Verify token. Meta calls the GET handshake with the verify token when you save; the edge answers it. Then subscribe to the fields below. POST /v1/installations/{id}/register does this through the Graph API (POST /<APP_ID>/subscriptions with the app's access token).",
			Fields: []setup.Field{{Name: "Callback URL", Value: hook}, {Name: "Verify token", Value: verify}, {Name: "Object", Value: p.object}, {Name: "Fields", Value: join(p.fields)}}},
		{Title: "Grant the permissions", Text: "The System User (or the login) that makes the token needs: " + join(p.scopes) + "."},
		{Title: "Subscribe the account to the app (subscribed_apps)", Text: "Without this step Meta delivers nothing for the account even though the webhook is verified. POST …/register does it with the installation's access token.",
			Code: p.subscribe},
	}
	sp.PasteBack = []setup.PasteBack{
		{Purpose: "external_app_id", Label: "App ID", Where: "App settings → Basic → App ID", Route: "POST /v1/profiles {\"external_app_id\":…} (at creation)"},
		{Purpose: "signing", Label: "App Secret " + setup.Placeholder("META_APP_SECRET"), Where: "App settings → Basic → App Secret → Show", Route: in.SecretRoute("signing")},
		{Purpose: "verify_token", Label: "Verify token " + verify, Where: "chosen by you (step 2)", Route: in.SecretRoute("verify_token")},
	}
	if in.Kind == setup.KindInstallation {
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "bot_token", Label: "Access token " + setup.Placeholder("META_ACCESS_TOKEN"), Where: "Business Settings → System users → Generate new token (with the permissions above)", Route: in.SecretRoute("bot_token")})
		sp.PasteBack = append(sp.PasteBack, setup.PasteBack{Purpose: "external_id", Label: "Account id", Where: p.accountHint, Route: "POST /v1/installations {\"external_id\":…} (at creation)"})
		sp.Registration = "POST /v1/installations/" + in.ID + "/register subscribes the app to the " + p.object + " webhook object (callback URL, verify token, fields " + join(p.fields) + ") with the app access token (<APP_ID>|<APP_SECRET>), then subscribes the account to the app (subscribed_apps) with the installation's access token. The WhatsApp business account id is given in the request: {\"waba_id\":…}."
	}
	return sp
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
