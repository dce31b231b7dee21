package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/switchboard-dev/switchboard/credpolicy"
	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/store"
)

// maxAgentAnswer bounds what is read of an agent's answer.
const maxAgentAnswer = 1 << 20

// AgentAnswer is the optional JSON body of an agent's 2xx answer.
type AgentAnswer struct {
	Replies []struct {
		Text string `json:"text"`
	} `json:"replies"`
}

// agentError is a non-2xx answer or a transport failure of an agent.
type agentError struct {
	agent      string
	status     int
	retryAfter time.Duration
	err        error
}

func (e *agentError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("deliver to agent %s: %v", e.agent, e.err)
	}
	return fmt.Sprintf("deliver to agent %s: HTTP %d", e.agent, e.status)
}
func (e *agentError) Unwrap() error             { return e.err }
func (e *agentError) RetryAfter() time.Duration { return e.retryAfter }

// Temporary: every failure is retried (as Standard Webhooks senders do),
// except 410 Gone, the agent's way to say "stop".
func (e *agentError) Temporary() bool { return e.status != http.StatusGone }

// validSecrets returns the secrets of purpose valid at now, newest first.
func validSecrets(all []store.Secret, purpose string, now time.Time) []store.Secret {
	var out []store.Secret
	for _, s := range all {
		if s.Purpose != purpose || now.Before(s.NotBefore) || (s.NotAfter != nil && !now.Before(*s.NotAfter)) {
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotBefore.After(out[j].NotBefore) })
	return out
}

// deliver POSTs env to its agent signed with Standard Webhooks under every
// currently valid signing secret of the agent (several during a rotation), and
// returns the texts of the agent's replies. webhook-id is the task id, stable
// across retries, so the agent can deduplicate an at-least-once delivery.
func (p *Pool) deliver(ctx context.Context, env envelope.Envelope) ([]string, error) {
	q, err := p.dir(ctx, env)
	if err != nil {
		return nil, err
	}
	if _, err := p.checkServed(ctx, q, env); err != nil {
		return nil, err
	}
	agent, err := q.GetAgent(ctx, env.AgentID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, permanent("agent %s not found", env.AgentID)
	}
	if err != nil {
		return nil, fmt.Errorf("load agent %s: %w", env.AgentID, err)
	}
	if agent.OrgID != env.OrgID {
		return nil, permanent("agent %s does not belong to org %s", agent.ID, env.OrgID)
	}
	if agent.RevokedAt != nil {
		return nil, permanent("agent %s is revoked", agent.ID)
	}
	all, err := q.ListSecrets(ctx, store.OwnerAgent, agent.ID)
	if err != nil {
		return nil, fmt.Errorf("load secrets of agent %s: %w", agent.ID, err)
	}
	now := p.cfg.Now()
	valid := validSecrets(all, store.PurposeSigning, now)
	if len(valid) == 0 {
		return nil, permanent("agent %s has no valid signing secret", agent.ID)
	}
	// The provenance seal is between ingest and the workers: the agent's
	// delivery is authenticated by its own Standard Webhooks signature.
	env.Seal = nil
	body, err := json.Marshal(env)
	if err != nil {
		return nil, permanent("encode envelope: %v", err)
	}
	// Secrets are opened only now and dropped when the headers are built.
	keys := make([]string, 0, len(valid))
	for _, s := range valid {
		pt, err := p.cfg.Keyring.Open(s.KeyID, s.Ciphertext, s.ID)
		if err != nil {
			return nil, fmt.Errorf("open signing secret %s of agent %s: %w", s.ID, agent.ID, err)
		}
		keys = append(keys, string(pt))
		clear(pt)
	}
	headers, err := sign.StandardWebhooks(env.ID, now.Unix(), body, keys...)
	keys = nil
	if err != nil {
		return nil, permanent("sign delivery for agent %s: %v", agent.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, agent.URL, bytes.NewReader(body))
	if err != nil {
		return nil, permanent("agent %s URL: %v", agent.ID, err)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Worker/1")
	resp, err := p.cfg.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the agent URL may carry a token in its query: keep it out of logs
		}
		return nil, &agentError{agent: agent.ID, err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAgentAnswer))
	if resp.StatusCode/100 != 2 {
		e := &agentError{agent: agent.ID, status: resp.StatusCode}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.retryAfter = time.Duration(secs) * time.Second
		}
		return nil, e
	}
	replies, err := ParseAgentAnswer(raw)
	if err != nil {
		// The agent accepted the event; a retry would deliver it again.
		p.log.Warn("agent answer unusable, no replies sent", "agent", agent.ID, "task", env.ID, "err", err)
		return nil, nil
	}
	return replies, nil
}

// maxReplies bounds how many replies one agent answer may ask to send: each
// is a provider API call made with the installation's credentials.
const maxReplies = 20

// ParseAgentAnswer reads the texts of an agent's 2xx answer body: empty (no
// replies) or the JSON object AgentAnswer. Empty texts are dropped. Bad input
// gets an error naming what is wrong and no replies (none is half-taken).
func ParseAgentAnswer(raw []byte) ([]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var ans AgentAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, fmt.Errorf("agent answer is not a JSON object {\"replies\":[{\"text\":...}]}: %w", err)
	}
	if len(ans.Replies) > maxReplies {
		return nil, fmt.Errorf("agent answer has %d replies, at most %d are sent", len(ans.Replies), maxReplies)
	}
	var out []string
	for _, r := range ans.Replies {
		if r.Text != "" {
			out = append(out, r.Text)
		}
	}
	return out, nil
}

// sendReply sends text into env's conversation through the provider API with
// the installation's own bot token. The platform profile's token is used
// only when the installation has none and carries the explicit
// PlatformCredentials opt-in; every such send writes the audit event
// send.platform_credentials. An org-owned profile's token (the same org's own
// app) is used when the installation has none.
func (p *Pool) sendReply(ctx context.Context, env envelope.Envelope, text string) error {
	q, err := p.dir(ctx, env)
	if err != nil {
		return err
	}
	inst, err := p.checkServed(ctx, q, env)
	if err != nil {
		return err
	}
	sender := p.cfg.Senders[inst.Provider]
	if sender == nil {
		return permanent("no outbound client for provider %q", inst.Provider)
	}
	now := p.cfg.Now()
	own, err := q.ListSecrets(ctx, store.OwnerInstallation, inst.ID)
	if err != nil {
		return fmt.Errorf("load secrets of installation %s: %w", inst.ID, err)
	}
	// Which token may send for this installation is credpolicy's rule (the
	// edge configuration builder applies the same one to verification).
	cred := validSecrets(own, store.PurposeBotToken, now)
	subject := credpolicy.Subject{InstallationOrg: inst.OrgID, PlatformOptIn: inst.PlatformCredentials, HasOwn: len(cred) > 0}
	d := credpolicy.Decide(credpolicy.Send, subject)
	if d.Source != credpolicy.SourceInstallation {
		prof, err := q.GetProfile(ctx, inst.ProfileID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("load profile %s: %w", inst.ProfileID, err)
		default:
			subject.ProfileFound, subject.ProfileOwner = true, prof.OwnerOrgID
			ps, err := q.ListSecrets(ctx, store.OwnerProfile, prof.ID)
			if err != nil {
				return fmt.Errorf("load secrets of profile %s: %w", prof.ID, err)
			}
			cred = validSecrets(ps, store.PurposeBotToken, now)
			subject.HasProfile = len(cred) > 0
		}
		d = credpolicy.Decide(credpolicy.Send, subject)
		switch d.Refusal {
		case credpolicy.RefusalNone:
		case credpolicy.RefusalNoMaterial:
			return permanent("installation %s: no bot token (neither its own nor its profile %s's)", inst.ID, inst.ProfileID)
		default:
			return permanent("installation %s has no bot token and may not use its profile's (%s)", inst.ID, d.Refusal)
		}
	}
	platform := d.Audit
	if platform {
		detail, _ := json.Marshal(map[string]string{"profile": inst.ProfileID, "task": env.ID, "provider": inst.Provider})
		if _, err := p.cfg.Store.AppendAudit(ctx, store.AuditEvent{
			At: now, Actor: "system", OrgID: inst.OrgID, Action: "send.platform_credentials",
			Target: inst.ID, Detail: string(detail),
		}); err != nil {
			// No audit, no send: the opt-in is only honoured when it is recorded.
			return fmt.Errorf("audit platform-credentials send: %w", err)
		}
	}
	s := cred[0]
	pt, err := p.cfg.Keyring.Open(s.KeyID, s.Ciphertext, s.ID)
	if err != nil {
		return fmt.Errorf("open bot token %s: %w", s.ID, err)
	}
	token := string(pt)
	clear(pt)
	if rs, ok := sender.(provider.ReplySender); ok {
		prof, err := q.GetProfile(ctx, inst.ProfileID)
		if err != nil {
			return fmt.Errorf("load profile %s: %w", inst.ProfileID, err)
		}
		var settings map[string]string
		if is, ok := p.cfg.Store.(store.InstallationSettings); ok {
			if settings, err = is.GetInstallationSettings(ctx, inst.ID); err != nil {
				return fmt.Errorf("load settings of installation %s: %w", inst.ID, err)
			}
		}
		return rs.SendReply(ctx, provider.Reply{
			Token: token, Account: inst.ExternalID, AppID: prof.ExternalAppID, Settings: settings,
			Conversation: env.Conversation, Thread: env.Thread,
			EventID: env.EventID, Raw: env.Raw, ReceivedAt: env.ReceivedAt, Text: text,
		})
	}
	return sender.SendText(ctx, token, inst.ExternalID, env.Conversation, env.Thread, text)
}
