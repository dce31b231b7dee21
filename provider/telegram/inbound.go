// Package telegram is the Telegram Bot API provider: webhook updates normalised
// into provider events. (Verification happens at the edge, scheme telegram_token.)
// Every bot is its own installation, so updates carry no account id.
package telegram

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/provider"
)

// Name is the provider name.
const Name = "telegram"

// Inbound parses Telegram updates.
type Inbound struct{}

func init() { provider.Register(Inbound{}) }

func (Inbound) Name() string { return Name }

func malformed(field, problem string) error { return provider.Malformed(Name, field, problem) }

type user struct {
	ID    int64 `json:"id"`
	IsBot bool  `json:"is_bot"`
}

type chat struct {
	ID int64 `json:"id"`
}

type entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	User   *user  `json:"user"`
}

type fileRef struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MIMEType string `json:"mime_type"`
}

type message struct {
	MessageID       int64     `json:"message_id"`
	MessageThreadID int64     `json:"message_thread_id"`
	From            *user     `json:"from"`
	Chat            *chat     `json:"chat"`
	Text            string    `json:"text"`
	Caption         string    `json:"caption"`
	Entities        []entity  `json:"entities"`
	CaptionEntities []entity  `json:"caption_entities"`
	Photo           []fileRef `json:"photo"`
	Document        *fileRef  `json:"document"`
	Audio           *fileRef  `json:"audio"`
	Voice           *fileRef  `json:"voice"`
	Video           *fileRef  `json:"video"`
	Sticker         *fileRef  `json:"sticker"`
}

// chatMember is the part of a ChatMember object read here.
type chatMember struct {
	Status string `json:"status"` // creator, administrator, member, restricted, left, kicked
	User   *user  `json:"user"`
}

// chatMemberUpdated is a ChatMemberUpdated (my_chat_member: the bot's own
// membership changed; in a private chat, the user blocked or unblocked it).
type chatMemberUpdated struct {
	Chat          *chat       `json:"chat"`
	From          *user       `json:"from"`
	OldChatMember *chatMember `json:"old_chat_member"`
	NewChatMember *chatMember `json:"new_chat_member"`
}

type update struct {
	UpdateID          *int64             `json:"update_id"`
	MyChatMember      *chatMemberUpdated `json:"my_chat_member"`
	Message           *message           `json:"message"`
	EditedMessage     *message           `json:"edited_message"`
	ChannelPost       *message           `json:"channel_post"`
	EditedChannelPost *message           `json:"edited_channel_post"`
	CallbackQuery     *struct {
		ID      string   `json:"id"`
		From    *user    `json:"from"`
		Message *message `json:"message"`
		Data    string   `json:"data"`
	} `json:"callback_query"`
}

// Parse normalises one Update. Event id: update_id (unique per bot, which is
// one installation). Conversation: chat id; thread: message_thread_id (forum
// topics and replies in threads).
func (Inbound) Parse(body []byte, _ string) (provider.Result, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return provider.Result{}, malformed("", "not a JSON Update: "+err.Error())
	}
	if u.UpdateID == nil {
		return provider.Result{}, malformed("update_id", "missing")
	}
	eventID := strconv.FormatInt(*u.UpdateID, 10)
	var (
		m     *message
		field string
		kind  = provider.KindMessage
		from  *user
		text  string
	)
	switch {
	case u.MyChatMember != nil:
		return myChatMember(u.MyChatMember, eventID)
	case u.Message != nil:
		m, field = u.Message, "message"
	case u.ChannelPost != nil:
		m, field = u.ChannelPost, "channel_post"
	case u.CallbackQuery != nil:
		cq := u.CallbackQuery
		if cq.Message == nil {
			// Inline-mode callbacks carry no chat: nothing to route to.
			return provider.Result{Ignored: "callback_query without message"}, nil
		}
		m, field, kind, from, text = cq.Message, "callback_query.message", provider.KindInteraction, cq.From, cq.Data
		if from == nil {
			return provider.Result{}, malformed("callback_query.from", "missing")
		}
	case u.EditedMessage != nil || u.EditedChannelPost != nil:
		return provider.Result{Ignored: "edited message"}, nil
	default:
		return provider.Result{Ignored: "update type without a message"}, nil
	}
	if m.Chat == nil {
		return provider.Result{}, malformed(field+".chat", "missing")
	}
	if kind == provider.KindMessage {
		from = m.From
		text = m.Text
		if text == "" {
			text = m.Caption
		}
		if from != nil && from.IsBot {
			return provider.Result{Ignored: "bot_message"}, nil
		}
	}
	ev := provider.Event{
		Kind:         kind,
		EventID:      eventID,
		Conversation: strconv.FormatInt(m.Chat.ID, 10),
		Text:         text,
	}
	if from != nil {
		ev.Sender = strconv.FormatInt(from.ID, 10)
	}
	if m.MessageThreadID != 0 {
		ev.Thread = strconv.FormatInt(m.MessageThreadID, 10)
	}
	if kind == provider.KindMessage {
		src, ents := m.Text, m.Entities
		if m.Text == "" {
			src, ents = m.Caption, m.CaptionEntities
		}
		ev.Mentions = Mentions(src, ents)
		ev.Attachments = attachments(m)
	}
	return provider.Result{Events: []provider.Event{ev}}, nil
}

// myChatMember turns the bot's own membership change into a conversation
// revocation: "kicked" (blocked by the user in a private chat, banned from a
// group) and "left" (removed from a group) revoke the chat; becoming a
// member or administrator again restores it. Other changes (promotions,
// restrictions) carry nothing to act on.
func myChatMember(c *chatMemberUpdated, eventID string) (provider.Result, error) {
	if c.Chat == nil {
		return provider.Result{}, malformed("my_chat_member.chat", "missing")
	}
	if c.NewChatMember == nil || c.NewChatMember.Status == "" {
		return provider.Result{}, malformed("my_chat_member.new_chat_member.status", "missing")
	}
	rev := provider.Revocation{
		Scope:        provider.ScopeConversation,
		Conversation: strconv.FormatInt(c.Chat.ID, 10),
		Reason:       "my_chat_member." + c.NewChatMember.Status,
		EventID:      eventID,
	}
	switch c.NewChatMember.Status {
	case "kicked", "left":
	case "member", "administrator", "creator":
		old := ""
		if c.OldChatMember != nil {
			old = c.OldChatMember.Status
		}
		if old != "kicked" && old != "left" {
			return provider.Result{Ignored: "my_chat_member " + provider.Quote(old) + " -> " + provider.Quote(c.NewChatMember.Status)}, nil
		}
		rev.Restore = true
	default:
		return provider.Result{Ignored: "my_chat_member status " + provider.Quote(c.NewChatMember.Status)}, nil
	}
	return provider.Result{Revocations: []provider.Revocation{rev}}, nil
}

func attachments(m *message) []envelope.Attachment {
	var out []envelope.Attachment
	if n := len(m.Photo); n > 0 {
		// Telegram lists one photo in several sizes, smallest first.
		out = append(out, envelope.Attachment{Type: "image", URL: m.Photo[n-1].FileID, MIME: "image/jpeg"})
	}
	for _, f := range []struct {
		typ string
		ref *fileRef
	}{{"file", m.Document}, {"audio", m.Audio}, {"audio", m.Voice}, {"video", m.Video}, {"image", m.Sticker}} {
		if f.ref == nil || f.ref.FileID == "" {
			continue
		}
		typ := f.typ
		if typ == "file" && f.ref.MIMEType != "" {
			typ = provider.AttachmentType(f.ref.MIMEType)
		}
		out = append(out, envelope.Attachment{Type: typ, URL: f.ref.FileID, Name: f.ref.FileName, MIME: f.ref.MIMEType})
	}
	return out
}

// Mentions reads explicit mentions from message entities: "mention"
// (@username), "text_mention" (the user's id) and "bot_command" ("/cmd", without
// an @botname suffix). Entity offsets and lengths count UTF-16 code units.
func Mentions(text string, entities []entity) []string {
	var out []string
	u16 := utf16.Encode([]rune(text))
	for _, e := range entities {
		if e.Offset < 0 || e.Length <= 0 || e.Offset > len(u16) || e.Length > len(u16)-e.Offset {
			continue
		}
		s := string(utf16.Decode(u16[e.Offset : e.Offset+e.Length]))
		switch e.Type {
		case "mention":
			out = provider.AddMention(out, s)
		case "text_mention":
			if e.User != nil {
				out = provider.AddMention(out, strconv.FormatInt(e.User.ID, 10))
			}
		case "bot_command":
			for i := 1; i < len(s); i++ {
				if s[i] == '@' {
					s = s[:i]
					break
				}
			}
			out = provider.AddMention(out, s)
		}
	}
	return out
}
