// Package twilio is the Twilio Programmable Messaging provider (SMS, MMS and
// WhatsApp through Twilio): incoming-message webhooks normalised into one
// event, and replies through the Messages API. Verification (X-Twilio-Signature
// over the URL and the sorted form parameters, or over the URL carrying
// bodySHA256 for a JSON body) happens at the edge, scheme twilio_sha1.
package twilio

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "twilio"

// maxMedia bounds the MediaUrl{N} parameters read (Twilio sends at most 10).
const maxMedia = 10

// Inbound parses Twilio incoming-message webhooks.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

// params reads the webhook's parameters: a form post (what Twilio sends for
// messaging), or a JSON object of the same parameter names (the bodySHA256
// variant). Only string values of a JSON body are parameters.
func params(body []byte, contentType string) (func(string) string, error) {
	if provider.IsForm(contentType) {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, malformed("", "not a form body")
		}
		return v.Get, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, malformed("", "neither a form body nor a JSON object")
	}
	m := make(map[string]string, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			m[k] = s
		}
	}
	return func(k string) string { return m[k] }, nil
}

// Parse yields one event per incoming message. Event id: MessageSid (SmsSid
// for older webhooks). Account: the To number, the installation's number
// ("whatsapp:+1..." for WhatsApp senders). App id: AccountSid (the profile's
// Twilio account). Conversation and sender: the From number; Twilio has no
// threads. Status callbacks (MessageStatus) carry no message and yield none.
func (Inbound) Parse(body []byte, contentType string) (provider.Result, error) {
	get, err := params(body, contentType)
	if err != nil {
		return provider.Result{}, err
	}
	if st := get("MessageStatus"); st != "" {
		return provider.Result{Ignored: "status callback " + provider.Quote(st)}, nil
	}
	if st := get("SmsStatus"); st != "" && st != "received" {
		return provider.Result{Ignored: "status " + provider.Quote(st)}, nil
	}
	sid := get("MessageSid")
	if sid == "" {
		sid = get("SmsSid")
	}
	if sid == "" {
		return provider.Result{}, malformed("MessageSid", "missing")
	}
	to, from := get("To"), get("From")
	if to == "" {
		return provider.Result{}, malformed("To", "missing")
	}
	if from == "" {
		return provider.Result{}, malformed("From", "missing")
	}
	ev := provider.Event{
		Kind:         provider.KindMessage,
		EventID:      sid,
		Account:      to,
		TenantIDs:    []string{to},
		AppID:        get("AccountSid"),
		Conversation: from,
		Sender:       from,
		Text:         get("Body"),
	}
	if p := get("ButtonPayload"); p != "" { // WhatsApp quick-reply button
		ev.Kind, ev.Text = provider.KindInteraction, p
	}
	n, _ := strconv.Atoi(get("NumMedia"))
	if n > maxMedia {
		n = maxMedia
	}
	for i := 0; i < n; i++ {
		u := get(fmt.Sprintf("MediaUrl%d", i))
		if u == "" {
			return provider.Result{}, malformed(fmt.Sprintf("MediaUrl%d", i), "missing (NumMedia is "+strconv.Itoa(n)+")")
		}
		mime := get(fmt.Sprintf("MediaContentType%d", i))
		// The media URL needs the account's credentials to fetch (HTTP basic).
		ev.Attachments = append(ev.Attachments, envelope.Attachment{Type: provider.AttachmentType(mime), URL: u, MIME: mime})
	}
	ev.Mentions = provider.ScanMentions(ev.Text)
	return provider.Result{Events: []provider.Event{ev}}, nil
}
