package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-dev/switchboard/envelope"
	"github.com/switchboard-dev/switchboard/store"
)

// checkServed refuses, permanently, a task whose installation or
// conversation may no longer be served: the installation (or its org or
// profile) was revoked, by an operator or because the provider reported an
// uninstall, or the bot was blocked or removed in the conversation. Tasks
// queued before the revocation end as dead letters whose error names the
// provider's reason. It runs before the agent is called and before each
// reply.
// q is the task's view of the store (Pool.dir).
func (p *Pool) checkServed(ctx context.Context, q Directory, env envelope.Envelope) (store.Installation, error) {
	inst, err := q.GetInstallation(ctx, env.InstallationID)
	if errors.Is(err, store.ErrNotFound) {
		return inst, permanent("installation %s not found", env.InstallationID)
	}
	if err != nil {
		return inst, fmt.Errorf("load installation %s: %w", env.InstallationID, err)
	}
	if inst.OrgID != env.OrgID {
		return inst, permanent("installation %s does not belong to org %s", inst.ID, env.OrgID)
	}
	if inst.RevokedAt != nil {
		rv, err := q.GetRevocation(ctx, inst.ID, "")
		switch {
		case err == nil:
			return inst, permanent("installation %s revoked by the provider (%s)", inst.ID, rv.Reason)
		case errors.Is(err, store.ErrNotFound):
			return inst, permanent("installation %s is revoked", inst.ID)
		}
		return inst, fmt.Errorf("load revocation of installation %s: %w", inst.ID, err)
	}
	rv, err := q.GetRevocation(ctx, inst.ID, env.Conversation)
	switch {
	case err == nil:
		return inst, permanent("conversation %s of installation %s revoked by the provider (%s)", env.Conversation, inst.ID, rv.Reason)
	case !errors.Is(err, store.ErrNotFound):
		return inst, fmt.Errorf("load revocation of conversation of installation %s: %w", inst.ID, err)
	}
	return inst, nil
}
