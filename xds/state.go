// Package xds is the control plane's xDS side: a pure translation from the
// binding store's state to the edge filter configuration and to Envoy
// resources (listener, route, cluster and the ECDS TypedExtensionConfig that
// carries the Wasm filter's configuration), and an ADS server that serves it
// per node group and acts on NACKs.
package xds

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/switchboard-dev/switchboard/store"
)

// Secret is a store secret whose plaintext was opened by the loader. Only
// verification material (signing, public_key, verify_token, secret_token) of
// profiles and installations is ever opened; outbound credentials are not.
type Secret struct {
	store.Secret
	Plaintext []byte
}

// State is everything the translation reads. It is plain data: the loader
// (LoadState) does the I/O and the decryption, the rest is pure.
type State struct {
	Generation    int64 // store generation this state was read at
	Orgs          []store.Org
	Profiles      []store.AppProfile
	Installations []store.Installation
	Secrets       []Secret
	Stages        []store.RolloutStage
}

// Opener opens a sealed store secret (implemented by *secrets.Keyring; the
// AAD is the secret id).
type Opener interface {
	Open(keyID string, ciphertext []byte, aad string) ([]byte, error)
}

// verificationPurposes are the secret purposes the edge needs. Everything else
// (bot tokens) stays sealed in the store.
var verificationPurposes = map[string]bool{
	store.PurposeSigning:     true,
	store.PurposePublicKey:   true,
	store.PurposeVerifyToken: true,
	store.PurposeSecretToken: true,
}

// LoadState reads the state the edge configuration is built from and opens
// the verification secrets of profiles and installations with kr.
// Generation is read first, so a change committed during the load yields a
// higher generation on the next poll and is not missed.
func LoadState(ctx context.Context, st store.Store, kr Opener) (*State, error) {
	gen, err := st.Generation(ctx)
	if err != nil {
		return nil, fmt.Errorf("read store generation: %w", err)
	}
	s, err := LoadQueries(ctx, st, kr)
	if err != nil {
		return nil, err
	}
	s.Generation = gen
	return s, nil
}

// LoadQueries is LoadState without the generation (for callers holding a
// transaction).
func LoadQueries(ctx context.Context, q store.Queries, kr Opener) (*State, error) {
	var s State
	var err error
	if s.Orgs, err = q.ListOrgs(ctx, ""); err != nil {
		return nil, fmt.Errorf("list orgs: %w", err)
	}
	if s.Profiles, err = q.ListProfiles(ctx, nil); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	if s.Installations, err = q.ListInstallations(ctx, ""); err != nil {
		return nil, fmt.Errorf("list installations: %w", err)
	}
	if s.Stages, err = q.ListStages(ctx); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("list rollout stages: %w", err)
	}
	all, err := q.ListAllSecrets(ctx)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	if s.Secrets, err = openSecrets(all, kr); err != nil {
		return nil, err
	}
	s.sort()
	return &s, nil
}

// openSecrets opens the verification secrets of profiles and installations;
// every other secret stays sealed.
func openSecrets(all []store.Secret, kr Opener) ([]Secret, error) {
	out := make([]Secret, 0, len(all))
	for _, sec := range all {
		if sec.OwnerKind != store.OwnerProfile && sec.OwnerKind != store.OwnerInstallation {
			continue
		}
		if !verificationPurposes[sec.Purpose] {
			continue
		}
		pt, err := kr.Open(sec.KeyID, sec.Ciphertext, sec.ID)
		if err != nil {
			// Never include the ciphertext or plaintext in the error.
			return nil, fmt.Errorf("open secret %s (%s of %s %s): %w", sec.ID, sec.Purpose, sec.OwnerKind, sec.OwnerID, err)
		}
		out = append(out, Secret{Secret: sec, Plaintext: pt})
	}
	return out, nil
}

// sort puts every list in id order so translation output does not depend on
// the backend's row order.
func (s *State) sort() {
	sort.Slice(s.Orgs, func(i, j int) bool { return s.Orgs[i].ID < s.Orgs[j].ID })
	sort.Slice(s.Profiles, func(i, j int) bool { return s.Profiles[i].ID < s.Profiles[j].ID })
	sort.Slice(s.Installations, func(i, j int) bool { return s.Installations[i].ID < s.Installations[j].ID })
	sort.Slice(s.Secrets, func(i, j int) bool { return s.Secrets[i].ID < s.Secrets[j].ID })
	sort.Slice(s.Stages, func(i, j int) bool { return s.Stages[i].Provider < s.Stages[j].Provider })
}
