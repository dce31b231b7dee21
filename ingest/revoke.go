package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/store"
)

// Audit actions of provider-reported revocations (actor "provider:<name>").
const (
	ActionInstallationRevoke  = "installation.revoke"
	ActionConversationRevoke  = "conversation.revoke"
	ActionConversationRestore = "conversation.restore"
)

// revoke acts on the revocations a provider reported, before anything else
// of the body: the installation (or one conversation of it) is marked in the
// store and audited with the provider's reason. The installation's own
// revocation bumps the store generation, so the next configuration push
// marks its ingress revoked at every edge; tasks already queued for it are
// dead-lettered by the worker with the reason.
//
// A revocation naming no installation that exists here (a Discord user who
// removed a guild-installed app, a workspace that was never installed) or
// one already recorded is acknowledged and logged: refusing it would only
// make the provider retry. One naming an installation of another tenant
// than the attested one is refused like an event would be.
func (h *Handler) revoke(ctx context.Context, req *request, revs []provider.Revocation) *rejection {
	for _, rv := range revs {
		inst, ok, rej := h.revocationTarget(ctx, req, rv)
		if rej != nil {
			return rej
		}
		if !ok {
			h.cfg.Logger.Info("revocation for no installation here, acknowledged", "provider", req.id.Provider,
				"ingress", req.id.IngressID, "reason", rv.Reason, "event_id", rv.EventID)
			continue
		}
		if rej := h.applyRevocation(ctx, req, inst, rv); rej != nil {
			return rej
		}
	}
	return nil
}

// revocationTarget finds the installation a revocation is about and checks
// it against the attested identity like an event's (same tenant, same app).
// ok is false when there is none to act on.
func (h *Handler) revocationTarget(ctx context.Context, req *request, rv provider.Revocation) (store.Installation, bool, *rejection) {
	id, q := req.id, h.cfg.Store
	var inst store.Installation
	var err error
	switch {
	case id.Platform:
		if rv.Account == "" {
			// Meta's deauthorize callback names a person, not a Page:
			// nothing of a shared app can be revoked from it.
			return inst, false, nil
		}
		inst, err = q.FindInstallation(ctx, id.Profile, rv.Account)
	default:
		if inst, err = q.GetInstallation(ctx, id.Installation); err == nil && rv.Account != "" && inst.ExternalID != "" && rv.Account != inst.ExternalID {
			// An org's own app installed in several places posts every
			// installation's notifications to one URL: find the one named,
			// of the same profile (load checks it is the same org's).
			inst, err = q.FindInstallation(ctx, inst.ProfileID, rv.Account)
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inst, false, nil
	case err != nil:
		return inst, false, reject(ReasonStoreUnavailable, "load installation: "+err.Error())
	}
	rej := func(reason Reason, detail string) *rejection {
		return &rejection{reason: reason, detail: detail, org: inst.OrgID, target: inst.ID}
	}
	if inst.Provider != id.Provider {
		return inst, false, rej(ReasonTenantMismatch, "installation provider differs from the attested provider")
	}
	if id.Platform {
		if inst.ProfileID != id.Profile {
			return inst, false, rej(ReasonTenantMismatch, "installation is not of the attested platform profile")
		}
	} else if inst.OrgID != id.Org || (id.Profile != "" && inst.ProfileID != id.Profile) {
		return inst, false, rej(ReasonTenantMismatch, "installation org or profile differs from the attested identity")
	}
	if rv.AppID != "" {
		prof, err := q.GetProfile(ctx, inst.ProfileID)
		if err != nil {
			return inst, false, rej(ReasonStoreUnavailable, "load profile: "+err.Error())
		}
		if prof.ExternalAppID != "" && prof.ExternalAppID != rv.AppID {
			return inst, false, rej(ReasonTenantMismatch, fmt.Sprintf("revocation app id %s is not the profile's", provider.Quote(rv.AppID)))
		}
	}
	return inst, true, nil
}

// applyRevocation records one revocation in one transaction with its audit
// event.
func (h *Handler) applyRevocation(ctx context.Context, req *request, inst store.Installation, rv provider.Revocation) *rejection {
	st := h.cfg.Store
	now := req.now.UTC()
	action := ActionInstallationRevoke
	switch {
	case rv.Scope == provider.ScopeConversation && rv.Restore:
		action = ActionConversationRestore
	case rv.Scope == provider.ScopeConversation:
		action = ActionConversationRevoke
	}
	if rv.Scope == provider.ScopeInstallation && inst.RevokedAt != nil {
		h.cfg.Logger.Info("revocation of an installation already revoked, acknowledged", "provider", req.id.Provider,
			"installation", inst.ID, "org", inst.OrgID, "reason", rv.Reason)
		return nil
	}
	detail := map[string]any{"provider": req.id.Provider, "reason": rv.Reason, "source": "provider"}
	if rv.EventID != "" {
		detail["event_id"] = rv.EventID
	}
	if rv.Conversation != "" {
		detail["conversation"] = rv.Conversation
	}
	raw, _ := json.Marshal(detail)
	changed := true
	err := st.InTx(ctx, func(q store.Queries) error {
		switch action {
		case ActionInstallationRevoke:
			if err := q.RevokeInstallation(ctx, inst.ID, now); err != nil {
				return err
			}
			if err := q.PutRevocation(ctx, store.Revocation{InstallationID: inst.ID, Reason: rv.Reason, EventID: rv.EventID, RevokedAt: now}); err != nil {
				return err
			}
		case ActionConversationRevoke:
			if _, err := q.GetRevocation(ctx, inst.ID, rv.Conversation); err == nil {
				changed = false // already revoked: keep the first
				return nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := q.PutRevocation(ctx, store.Revocation{InstallationID: inst.ID, Conversation: rv.Conversation, Reason: rv.Reason, EventID: rv.EventID, RevokedAt: now}); err != nil {
				return err
			}
		case ActionConversationRestore:
			if err := q.DeleteRevocation(ctx, inst.ID, rv.Conversation); errors.Is(err, store.ErrNotFound) {
				changed = false // nothing to lift
				return nil
			} else if err != nil {
				return err
			}
		}
		_, err := q.AppendAudit(ctx, store.AuditEvent{At: now, Actor: "provider:" + req.id.Provider, OrgID: inst.OrgID,
			Action: action, Target: inst.ID, Detail: string(raw)})
		return err
	})
	if err != nil {
		return &rejection{reason: ReasonStoreUnavailable, detail: "record revocation: " + err.Error(), org: inst.OrgID, target: inst.ID}
	}
	h.cfg.Logger.Info("provider revocation", "action", action, "changed", changed, "provider", req.id.Provider,
		"installation", inst.ID, "org", inst.OrgID, "conversation", rv.Conversation, "reason", rv.Reason, "event_id", rv.EventID)
	return nil
}

// conversationRevoked reports whether the bot was blocked or removed in the
// event's conversation (a provider-reported revocation not lifted since).
func (h *Handler) conversationRevoked(ctx context.Context, instID, conversation string, seen map[[2]string]bool) (bool, error) {
	k := [2]string{instID, conversation}
	if v, ok := seen[k]; ok {
		return v, nil
	}
	_, err := h.cfg.Store.GetRevocation(ctx, instID, conversation)
	switch {
	case err == nil:
		seen[k] = true
	case errors.Is(err, store.ErrNotFound):
		seen[k] = false
	default:
		return false, err
	}
	return seen[k], nil
}
