package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// Rekey re-wraps every stored secret that is not under the keyring's primary
// key. Each secret is updated on its own, so a reader holding the same keyring
// opens every secret at every moment of the run, and a stopped run resumes
// where it left off. progress (may be nil) is called after each secret with
// the number done and the number that needed it. Returns how many were
// re-wrapped. A final audit event records the run.
func Rekey(ctx context.Context, st store.Store, k *Keyring, progress func(done, total int)) (int, error) {
	all, err := st.ListAllSecrets(ctx)
	if err != nil {
		return 0, fmt.Errorf("rekey: %w", err)
	}
	var todo []store.Secret
	for _, s := range all {
		if s.KeyID != k.Primary() {
			todo = append(todo, s)
		}
	}
	done := 0
	for _, s := range todo {
		if err := ctx.Err(); err != nil {
			return done, fmt.Errorf("rekey stopped after %d of %d: %w", done, len(todo), err)
		}
		keyID, ct, err := k.Rewrap(s.KeyID, s.Ciphertext, s.ID)
		if err != nil {
			return done, fmt.Errorf("rekey after %d of %d: %w", done, len(todo), err)
		}
		if err := st.UpdateSecretCiphertext(ctx, s.ID, keyID, ct); err != nil {
			return done, fmt.Errorf("rekey after %d of %d: %w", done, len(todo), err)
		}
		done++
		if progress != nil {
			progress(done, len(todo))
		}
	}
	if done > 0 {
		detail, _ := json.Marshal(map[string]any{"rekeyed": done, "key_id": k.Primary()})
		if _, err := st.AppendAudit(ctx, store.AuditEvent{At: time.Now().UTC(), Actor: "system",
			Action: "secret.rekey", Detail: string(detail)}); err != nil {
			return done, fmt.Errorf("rekey: audit: %w", err)
		}
	}
	return done, nil
}
