package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/store"
)

// OpenClawOptions are what an OpenClaw file cannot say: OpenClaw agents are
// local workspaces, Switchboard agents are HTTP endpoints.
type OpenClawOptions struct {
	AgentURLs map[string]string // agentId -> URL
	AgentBase string            // URL prefix: agent URL = AgentBase + "/" + agentId
}

type ocConfig struct {
	Channels map[string]json.RawMessage `json:"channels"`
	Agents   struct {
		List    []ocAgent          `json:"list"`
		Entries map[string]ocAgent `json:"entries"`
	} `json:"agents"`
	Bindings []ocBinding `json:"bindings"`
}

type ocAgent struct {
	ID       string `json:"id"`
	Default  bool   `json:"default"`
	Name     string `json:"name"`
	Identity struct {
		Name string `json:"name"`
	} `json:"identity"`
}

type ocBinding struct {
	AgentID string `json:"agentId"`
	Match   struct {
		Channel   string `json:"channel"`
		AccountID string `json:"accountId"`
		Peer      *struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		} `json:"peer"`
		GuildID string   `json:"guildId"`
		TeamID  string   `json:"teamId"`
		Roles   []string `json:"roles"`
	} `json:"match"`
}

// ocChannel describes how an OpenClaw channel maps: its Switchboard
// provider and which account fields hold which secret.
type ocChannel struct {
	provider string
	secrets  map[string]string // OpenClaw field -> secret purpose
	// known fields that need no counterpart (transport details Switchboard
	// replaces with its own ingress URL).
	known []string
}

var ocChannels = map[string]ocChannel{
	"telegram": {provider: "telegram",
		secrets: map[string]string{"botToken": store.PurposeBotToken, "webhookSecret": store.PurposeSecretToken},
		known:   []string{"webhookUrl", "webhookPath", "webhookHost", "webhookPort"}},
	"slack": {provider: "slack",
		secrets: map[string]string{"botToken": store.PurposeBotToken, "signingSecret": store.PurposeSigning},
		known:   []string{"mode", "webhookPath", "appToken"}},
	"line": {provider: "line",
		secrets: map[string]string{"channelAccessToken": store.PurposeBotToken, "channelSecret": store.PurposeSigning},
		known:   []string{"webhookPath"}},
}

// ocNoCounterpart explains the OpenClaw channels Switchboard cannot take.
var ocNoCounterpart = map[string]string{
	"whatsapp": "OpenClaw's WhatsApp channel is a linked WhatsApp Web device (Baileys); Switchboard receives WhatsApp Cloud API webhooks, a different account with its own credentials",
	"discord":  "OpenClaw's Discord channel holds a Discord Gateway websocket with the bot token; Switchboard receives Discord interaction webhooks verified with the application's public key, which the configuration does not have",
	"signal":   "Signal (signal-cli) has no webhook API and no Switchboard provider",
	"imessage": "iMessage has no webhook API and no Switchboard provider",
	"webchat":  "WebChat is OpenClaw's own UI",
}

// ocChannelSettings are keys under channels that configure all channels.
var ocChannelSettings = map[string]bool{"defaults": true, "modelByChannel": true}

// ParseOpenClaw reads an OpenClaw configuration (openclaw.json, JSON5).
func ParseOpenClaw(file string, r io.Reader, opts OpenClawOptions) (*Source, error) {
	b, err := readAll(file, r)
	if err != nil {
		return nil, err
	}
	js, err := toJSON(b)
	if err != nil {
		return nil, &FieldError{File: file, Msg: "not JSON5: " + err.Error()}
	}
	var oc ocConfig
	if err := json.NewDecoder(bytes.NewReader(js)).Decode(&oc); err != nil {
		return nil, decodeError(file, err)
	}
	src := &Source{Format: "openclaw", File: file}
	p := &ocParser{file: file, src: src, accounts: map[string][]string{}, defaults: map[string]string{}, skipped: map[string]string{}}
	names := make([]string, 0, len(oc.Channels))
	for n := range oc.Channels {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := p.channel(n, oc.Channels[n]); err != nil {
			return nil, err
		}
	}
	if err := p.agents(oc, opts); err != nil {
		return nil, err
	}
	for i, ob := range oc.Bindings {
		if err := p.binding(i, ob); err != nil {
			return nil, err
		}
	}
	p.defaultBindings()
	return src, nil
}

type ocParser struct {
	file     string
	src      *Source
	accounts map[string][]string // channel -> account keys (imported accounts)
	ids      map[string]map[string]string
	defaults map[string]string // channel -> default account key
	skipped  map[string]string // channel or account key -> why not imported
	agentIDs map[string]bool
	defAgent string
	bindKeys map[string]string // binding key -> where (first wins)
}

func (p *ocParser) channel(name string, raw json.RawMessage) error {
	where := "channels." + name
	if ocChannelSettings[name] {
		p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "setting", Key: where, Where: where, Reason: ReasonNoCounterpart,
			Detail: "OpenClaw-wide channel policy; Switchboard bindings route traffic, they do not gate senders or pick models"})
		return nil
	}
	spec, ok := ocChannels[name]
	if !ok {
		why := ocNoCounterpart[name]
		if why == "" {
			why = "no Switchboard provider for this channel"
		}
		p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "channel", Key: name, Where: where, Reason: ReasonNoCounterpart, Detail: why})
		p.skipped[name] = why
		return nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return &FieldError{File: p.file, Field: where, Msg: "must be an object"}
	}
	var named map[string]map[string]json.RawMessage
	if a, ok := top["accounts"]; ok {
		if err := json.Unmarshal(a, &named); err != nil {
			return &FieldError{File: p.file, Field: where + ".accounts", Msg: "must be an object of account id -> object"}
		}
	}
	defaultID := "default"
	if d, ok := top["defaultAccount"]; ok {
		if err := json.Unmarshal(d, &defaultID); err != nil || defaultID == "" {
			return &FieldError{File: p.file, Field: where + ".defaultAccount", Msg: "must be a non-empty string"}
		}
	}
	// The top level is an account of its own (the default) when it holds
	// credentials and no account of that id is listed; named accounts inherit
	// the top level's fields they do not set.
	ids := make([]string, 0, len(named)+1)
	for id := range named {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	hasCreds := false
	for f := range spec.secrets {
		if _, ok := top[f]; ok {
			hasCreds = true
		}
	}
	if _, ok := top["tokenFile"]; ok {
		hasCreds = true
	}
	if _, ok := named["default"]; !ok && (hasCreds || len(named) == 0) {
		ids = append([]string{"default"}, ids...)
	}
	if p.ids == nil {
		p.ids = map[string]map[string]string{}
	}
	p.ids[name] = map[string]string{}
	for _, id := range ids {
		fields := map[string]json.RawMessage{}
		for k, v := range top {
			if k != "accounts" && k != "defaultAccount" {
				fields[k] = v
			}
		}
		awhere := where
		if acc, ok := named[id]; ok {
			awhere = where + ".accounts." + id
			for k, v := range acc {
				fields[k] = v
			}
		}
		key := name + "/" + keyPart(id)
		p.ids[name][id] = key
		if id == defaultID {
			p.defaults[name] = key
		}
		if err := p.account(name, id, key, awhere, spec, fields); err != nil {
			return err
		}
	}
	if _, ok := p.defaults[name]; !ok && len(ids) == 1 {
		p.defaults[name] = p.ids[name][ids[0]]
	}
	return nil
}

func (p *ocParser) account(channel, id, key, where string, spec ocChannel, fields map[string]json.RawMessage) error {
	str := func(f string) (string, error) {
		v, ok := fields[f]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", &FieldError{File: p.file, Field: where + "." + f, Msg: "must be a string"}
		}
		return s, nil
	}
	if v, ok := fields["enabled"]; ok {
		var on bool
		if err := json.Unmarshal(v, &on); err != nil {
			return &FieldError{File: p.file, Field: where + ".enabled", Msg: "must be true or false"}
		}
		if !on {
			why := "disabled in OpenClaw (enabled: false)"
			p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "account", Key: key, Where: where, Reason: ReasonDisabled, Detail: why})
			p.skipped[key] = why
			return nil
		}
	}
	if channel == "slack" {
		mode, err := str("mode")
		if err != nil {
			return err
		}
		if mode != "http" {
			why := "Slack Socket Mode app (OpenClaw's default mode): events arrive over a websocket with the app-level token, not as signed HTTP requests; switch the app to HTTP Request URLs (mode: \"http\" with its signingSecret) to import it"
			p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "account", Key: key, Where: where, Reason: ReasonNoCounterpart, Detail: why})
			p.skipped[key] = why
			return nil
		}
	}
	secrets := map[string]string{}
	fieldNames := make([]string, 0, len(spec.secrets))
	for f := range spec.secrets {
		fieldNames = append(fieldNames, f)
	}
	sort.Strings(fieldNames)
	for _, f := range fieldNames {
		v, err := str(f)
		if err != nil {
			return err
		}
		if v != "" {
			secrets[spec.secrets[f]] = v
		}
	}
	if err := api.ValidateSecrets(spec.provider, secrets); err != nil {
		// The purpose name, not the OpenClaw field: map it back.
		msg := err.Error()
		for f, purpose := range spec.secrets {
			msg = strings.ReplaceAll(msg, "secrets."+purpose, f)
		}
		return &FieldError{File: p.file, Field: where, Msg: msg}
	}
	verify := api.VerifyPurpose(spec.provider)
	var verifyField string
	for f, purpose := range spec.secrets {
		if purpose == verify {
			verifyField = f
		}
	}
	missing := where + "." + verifyField + " is not set"
	switch {
	case channel == "telegram":
		missing += " (without it OpenClaw polls getUpdates; Switchboard receives webhooks verified by the secret token given to setWebhook)"
	case fields["tokenFile"] != nil || fields["secretFile"] != nil:
		missing += " (tokenFile/secretFile are files on the OpenClaw host, not read by the importer: put the value in the file given to import)"
	}
	if _, ok := secrets[verify]; !ok {
		missing += "; an environment fallback (e.g. " + strings.ToUpper(channel) + "_…) is not read either"
	}
	var extID string
	if tok := secrets[store.PurposeBotToken]; channel == "telegram" && tok != "" {
		extID, _, _ = strings.Cut(tok, ":")
	}
	name, err := str("name")
	if err != nil {
		return err
	}
	if name == "" {
		name = "openclaw " + channel + " " + id
	}
	p.src.Accounts = append(p.src.Accounts, Account{Key: key, Where: where, Provider: spec.provider, Name: name,
		ExternalAppID: extID, Secrets: secrets, MissingSecret: missing})
	p.accounts[channel] = append(p.accounts[channel], key)
	// Settings with no counterpart are listed, one per field.
	known := map[string]bool{"enabled": true, "name": true, "tokenFile": true, "secretFile": true}
	for f := range spec.secrets {
		known[f] = true
	}
	for _, f := range spec.known {
		known[f] = true
	}
	var others []string
	for f := range fields {
		if !known[f] {
			others = append(others, f)
		}
	}
	sort.Strings(others)
	for _, f := range others {
		p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "setting", Key: key + "/" + f, Where: where + "." + f, Reason: ReasonNoCounterpart,
			Detail: "OpenClaw setting with no Switchboard counterpart (access policy, mention gating, streaming, … are the agent's business): not imported"})
	}
	return nil
}

func (p *ocParser) agents(oc ocConfig, opts OpenClawOptions) error {
	type entry struct {
		a     ocAgent
		where string
	}
	var list []entry
	for i, a := range oc.Agents.List {
		if a.ID == "" {
			return &FieldError{File: p.file, Field: fmt.Sprintf("agents.list[%d].id", i), Msg: "required"}
		}
		list = append(list, entry{a, fmt.Sprintf("agents.list[%d]", i)})
	}
	ids := make([]string, 0, len(oc.Agents.Entries))
	for id := range oc.Agents.Entries {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := oc.Agents.Entries[id]
		a.ID = id
		list = append(list, entry{a, "agents.entries." + id})
	}
	p.agentIDs = map[string]bool{}
	for _, e := range list {
		if p.agentIDs[e.a.ID] {
			return &FieldError{File: p.file, Field: e.where, Msg: fmt.Sprintf("agent id %q listed twice", e.a.ID)}
		}
		p.agentIDs[e.a.ID] = true
		if e.a.Default && p.defAgent == "" {
			p.defAgent = e.a.ID
		}
	}
	// OpenClaw's fallback: the default agent, else the first listed, else main.
	if p.defAgent == "" && len(list) > 0 {
		p.defAgent = list[0].a.ID
	}
	if p.defAgent == "" {
		p.defAgent = "main"
		p.agentIDs["main"] = true
		list = append(list, entry{ocAgent{ID: "main"}, "agents (none listed: OpenClaw's implicit main agent)"})
	}
	for _, e := range list {
		name := e.a.Identity.Name
		if name == "" {
			name = e.a.Name
		}
		if name == "" {
			name = e.a.ID
		}
		u := opts.AgentURLs[e.a.ID]
		if u == "" && opts.AgentBase != "" {
			u = strings.TrimSuffix(opts.AgentBase, "/") + "/" + keyPart(e.a.ID)
		}
		if u != "" {
			if err := api.CheckAgentURL(u); err != nil {
				return &FieldError{File: p.file, Field: e.where, Msg: "agent URL: " + err.Error()}
			}
		}
		p.src.Agents = append(p.src.Agents, Agent{Key: "agent/" + keyPart(e.a.ID), Where: e.where, Name: name, URL: u,
			Default: e.a.ID == p.defAgent,
			NoURL:   fmt.Sprintf("OpenClaw agent %q is a local workspace with no URL: give --agent-url %s=https://… or --agent-base", e.a.ID, e.a.ID)})
	}
	return nil
}

// OpenClaw's routing tiers (most specific first) as binding priorities.
const (
	tierPeer        = 500
	tierGuild       = 400
	tierTeam        = 300
	tierAccount     = 200
	tierChannelWide = 100
	tierDefault     = 0
)

func (p *ocParser) binding(i int, ob ocBinding) error {
	where := fmt.Sprintf("bindings[%d]", i)
	m := ob.Match
	refuse := func(reason Reason, format string, args ...any) {
		p.src.Refused = append(p.src.Refused, Item{Kind: "binding", Key: where, Where: where, Reason: reason, Detail: fmt.Sprintf(format, args...)})
	}
	if ob.AgentID == "" {
		return &FieldError{File: p.file, Field: where + ".agentId", Msg: "required"}
	}
	if m.Channel == "" {
		return &FieldError{File: p.file, Field: where + ".match.channel", Msg: "required"}
	}
	if why, skipped := p.skipped[m.Channel]; skipped {
		p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "binding", Key: where, Where: where, Reason: ReasonNoCounterpart,
			Detail: fmt.Sprintf("routes channel %s, which is not imported: %s", m.Channel, why)})
		return nil
	}
	if _, ok := ocChannels[m.Channel]; !ok {
		refuse(ReasonInvalid, "match.channel %q is not a channel of this configuration", m.Channel)
		return nil
	}
	if !p.agentIDs[ob.AgentID] {
		refuse(ReasonUnknownAgent, "agentId %q is not an agent of agents.list", ob.AgentID)
		return nil
	}
	if len(m.Roles) > 0 {
		p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "binding", Key: where, Where: where, Reason: ReasonNoCounterpart,
			Detail: "match.roles (Discord roles) has no counterpart: a Switchboard binding cannot select by the sender's roles"})
		return nil
	}
	if m.GuildID != "" {
		refuse(ReasonInvalid, "match.guildId is Discord's; channel %s has no guilds", m.Channel)
		return nil
	}
	if m.TeamID != "" && m.Channel != "slack" {
		refuse(ReasonInvalid, "match.teamId is Slack's; channel %s has no teams", m.Channel)
		return nil
	}
	var sel store.Selector
	prio := tierAccount
	keyParts := []string{}
	if m.TeamID != "" {
		sel.Account = m.TeamID
		prio = tierTeam
		keyParts = append(keyParts, "team="+keyPart(m.TeamID))
	}
	if m.Peer != nil {
		if m.Peer.ID == "" {
			return &FieldError{File: p.file, Field: where + ".match.peer.id", Msg: "required"}
		}
		switch m.Peer.Kind {
		case "group", "channel":
			sel.Channel = m.Peer.ID
			prio = tierPeer
		case "direct", "dm":
			if m.Channel == "telegram" {
				sel.Channel = m.Peer.ID // a private chat's id is the user's id
				prio = tierPeer
			} else {
				sel.Peer = m.Peer.ID // also matches the user in shared channels
				prio = tierPeer - 1
			}
		default:
			refuse(ReasonInvalid, "match.peer.kind %q: want direct, group or channel", m.Peer.Kind)
			return nil
		}
		keyParts = append(keyParts, "peer="+keyPart(m.Peer.Kind)+":"+keyPart(m.Peer.ID))
	}
	var accounts []string
	switch m.AccountID {
	case "":
		def, ok := p.defaults[m.Channel]
		if !ok {
			refuse(ReasonUnknownAccount, "no accountId and channel %s has no default account (set defaultAccount)", m.Channel)
			return nil
		}
		accounts = []string{def}
	case "*":
		accounts = p.allAccounts(m.Channel)
		if m.TeamID == "" && m.Peer == nil {
			prio = tierChannelWide
		}
		keyParts = append(keyParts, "any-account")
	default:
		key, ok := p.ids[m.Channel][m.AccountID]
		if !ok {
			refuse(ReasonUnknownAccount, "accountId %q is not an account of channels.%s", m.AccountID, m.Channel)
			return nil
		}
		accounts = []string{key}
	}
	if len(keyParts) == 0 {
		keyParts = []string{"account"}
	}
	if p.bindKeys == nil {
		p.bindKeys = map[string]string{}
	}
	for _, acc := range accounts {
		if why, skipped := p.skipped[acc]; skipped {
			p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "binding", Key: where, Where: where, Reason: ReasonNoCounterpart,
				Detail: fmt.Sprintf("routes account %s, which is not imported: %s", acc, why)})
			continue
		}
		key := acc + "/binding/" + strings.Join(keyParts, ",")
		if first, dup := p.bindKeys[key]; dup {
			p.src.Unsupported = append(p.src.Unsupported, Item{Kind: "binding", Key: key, Where: where, Reason: ReasonShadowed,
				Detail: fmt.Sprintf("same match as %s, which OpenClaw takes first (config order): this binding never routes", first)})
			continue
		}
		p.bindKeys[key] = where
		p.src.Bindings = append(p.src.Bindings, Binding{Key: key, Where: where, Account: acc, Tenant: m.TeamID,
			Selector: sel, Agent: "agent/" + keyPart(ob.AgentID), Priority: prio})
	}
	return nil
}

func (p *ocParser) allAccounts(channel string) []string {
	var out []string
	for _, key := range p.ids[channel] {
		out = append(out, key)
	}
	sort.Strings(out)
	return out
}

// defaultBindings gives every imported account OpenClaw's last rule: what no
// binding matched goes to the default agent.
func (p *ocParser) defaultBindings() {
	var accs []string
	for _, keys := range p.accounts {
		accs = append(accs, keys...)
	}
	sort.Strings(accs)
	for _, acc := range accs {
		p.src.Bindings = append(p.src.Bindings, Binding{Key: acc + "/binding/default-agent", Where: "agents (default agent " + p.defAgent + ")",
			Account: acc, EveryTenant: true, Agent: "agent/" + keyPart(p.defAgent), Priority: tierDefault})
	}
}
