// Package whatsapp is the WhatsApp Cloud API provider: webhook notifications
// normalised into one provider event per message. (Verification happens at the
// edge, scheme meta_sha256; the GET verify handshake is answered by the edge.)
package whatsapp

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "whatsapp"

// Inbound parses WhatsApp Cloud API notifications.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

type media struct {
	ID       string `json:"id"`
	MIMEType string `json:"mime_type"`
	Filename string `json:"filename"`
	Caption  string `json:"caption"`
}

type message struct {
	From string `json:"from"`
	ID   string `json:"id"`
	Type string `json:"type"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Document *media `json:"document"`
	Audio    *media `json:"audio"`
	Video    *media `json:"video"`
	Sticker  *media `json:"sticker"`
	Button   *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
}

type notification struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata *struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Messages []message `json:"messages"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// Parse yields one event per message. Event id: the message id (wamid.*).
// Account: metadata.phone_number_id (the installation of a shared app).
// Conversation and sender: the peer's phone number (WhatsApp has no threads).
// Status updates (sent/delivered/read) carry no message and yield no events.
func (Inbound) Parse(body []byte, _ string) (provider.Result, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return provider.Result{}, malformed("", "not a JSON notification: "+err.Error())
	}
	if n.Object != "whatsapp_business_account" {
		if n.Object == "" {
			return provider.Result{}, malformed("object", "missing")
		}
		return provider.Result{}, malformed("object", "unsupported value "+provider.Quote(n.Object))
	}
	var res provider.Result
	for i, e := range n.Entry {
		for j, c := range e.Changes {
			if c.Field != "messages" {
				continue
			}
			at := fmt.Sprintf("entry[%d].changes[%d].value", i, j)
			if len(c.Value.Messages) == 0 {
				continue
			}
			if c.Value.Metadata == nil || c.Value.Metadata.PhoneNumberID == "" {
				return provider.Result{}, malformed(at+".metadata.phone_number_id", "missing")
			}
			pnid := c.Value.Metadata.PhoneNumberID
			for k, m := range c.Value.Messages {
				mat := fmt.Sprintf("%s.messages[%d]", at, k)
				if m.ID == "" {
					return provider.Result{}, malformed(mat+".id", "missing")
				}
				if m.From == "" {
					return provider.Result{}, malformed(mat+".from", "missing")
				}
				ev := provider.Event{
					Kind:         provider.KindMessage,
					EventID:      m.ID,
					Account:      pnid,
					TenantIDs:    []string{pnid},
					Conversation: m.From,
					Sender:       m.From,
				}
				fill(&ev, m)
				ev.Mentions = provider.ScanMentions(ev.Text)
				res.Events = append(res.Events, ev)
			}
		}
	}
	if len(res.Events) == 0 {
		res.Ignored = "no messages (status or other update)"
	}
	return res, nil
}

func fill(ev *provider.Event, m message) {
	if m.Text != nil {
		ev.Text = m.Text.Body
	}
	for _, a := range []struct {
		typ string
		m   *media
	}{{"image", m.Image}, {"file", m.Document}, {"audio", m.Audio}, {"video", m.Video}, {"image", m.Sticker}} {
		if a.m == nil {
			continue
		}
		// URL holds the media id: downloading needs the installation's token.
		ev.Attachments = append(ev.Attachments, envelope.Attachment{Type: a.typ, URL: a.m.ID, Name: a.m.Filename, MIME: a.m.MIMEType})
		if ev.Text == "" {
			ev.Text = a.m.Caption
		}
	}
	if m.Button != nil {
		ev.Kind, ev.Text = provider.KindInteraction, m.Button.Payload
		if ev.Text == "" {
			ev.Text = m.Button.Text
		}
	}
	if it := m.Interactive; it != nil {
		ev.Kind = provider.KindInteraction
		switch {
		case it.ButtonReply != nil:
			ev.Text = it.ButtonReply.ID
		case it.ListReply != nil:
			ev.Text = it.ListReply.ID
		}
	}
}
