package xds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/switchboard-dev/switchboard/credpolicy"
	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

// SchemeFor maps a provider to its verification scheme (CONTRACTS.md).
var providerSchemes = map[string]filter.Scheme{
	"slack":            filter.SchemeSlackV0,
	"whatsapp":         filter.SchemeMetaSHA256,
	"messenger":        filter.SchemeMetaSHA256,
	"instagram":        filter.SchemeMetaSHA256,
	"telegram":         filter.SchemeTelegramToken,
	"discord":          filter.SchemeDiscordEd25519,
	"twilio":           filter.SchemeTwilioSHA1,
	"line":             filter.SchemeLINE,
	"standardwebhooks": filter.SchemeStandardWebhooks,
	"github":           filter.SchemeGitHubSHA256,
}

// SchemeFor returns the verification scheme of a provider.
func SchemeFor(provider string) (filter.Scheme, bool) {
	s, ok := providerSchemes[provider]
	return s, ok
}

// fingerprinted purposes are equality-only tokens: the edge gets a keyed
// fingerprint, never the token.
var fingerprinted = map[string]bool{
	store.PurposeVerifyToken: true,
	store.PurposeSecretToken: true,
}

// EdgeConfig translates the store state into the edge filter configuration,
// sealing signing material under edgeKey. The output is sorted by ingress id
// and secret id; Config.Version is a digest of everything except the sealed
// bytes (sealing is randomised), so the same state gives the same version on
// every control-plane replica.
//
// Rules:
//   - one entry per installation of a provider whose stage is not off (at
//     canary: only installations of the stage's canary and probe orgs; a
//     provider without a stage row is not served);
//   - an installation that is revoked, or whose org or profile is revoked, is
//     kept but marked Revoked with no secrets, so the edge answers `revoked`;
//   - an org installation carries, per purpose, its own verification secrets,
//     else those of its profile when that profile is owned by the same org,
//     never a platform profile's;
//   - a platform profile with an ingress id gets its own entry (Platform) with
//     only the platform profile's secrets;
//   - secrets whose NotAfter has passed are dropped.
func EdgeConfig(st *State, edgeKey []byte, now time.Time) (filter.Config, error) {
	if len(edgeKey) == 0 {
		return filter.Config{}, fmt.Errorf("edge key is empty")
	}
	return EdgeConfigWith(st, now, KeySealer(edgeKey))
}

// Sealer gives a verification secret its edge form: Seal for signing
// material (bound to the ingress id it is served under), Fingerprint for
// equality-only tokens. KeySealer does the work every time; the Controller
// passes a cache in front of it so unchanged secrets are not re-sealed.
type Sealer interface {
	Seal(sec Secret, ingressID string) (string, error)
	Fingerprint(sec Secret) string
}

// KeySealer seals and fingerprints under edgeKey, with no cache.
func KeySealer(edgeKey []byte) Sealer { return keySealer(edgeKey) }

type keySealer []byte

func (k keySealer) Seal(sec Secret, ingressID string) (string, error) {
	return filter.Seal(k, sec.Plaintext, filter.SealAAD(ingressID, sec.ID))
}

func (k keySealer) Fingerprint(sec Secret) string {
	return filter.Fingerprint(k, string(sec.Plaintext))
}

// EdgeConfigWith is EdgeConfig with the sealing supplied by the caller; the
// translation itself stays pure.
func EdgeConfigWith(st *State, now time.Time, s Sealer) (filter.Config, error) {
	entries, err := edgeEntries(st, now, s.Seal, s.Fingerprint)
	if err != nil {
		return filter.Config{}, err
	}
	cfg := filter.Config{Installations: entries}
	if cfg.Version, err = ConfigVersion(cfg); err != nil {
		return filter.Config{}, err
	}
	return cfg, nil
}

type sealFunc func(sec Secret, ingressID string) (string, error)
type fingerprintFunc func(sec Secret) string

// edgeEntries is the translation without the version: the entries in
// ingress id order (never nil).
func edgeEntries(st *State, now time.Time, seal sealFunc, fp fingerprintFunc) ([]filter.Installation, error) {
	t := newTranslator(st, now, seal, fp)
	entries, _, err := t.all()
	return entries, err
}

// translator holds the indexes the translation looks rows up in. Every
// entry is made by installation or platformProfile, so a build that
// re-translates only some entries (memo.go) makes them exactly as a full
// translation does.
type translator struct {
	st      *State
	now     time.Time
	seal    sealFunc
	fp      fingerprintFunc
	orgIdx  map[string]int32     // org id -> index in st.Orgs
	profIdx map[string]int32     // profile id -> index in st.Profiles
	owned   map[ownerKey][]int32 // verification secrets (indexes in st.Secrets) by owner
	stages  map[string]store.RolloutStage
	scratch []*Secret // one purpose's list, reused
}

func newTranslator(st *State, now time.Time, seal sealFunc, fp fingerprintFunc) *translator {
	t := &translator{st: st, now: now, seal: seal, fp: fp,
		orgIdx:  make(map[string]int32, len(st.Orgs)),
		profIdx: make(map[string]int32, len(st.Profiles)),
		owned:   make(map[ownerKey][]int32, len(st.Secrets)),
	}
	for i := range st.Orgs {
		t.orgIdx[st.Orgs[i].ID] = int32(i)
	}
	for i := range st.Profiles {
		t.profIdx[st.Profiles[i].ID] = int32(i)
	}
	t.setStages()
	// secrets by owner kind/id, then by purpose
	for i := range st.Secrets {
		s := &st.Secrets[i]
		if !verificationPurposes[s.Purpose] {
			continue
		}
		k := ownerKey{s.OwnerKind, s.OwnerID}
		t.owned[k] = append(t.owned[k], int32(i))
	}
	return t
}

func (t *translator) setStages() {
	t.stages = make(map[string]store.RolloutStage, len(t.st.Stages))
	for _, s := range t.st.Stages {
		t.stages[s.Provider] = s
	}
}

func (t *translator) served(provider, orgID string) bool {
	stg, ok := t.stages[provider]
	if !ok {
		return false // no stage row: not served (stages are explicit)
	}
	if stg.Stage == store.StageCanary && orgID == "" {
		return true // platform ingress: ingest applies the stage per resolved org
	}
	return stg.Admits(orgID)
}

// ownedBy is the verification secrets of an owner, in st.Secrets order.
func (t *translator) ownedBy(kind, id string) []*Secret {
	idx := t.owned[ownerKey{kind, id}]
	if len(idx) == 0 {
		return nil
	}
	out := make([]*Secret, len(idx))
	for i, j := range idx {
		out[i] = &t.st.Secrets[j]
	}
	return out
}

// entry sources (translator.all): an installation index, or a platform
// profile's index p as -p-1.
func profileSource(p int) int32 { return int32(-p - 1) }

// all translates the whole state: the entries in ingress id order (never
// nil) and, per entry, its source.
func (t *translator) all() ([]filter.Installation, []int32, error) {
	st := t.st
	out := entrySort{entries: make([]filter.Installation, 0, len(st.Installations)), src: make([]int32, 0, len(st.Installations))}
	seen := make(map[string]ownerKey, len(st.Installations))
	add := func(e filter.Installation, owner ownerKey, src int32) error {
		if prev, dup := seen[e.IngressID]; dup {
			return fmt.Errorf("ingress id of %s is also used by %s", owner, prev)
		}
		seen[e.IngressID] = owner
		out.entries = append(out.entries, e)
		out.src = append(out.src, src)
		return nil
	}
	for i := range st.Installations {
		e, ok, err := t.installation(&st.Installations[i])
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if err := add(e, ownerKey{"installation", st.Installations[i].ID}, int32(i)); err != nil {
			return nil, nil, err
		}
	}
	for i := range st.Profiles {
		e, ok, err := t.platformProfile(&st.Profiles[i])
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if err := add(e, ownerKey{"profile", st.Profiles[i].ID}, profileSource(i)); err != nil {
			return nil, nil, err
		}
	}
	sort.Sort(out)
	return out.entries, out.src, nil
}

// entrySort sorts entries by ingress id, their sources with them.
type entrySort struct {
	entries []filter.Installation
	src     []int32
}

func (s entrySort) Len() int           { return len(s.entries) }
func (s entrySort) Less(i, j int) bool { return s.entries[i].IngressID < s.entries[j].IngressID }
func (s entrySort) Swap(i, j int) {
	s.entries[i], s.entries[j] = s.entries[j], s.entries[i]
	s.src[i], s.src[j] = s.src[j], s.src[i]
}

// installation is the entry of one installation; ok is false when its
// provider's stage does not serve it.
func (t *translator) installation(in *store.Installation) (filter.Installation, bool, error) {
	if !t.served(in.Provider, in.OrgID) {
		return filter.Installation{}, false, nil
	}
	scheme, ok := providerSchemes[in.Provider]
	if !ok {
		return filter.Installation{}, false, fmt.Errorf("installation %s: unknown provider %q", in.ID, in.Provider)
	}
	if in.IngressID == "" {
		return filter.Installation{}, false, fmt.Errorf("installation %s: empty ingress id", in.ID)
	}
	var prof *store.AppProfile
	if pi, found := t.profIdx[in.ProfileID]; found {
		prof = &t.st.Profiles[pi]
	}
	hasProf := prof != nil
	orgRevoked := false
	if oi, found := t.orgIdx[in.OrgID]; found {
		orgRevoked = t.st.Orgs[oi].RevokedAt != nil
	}
	e := filter.Installation{
		IngressID:      in.IngressID,
		Provider:       in.Provider,
		Scheme:         scheme,
		OrgID:          in.OrgID,
		InstallationID: in.ID,
		ProfileID:      in.ProfileID,
		Secrets:        []filter.Secret{},
	}
	revoked := in.RevokedAt != nil || orgRevoked || (hasProf && prof.RevokedAt != nil)
	if revoked {
		e.Revoked = true
		return e, true, nil
	}
	own := t.ownedBy(store.OwnerInstallation, in.ID)
	var fromProfile []*Secret
	subject := credpolicy.Subject{InstallationOrg: in.OrgID, ProfileFound: hasProf}
	if hasProf {
		subject.ProfileOwner = prof.OwnerOrgID
		fromProfile = t.ownedBy(store.OwnerProfile, prof.ID)
	}
	for _, purpose := range purposeOrder {
		// Which secrets may verify this ingress is credpolicy's
		// rule (the worker's sender applies the same one).
		list := withPurpose(t.scratch[:0], own, purpose)
		subject.HasOwn = len(list) > 0
		subject.HasProfile = hasPurpose(fromProfile, purpose)
		switch credpolicy.Decide(credpolicy.Verify, subject).Source {
		case credpolicy.SourceInstallation:
		case credpolicy.SourceOrgProfile:
			list = withPurpose(list[:0], fromProfile, purpose)
		default:
			continue
		}
		t.scratch = list
		secs, err := edgeSecrets(list, in.IngressID, t.now, t.seal, t.fp)
		if err != nil {
			return filter.Installation{}, false, fmt.Errorf("installation %s: %w", in.ID, err)
		}
		e.Secrets = append(e.Secrets, secs...)
	}
	return e, true, nil
}

// platformProfile is the entry of a platform profile with an ingress id; ok
// is false for any other profile and when its stage does not serve it.
func (t *translator) platformProfile(p *store.AppProfile) (filter.Installation, bool, error) {
	if p.OwnerOrgID != store.OwnerPlatform || p.IngressID == "" {
		return filter.Installation{}, false, nil
	}
	if !t.served(p.Provider, "") {
		return filter.Installation{}, false, nil
	}
	scheme, ok := providerSchemes[p.Provider]
	if !ok {
		return filter.Installation{}, false, fmt.Errorf("profile %s: unknown provider %q", p.ID, p.Provider)
	}
	e := filter.Installation{
		IngressID: p.IngressID,
		Provider:  p.Provider,
		Scheme:    scheme,
		ProfileID: p.ID,
		Platform:  true,
		Secrets:   []filter.Secret{},
	}
	if p.RevokedAt != nil {
		e.Revoked = true
		return e, true, nil
	}
	own := t.ownedBy(store.OwnerProfile, p.ID)
	for _, purpose := range purposeOrder {
		list := withPurpose(t.scratch[:0], own, purpose)
		d := credpolicy.Decide(credpolicy.Verify, credpolicy.Subject{PlatformIngress: true, ProfileFound: true,
			ProfileOwner: p.OwnerOrgID, HasProfile: len(list) > 0})
		if d.Source != credpolicy.SourcePlatformProfile {
			continue
		}
		t.scratch = list
		secs, err := edgeSecrets(list, p.IngressID, t.now, t.seal, t.fp)
		if err != nil {
			return filter.Installation{}, false, fmt.Errorf("profile %s: %w", p.ID, err)
		}
		e.Secrets = append(e.Secrets, secs...)
	}
	return e, true, nil
}

// ownerKey is an owner kind and id (map key without string building).
type ownerKey struct{ kind, id string }

func (k ownerKey) String() string { return k.kind + " " + k.id }

// purposeOrder is the order of an entry's secrets: by purpose name, then id.
var purposeOrder = func() []string {
	out := make([]string, 0, len(verificationPurposes))
	for p := range verificationPurposes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}()

// hasPurpose reports whether list holds a secret of purpose.
func hasPurpose(list []*Secret, purpose string) bool {
	for _, s := range list {
		if s.Purpose == purpose {
			return true
		}
	}
	return false
}

// withPurpose appends the secrets of list with the given purpose to dst.
func withPurpose(dst, list []*Secret, purpose string) []*Secret {
	for _, s := range list {
		if s.Purpose == purpose {
			dst = append(dst, s)
		}
	}
	return dst
}

func edgeSecrets(list []*Secret, ingressID string, now time.Time, seal sealFunc, fp fingerprintFunc) ([]filter.Secret, error) {
	var out []filter.Secret
	for _, s := range list {
		if s.NotAfter != nil && !s.NotAfter.After(now) {
			continue // rotated out
		}
		es := filter.Secret{ID: s.ID, Purpose: s.Purpose}
		if !s.NotBefore.IsZero() {
			es.NotBefore = s.NotBefore.Unix()
		}
		if s.NotAfter != nil {
			es.NotAfter = s.NotAfter.Unix()
		}
		if fingerprinted[s.Purpose] {
			es.Fingerprint = fp(*s)
		} else {
			sealed, err := seal(*s, ingressID)
			if err != nil {
				return nil, fmt.Errorf("seal secret %s: %w", s.ID, err)
			}
			es.Sealed = sealed
		}
		out = append(out, es)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ConfigVersion is a digest of the configuration with sealed values replaced
// by their secret ids (sealing uses random nonces, the secret behind an id
// never changes) and without the version itself.
//
// The digest is over exactly what json.Marshal gives for that modified
// configuration, written into the hash entry by entry so that neither a copy
// of the whole configuration nor its full encoding is built.
func ConfigVersion(cfg filter.Config) (string, error) {
	// As first written (a copy made with make and append to nil): the list
	// is never null, an entry without secrets has "secrets":null.
	h := sha256.New()
	h.Write([]byte(`{"version":"","installations":[`))
	var secs []filter.Secret
	for i, in := range cfg.Installations {
		if i > 0 {
			h.Write([]byte{','})
		}
		var b []byte
		var err error
		if b, secs, err = versionForm(in, secs); err != nil {
			return "", err
		}
		h.Write(b)
	}
	h.Write([]byte("]}"))
	sum := h.Sum(nil)
	return "e" + hex.EncodeToString(sum[:8]), nil
}

// versionForm is the encoding of one entry that ConfigVersion digests: sealed
// values replaced by "id:" + secret id, no secrets encoded as null. scratch
// is reused for the copy of the secrets and returned for the next call.
func versionForm(in filter.Installation, scratch []filter.Secret) ([]byte, []filter.Secret, error) {
	if len(in.Secrets) == 0 {
		in.Secrets = nil
	} else {
		scratch = append(scratch[:0], in.Secrets...)
		for j := range scratch {
			if scratch[j].Sealed != "" {
				scratch[j].Sealed = "id:" + scratch[j].ID
			}
		}
		in.Secrets = scratch
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, scratch, fmt.Errorf("digest edge config: %w", err)
	}
	return b, scratch, nil
}

// NextExpiry is the earliest NotAfter after now among the state's secrets:
// the edge configuration changes then even if the store does not.
func NextExpiry(st *State, now time.Time) (time.Time, bool) {
	var next time.Time
	for _, s := range st.Secrets {
		if s.NotAfter != nil && s.NotAfter.After(now) && (next.IsZero() || s.NotAfter.Before(next)) {
			next = *s.NotAfter
		}
	}
	return next, !next.IsZero()
}
