// Package metamsg holds what Messenger and Instagram messaging share: the
// Messenger Platform webhook shape (object, entry[].id, entry[].messaging[])
// and the Send API. provider/messenger and provider/instagram are the
// providers; this package registers nothing.
package metamsg

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

type id struct {
	ID string `json:"id"`
}

type messaging struct {
	Sender    *id   `json:"sender"`
	Recipient *id   `json:"recipient"`
	Timestamp int64 `json:"timestamp"`
	Message   *struct {
		MID         string                    `json:"mid"`
		Text        string                    `json:"text"`
		IsEcho      bool                      `json:"is_echo"`
		IsDeleted   bool                      `json:"is_deleted"`
		QuickReply  *struct{ Payload string } `json:"quick_reply"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload *struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
	Postback *struct {
		MID     string `json:"mid"`
		Title   string `json:"title"`
		Payload string `json:"payload"`
	} `json:"postback"`
}

type notification struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        string      `json:"id"`
		Messaging []messaging `json:"messaging"`
	} `json:"entry"`
}

var attachmentTypes = map[string]string{"image": "image", "video": "video", "audio": "audio", "file": "file"}

// Parse reads a Messenger Platform webhook of object (Messenger "page",
// Instagram "instagram") for provider name. One event per message or
// postback in entry[].messaging[]. Event id: message.mid (postback.mid).
// Account: entry[].id, the Page id or the Instagram professional account id
// (the installation's external id); the recipient id must be the same.
// Conversation and sender: the sender's page- or Instagram-scoped id; no
// threads. Echoes of the account's own messages, deletions, and other
// notifications (deliveries, reads, reactions) yield nothing.
func Parse(name, object string, body []byte) (provider.Result, error) {
	bad := func(field, problem string) error { return provider.Malformed(name, field, problem) }
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return provider.Result{}, bad("", "not a JSON notification: "+err.Error())
	}
	if n.Object != object {
		if n.Object == "" {
			return provider.Result{}, bad("object", "missing")
		}
		return provider.Result{}, bad("object", "unsupported value "+provider.Quote(n.Object)+" (want "+strconv.Quote(object)+")")
	}
	var res provider.Result
	for i, e := range n.Entry {
		for j, m := range e.Messaging {
			at := fmt.Sprintf("entry[%d].messaging[%d]", i, j)
			if m.Message == nil && m.Postback == nil {
				continue
			}
			if m.Message != nil && (m.Message.IsEcho || m.Message.IsDeleted) {
				continue
			}
			if e.ID == "" {
				return provider.Result{}, bad(fmt.Sprintf("entry[%d].id", i), "missing")
			}
			if m.Sender == nil || m.Sender.ID == "" {
				return provider.Result{}, bad(at+".sender.id", "missing")
			}
			ev := provider.Event{
				Kind:         provider.KindMessage,
				Account:      e.ID,
				TenantIDs:    []string{e.ID},
				Conversation: m.Sender.ID,
				Sender:       m.Sender.ID,
			}
			if m.Recipient != nil {
				ev.TenantIDs = provider.AddTenant(ev.TenantIDs, m.Recipient.ID)
			}
			if pb := m.Postback; pb != nil {
				ev.Kind, ev.EventID, ev.Text = provider.KindInteraction, pb.MID, pb.Payload
				if ev.EventID == "" {
					return provider.Result{}, bad(at+".postback.mid", "missing")
				}
			} else {
				msg := m.Message
				ev.EventID, ev.Text = msg.MID, msg.Text
				if ev.EventID == "" {
					return provider.Result{}, bad(at+".message.mid", "missing")
				}
				if msg.QuickReply != nil && msg.QuickReply.Payload != "" {
					ev.Kind, ev.Text = provider.KindInteraction, msg.QuickReply.Payload
				}
				for _, a := range msg.Attachments {
					t, ok := attachmentTypes[a.Type]
					if !ok || a.Payload == nil || a.Payload.URL == "" {
						continue
					}
					ev.Attachments = append(ev.Attachments, envelope.Attachment{Type: t, URL: a.Payload.URL})
				}
			}
			ev.Mentions = provider.ScanMentions(ev.Text)
			res.Events = append(res.Events, ev)
		}
	}
	if len(res.Events) == 0 {
		res.Ignored = "no messages (echo, delivery, read or other update)"
	}
	return res, nil
}
