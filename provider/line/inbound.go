// Package line is the LINE Messaging API provider: webhook events normalised
// into provider events, and replies through the reply API while the event's
// reply token is still valid, else the push API. Verification (X-Line-Signature,
// HMAC-SHA256 of the raw body with the channel secret, base64) happens at
// the edge, scheme line.
package line

import (
	"encoding/json"
	"fmt"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "line"

// Inbound parses LINE webhook bodies.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

// Source is where an event happened.
type Source struct {
	Type    string `json:"type"` // user, group, room
	UserID  string `json:"userId"`
	GroupID string `json:"groupId"`
	RoomID  string `json:"roomId"`
}

// Event is one entry of events[] as this package reads it (the sender reads
// ReplyToken and Timestamp from the raw body too).
type Event struct {
	Type            string  `json:"type"`
	Mode            string  `json:"mode"`
	Timestamp       int64   `json:"timestamp"`
	Source          *Source `json:"source"`
	WebhookEventID  string  `json:"webhookEventId"`
	ReplyToken      string  `json:"replyToken"`
	DeliveryContext *struct {
		IsRedelivery bool `json:"isRedelivery"`
	} `json:"deliveryContext"`
	Message *struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Text     string `json:"text"`
		FileName string `json:"fileName"`
		Mention  *struct {
			Mentionees []struct {
				Type   string `json:"type"` // user, all
				UserID string `json:"userId"`
				IsSelf bool   `json:"isSelf"`
			} `json:"mentionees"`
		} `json:"mention"`
	} `json:"message"`
	Postback *struct {
		Data string `json:"data"`
	} `json:"postback"`
}

// Body is a webhook body: the bot's user id and the events.
type Body struct {
	Destination string  `json:"destination"`
	Events      []Event `json:"events"`
}

// membership are the event types that say who follows the bot or where it is.
var membership = map[string]bool{"follow": true, "unfollow": true, "join": true, "leave": true}

// mediaType maps a LINE message type to an attachment type.
var mediaType = map[string]string{"image": "image", "video": "video", "audio": "audio", "file": "file"}

// Parse yields one event per message, postback, follow, unfollow, join and
// leave event. Event id: webhookEventId. Account: destination (the bot's user
// id, the installation's external id). Conversation: the group id, room id or
// (one-to-one chat) user id of the source; sender: the source's user id; LINE
// has no threads. An empty events[] is LINE's webhook URL verification and is
// acknowledged. Events in standby mode are not for this bot to answer and
// other event types (unsend, beacon, ...) are not delivered.
func (Inbound) Parse(body []byte, _ string) (provider.Result, error) {
	var b Body
	if err := json.Unmarshal(body, &b); err != nil {
		return provider.Result{}, malformed("", "not a JSON webhook body: "+err.Error())
	}
	if b.Destination == "" {
		return provider.Result{}, malformed("destination", "missing")
	}
	var res provider.Result
	skipped := ""
	for i, e := range b.Events {
		at := fmt.Sprintf("events[%d]", i)
		if e.Type != "message" && e.Type != "postback" && !membership[e.Type] {
			skipped = "event type " + provider.Quote(e.Type)
			continue
		}
		if e.Mode == "standby" {
			skipped = "standby mode"
			continue
		}
		if e.WebhookEventID == "" {
			return provider.Result{}, malformed(at+".webhookEventId", "missing")
		}
		if e.Source == nil {
			return provider.Result{}, malformed(at+".source", "missing")
		}
		conv := ""
		switch e.Source.Type {
		case "user":
			conv = e.Source.UserID
		case "group":
			conv = e.Source.GroupID
		case "room":
			conv = e.Source.RoomID
		default:
			return provider.Result{}, malformed(at+".source.type", "unsupported value "+provider.Quote(e.Source.Type))
		}
		if conv == "" {
			return provider.Result{}, malformed(at+".source."+e.Source.Type+"Id", "missing")
		}
		ev := provider.Event{
			Kind:         provider.KindMessage,
			Type:         e.Type,
			EventID:      e.WebhookEventID,
			Redelivery:   e.DeliveryContext != nil && e.DeliveryContext.IsRedelivery,
			Account:      b.Destination,
			TenantIDs:    []string{b.Destination},
			Conversation: conv,
			Sender:       e.Source.UserID,
		}
		switch {
		case membership[e.Type]:
			ev.Kind = provider.KindMembership
		case e.Type == "postback":
			if e.Postback == nil {
				return provider.Result{}, malformed(at+".postback", "missing")
			}
			ev.Kind, ev.Text = provider.KindInteraction, e.Postback.Data
		default:
			m := e.Message
			if m == nil || m.ID == "" {
				return provider.Result{}, malformed(at+".message.id", "missing")
			}
			ev.Text = m.Text
			if t, ok := mediaType[m.Type]; ok {
				// URL holds the message id: the content API needs the channel token.
				ev.Attachments = []envelope.Attachment{{Type: t, URL: m.ID, Name: m.FileName}}
			}
			if m.Mention != nil {
				for _, mm := range m.Mention.Mentionees {
					if mm.Type == "all" {
						ev.Mentions = provider.AddMention(ev.Mentions, "all")
					}
					ev.Mentions = provider.AddMention(ev.Mentions, mm.UserID)
				}
			}
			for _, m := range provider.ScanMentions(ev.Text) {
				ev.Mentions = provider.AddMention(ev.Mentions, m)
			}
		}
		res.Events = append(res.Events, ev)
	}
	if len(res.Events) == 0 {
		res.Ignored = "no deliverable events"
		if skipped != "" {
			res.Ignored += " (" + skipped + ")"
		}
	}
	return res, nil
}
