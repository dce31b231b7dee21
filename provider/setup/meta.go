package setup

// MetaProduct is a Meta product set up through the app dashboard's Webhooks:
// WhatsApp Cloud API, Messenger, Instagram messaging. Each product's folder
// describes itself and registers Meta(product, ·) as its packet.
type MetaProduct struct {
	Name, Title string
	Object      string   // the webhook object: whatsapp_business_account, page, instagram
	Fields      []string // webhook fields to subscribe
	Scopes      []string // permissions of the access token
	Subscribe   string   // the subscribed_apps call
	AccountHint string   // what the installation's external_id is
}

// Meta is the packet of a Meta product.
func Meta(p MetaProduct, in Input) Spec {
	hook := in.WebhookURL()
	verify := Placeholder("META_VERIFY_TOKEN")
	sp := Spec{
		Title:  p.Title,
		Scopes: append([]string{}, p.Scopes...),
		URLs:   []string{"Webhooks → " + p.Object + " → Callback URL " + hook},
		Data: map[string]any{"callback_url": hook, "verify_token": verify, "object": p.Object, "fields": p.Fields,
			"scopes": p.Scopes, "subscribed_apps": p.Subscribe},
		Rotate: map[string]string{
			"signing":      "App settings → Basic → App Secret → Reset; store the new one with previous_valid_until a few minutes ahead (Meta signs with the new one at once)",
			"verify_token": "choose a new verify token, store it with the rotate route, then re-enter it with the callback URL (Meta checks it with the GET handshake)",
			"bot_token":    "create a new System User access token (Business Settings → System users → Generate new token), store it, then revoke the old one",
		},
	}
	sp.Steps = []Step{
		{Title: "Create (or open) the Meta app", Link: "https://developers.facebook.com/apps",
			Text: "A Business app with the " + p.Title[len("Connect "):] + " product added. App settings → Basic shows the App ID (the profile's external_app_id) and the App Secret (the edge verifies X-Hub-Signature-256 with it)."},
		{Title: "Configure the webhook", Text: "Webhooks (or the product's Configuration page) → Callback URL and Verify token. Meta calls the GET handshake with the verify token when you save; the edge answers it. Then subscribe to the fields below. POST /v1/installations/{id}/register does this through the Graph API (POST /<APP_ID>/subscriptions with the app's access token).",
			Fields: []Field{{Name: "Callback URL", Value: hook}, {Name: "Verify token", Value: verify}, {Name: "Object", Value: p.Object}, {Name: "Fields", Value: joinMeta(p.Fields)}}},
		{Title: "Grant the permissions", Text: "The System User (or the login) that makes the token needs: " + joinMeta(p.Scopes) + "."},
		{Title: "Subscribe the account to the app (subscribed_apps)", Text: "Without this step Meta delivers nothing for the account even though the webhook is verified. POST …/register does it with the installation's access token.",
			Code: p.Subscribe},
	}
	sp.PasteBack = []PasteBack{
		{Purpose: "external_app_id", Label: "App ID", Where: "App settings → Basic → App ID", Route: "POST /v1/profiles {\"external_app_id\":…} (at creation)"},
		{Purpose: "signing", Label: "App Secret " + Placeholder("META_APP_SECRET"), Where: "App settings → Basic → App Secret → Show", Route: in.SecretRoute("signing")},
		{Purpose: "verify_token", Label: "Verify token " + verify, Where: "chosen by you (step 2)", Route: in.SecretRoute("verify_token")},
	}
	if in.Kind == KindInstallation {
		sp.PasteBack = append(sp.PasteBack, PasteBack{Purpose: "bot_token", Label: "Access token " + Placeholder("META_ACCESS_TOKEN"), Where: "Business Settings → System users → Generate new token (with the permissions above)", Route: in.SecretRoute("bot_token")})
		sp.PasteBack = append(sp.PasteBack, PasteBack{Purpose: "external_id", Label: "Account id", Where: p.AccountHint, Route: "POST /v1/installations {\"external_id\":…} (at creation)"})
		sp.Registration = "POST /v1/installations/" + in.ID + "/register subscribes the app to the " + p.Object + " webhook object (callback URL, verify token, fields " + joinMeta(p.Fields) + ") with the app access token (<APP_ID>|<APP_SECRET>), then subscribes the account to the app (subscribed_apps) with the installation's access token."
		if p.Object == "whatsapp_business_account" {
			sp.Registration += " The WhatsApp business account id is given in the request: {\"waba_id\":…}."
		}
	}
	return sp
}

func joinMeta(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}
