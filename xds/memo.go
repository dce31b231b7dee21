package xds

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/store"
)

// translationMemo keeps, across a Controller's builds, the translation of
// the previous state with a copy of exactly the inputs it read, so that a
// build re-translates only the entries whose inputs changed:
//
//   - an installation's entry reads its row (id, org, profile, provider,
//     ingress id, revoked), its org's revocation, its profile's row (owner,
//     revoked), the verification secrets of the installation and of the
//     profile (id, owner, purpose, validity, plaintext, and whether each
//     has ended at the build's time), and the provider's stage row;
//   - a platform profile's entry reads its row, its own secrets and the
//     stage row.
//
// Anything else that changes — a row added or removed (an index moves), a
// secret's id, owner or purpose, a stage row, an entry appearing,
// disappearing or changing its ingress id — makes the build translate the
// whole state again, so the result is always that of a full translation
// (TestMemoizedBuildEqualsFullBuild compares them change kind by change
// kind).
type translationMemo struct {
	now      time.Time
	orgs     []memoOrg
	profiles []memoProfile
	insts    []memoInst
	secrets  []memoSecret
	stages   []store.RolloutStage // deep copies
	t        *translator          // its indexes stay valid while no row moves

	entries entryChunks // the previous output (never modified: builds keep it)
	instPos []int32     // installation index -> entry position (-1: none)
	profPos []int32     // profile index -> entry position (-1: none)

	fullOnly bool // the state's ids are not unique: every build is full

	// per-build scratch
	profDirty []bool
	dirtyInst map[string]bool
}

type memoOrg struct {
	id      string
	revoked bool
}

type memoProfile struct {
	id, owner, provider, ingress string
	revoked                      bool
}

type memoInst struct {
	id, org, profile, provider, ingress string
	revoked                             bool
}

type memoSecret struct {
	id, ownerKind, ownerID, purpose string
	notBefore                       time.Time
	notAfter                        *time.Time // private copy
	plaintext                       []byte     // private copy
}

func memoOrgOf(o *store.Org) memoOrg { return memoOrg{o.ID, o.RevokedAt != nil} }

func memoProfileOf(p *store.AppProfile) memoProfile {
	return memoProfile{p.ID, p.OwnerOrgID, p.Provider, p.IngressID, p.RevokedAt != nil}
}

func memoInstOf(in *store.Installation) memoInst {
	return memoInst{in.ID, in.OrgID, in.ProfileID, in.Provider, in.IngressID, in.RevokedAt != nil}
}

func memoSecretOf(s *Secret) memoSecret {
	m := memoSecret{id: s.ID, ownerKind: s.OwnerKind, ownerID: s.OwnerID, purpose: s.Purpose,
		notBefore: s.NotBefore, plaintext: bytes.Clone(s.Plaintext)}
	if s.NotAfter != nil {
		na := *s.NotAfter
		m.notAfter = &na
	}
	return m
}

// sameContent reports whether s has the validity and plaintext of m.
func (m *memoSecret) sameContent(s *Secret) bool {
	if !m.notBefore.Equal(s.NotBefore) || (m.notAfter == nil) != (s.NotAfter == nil) ||
		(m.notAfter != nil && !m.notAfter.Equal(*s.NotAfter)) {
		return false
	}
	return bytes.Equal(m.plaintext, s.Plaintext)
}

// wipe clears the plaintext copies (the memo is being replaced).
func (m *translationMemo) wipe() {
	if m == nil {
		return
	}
	for i := range m.secrets {
		clear(m.secrets[i].plaintext)
	}
}

func sameStages(a, b []store.RolloutStage) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Provider != y.Provider || x.Stage != y.Stage || x.PreviousStage != y.PreviousStage ||
			!x.UpdatedAt.Equal(y.UpdatedAt) || !slices.Equal(x.CanaryOrgs, y.CanaryOrgs) || !slices.Equal(x.ProbeOrgs, y.ProbeOrgs) {
			return false
		}
	}
	return true
}

func cloneStages(in []store.RolloutStage) []store.RolloutStage {
	out := make([]store.RolloutStage, len(in))
	for i, s := range in {
		s.CanaryOrgs = slices.Clone(s.CanaryOrgs)
		s.ProbeOrgs = slices.Clone(s.ProbeOrgs)
		out[i] = s
	}
	return out
}

// fullTranslation translates st from scratch and remembers it.
func fullTranslation(st *State, now time.Time, seal sealFunc, fp fingerprintFunc) (*translationMemo, []filter.Installation, error) {
	t := newTranslator(st, now, seal, fp)
	entries, src, err := t.all()
	if err != nil {
		return nil, nil, err
	}
	m := &translationMemo{now: now, t: t, entries: chunksOf(entries), stages: cloneStages(st.Stages),
		orgs:     make([]memoOrg, len(st.Orgs)),
		profiles: make([]memoProfile, len(st.Profiles)),
		insts:    make([]memoInst, len(st.Installations)),
		secrets:  make([]memoSecret, len(st.Secrets)),
		instPos:  make([]int32, len(st.Installations)),
		profPos:  make([]int32, len(st.Profiles)),
	}
	for i := range st.Orgs {
		m.orgs[i] = memoOrgOf(&st.Orgs[i])
	}
	for i := range st.Profiles {
		m.profiles[i] = memoProfileOf(&st.Profiles[i])
		m.profPos[i] = -1
	}
	for i := range st.Installations {
		m.insts[i] = memoInstOf(&st.Installations[i])
		m.instPos[i] = -1
	}
	for i := range st.Secrets {
		m.secrets[i] = memoSecretOf(&st.Secrets[i])
	}
	for pos, s := range src {
		if s >= 0 {
			m.instPos[s] = int32(pos)
		} else {
			m.profPos[-s-1] = int32(pos)
		}
	}
	// Ids that are not unique (never from the store: they are primary
	// keys) make an index name one row of several: not followed.
	m.fullOnly = len(t.orgIdx) != len(st.Orgs) || len(t.profIdx) != len(st.Profiles)
	// The translator is pointed at each new state (update); between builds
	// it holds none.
	t.st, t.scratch = nil, nil
	return m, entries, nil
}

// update translates st incrementally from m: it returns the entries and
// the positions of those translated again (in increasing order), with ok
// false when st differs from m's state in a way that needs a full
// translation. m is updated to st on success; on any other outcome it must
// be dropped.
func (m *translationMemo) update(st *State, now time.Time, seal sealFunc, fp fingerprintFunc) (entries entryChunks, changed []int, ok bool, err error) {
	if m.fullOnly || len(st.Orgs) != len(m.orgs) || len(st.Profiles) != len(m.profiles) ||
		len(st.Installations) != len(m.insts) || len(st.Secrets) != len(m.secrets) || !sameStages(st.Stages, m.stages) {
		return entryChunks{}, nil, false, nil
	}
	t := m.t
	t.st, t.now, t.seal, t.fp = st, now, seal, fp
	t.setStages()

	var orgDirty map[int]bool
	for i := range st.Orgs {
		o := &st.Orgs[i]
		if o.ID != m.orgs[i].id {
			return entryChunks{}, nil, false, nil
		}
		if (o.RevokedAt != nil) != m.orgs[i].revoked {
			if orgDirty == nil {
				orgDirty = map[int]bool{}
			}
			orgDirty[i] = true
			m.orgs[i].revoked = o.RevokedAt != nil
		}
	}
	if cap(m.profDirty) < len(st.Profiles) {
		m.profDirty = make([]bool, len(st.Profiles))
	}
	profDirty := m.profDirty[:len(st.Profiles)]
	clear(profDirty)
	anyProf := false
	for i := range st.Profiles {
		p := &st.Profiles[i]
		if p.ID != m.profiles[i].id {
			return entryChunks{}, nil, false, nil
		}
		if mp := memoProfileOf(p); mp != m.profiles[i] {
			profDirty[i], anyProf = true, true
			m.profiles[i] = mp
		}
	}
	if m.dirtyInst == nil {
		m.dirtyInst = map[string]bool{}
	}
	clear(m.dirtyInst)
	lo, hi := m.now, now
	if hi.Before(lo) {
		lo, hi = hi, lo
	}
	for i := range st.Secrets {
		s, ms := &st.Secrets[i], &m.secrets[i]
		if s.ID != ms.id || s.OwnerKind != ms.ownerKind || s.OwnerID != ms.ownerID || s.Purpose != ms.purpose {
			return entryChunks{}, nil, false, nil
		}
		// Whether the secret has ended is read at the build's time.
		ended := s.NotAfter != nil && s.NotAfter.After(lo) && !s.NotAfter.After(hi)
		if !ended && ms.sameContent(s) {
			continue
		}
		if !ms.sameContent(s) {
			clear(ms.plaintext)
			*ms = memoSecretOf(s)
		}
		switch s.OwnerKind {
		case store.OwnerProfile:
			if pi, found := t.profIdx[s.OwnerID]; found {
				profDirty[pi], anyProf = true, true
			}
		case store.OwnerInstallation:
			m.dirtyInst[s.OwnerID] = true
		}
	}
	m.now = now

	entries = m.entries
	var copied map[int]bool // chunks already copied
	replace := func(pos int32, e filter.Installation) bool {
		if entries.at(int(pos)).IngressID != e.IngressID {
			return false
		}
		if copied == nil {
			entries = entryChunks{n: entries.n, chunks: slices.Clone(entries.chunks)}
			copied = map[int]bool{}
		}
		ci := int(pos) / entryChunk
		if !copied[ci] {
			entries.chunks[ci] = slices.Clone(entries.chunks[ci])
			copied[ci] = true
		}
		*entries.at(int(pos)) = e
		changed = append(changed, int(pos))
		return true
	}
	for i := range st.Installations {
		in, mi := &st.Installations[i], &m.insts[i]
		if in.ID != mi.id {
			return entryChunks{}, nil, false, nil
		}
		dirty := false
		if cur := memoInstOf(in); cur != *mi {
			*mi, dirty = cur, true
		}
		if !dirty && orgDirty != nil {
			if oi, found := t.orgIdx[in.OrgID]; found && orgDirty[int(oi)] {
				dirty = true
			}
		}
		if !dirty && anyProf {
			if pi, found := t.profIdx[in.ProfileID]; found && profDirty[pi] {
				dirty = true
			}
		}
		if !dirty && len(m.dirtyInst) > 0 && m.dirtyInst[in.ID] {
			dirty = true
		}
		if !dirty {
			continue
		}
		e, served, err := t.installation(in)
		if err != nil {
			return entryChunks{}, nil, false, err
		}
		pos := m.instPos[i]
		switch {
		case !served && pos < 0:
		case served && pos >= 0:
			if !replace(pos, e) {
				return entryChunks{}, nil, false, nil
			}
		default:
			return entryChunks{}, nil, false, nil // an entry appears or disappears
		}
	}
	if anyProf {
		for i := range st.Profiles {
			if !profDirty[i] {
				continue
			}
			e, served, err := t.platformProfile(&st.Profiles[i])
			if err != nil {
				return entryChunks{}, nil, false, err
			}
			pos := m.profPos[i]
			switch {
			case !served && pos < 0:
			case served && pos >= 0:
				if !replace(pos, e) {
					return entryChunks{}, nil, false, nil
				}
			default:
				return entryChunks{}, nil, false, nil
			}
		}
	}
	slices.Sort(changed)
	m.entries = entries
	t.st, t.scratch = nil, nil
	return entries, changed, true, nil
}

// shardMemo is the previous sharded build's grouping: each entry's forms in
// entry order, the shards' forms and their versions (never modified: a new
// build copies what it changes).
type shardMemo struct {
	k        int
	parts    []*encEntry
	groups   [][]*encEntry
	versions []string
}

// dropMemo forgets the previous translation (the next build is full).
func (c *Controller) dropMemo() {
	c.memo.wipe()
	c.memo, c.shardMemo = nil, nil
}

// buildIncremental is Build from the previous build's translation: nil,
// nil when the state needs a full translation (or there is no previous
// build). It re-translates the entries whose inputs changed, re-encodes
// those, and re-groups, re-checks and re-marshals only the shards holding
// one; the unsharded configuration is encoded whole from the cached entry
// encodings as in a full build.
func (c *Controller) buildIncremental(st *State, now time.Time, opts ResourceOptions, k int) (*build, error) {
	m := c.memo
	if m == nil || (k > 0) != (c.shardMemo != nil) || (k > 0 && c.shardMemo.k != k) {
		return nil, nil
	}
	prev := m.entries
	entries, changed, ok, err := m.update(st, now, c.sealer.Seal, c.sealer.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("translate state (generation %d): %w", st.Generation, err)
	}
	if !ok {
		return nil, nil
	}
	// Sealed values and fingerprints an entry no longer carries.
	for _, pos := range changed {
		for _, old := range prev.at(pos).Secrets {
			if !hasSecret(entries.at(pos).Secrets, old.ID) {
				c.sealer.forget(old.ID, prev.at(pos).IngressID)
			}
		}
	}
	var ecfg filter.Config
	var set *ecdsSet
	var sm *shardMemo
	if k > 0 {
		pm := c.shardMemo
		sm = &shardMemo{k: k, parts: pm.parts, groups: pm.groups, versions: pm.versions}
		var dirty map[int]bool
		for _, pos := range changed {
			e, err := c.encoded.form(entries.at(pos))
			if err != nil {
				return nil, err
			}
			old := sm.parts[pos]
			if e == old {
				continue
			}
			if dirty == nil {
				dirty = map[int]bool{}
				sm.parts = slices.Clone(sm.parts)
				sm.groups = slices.Clone(sm.groups)
				sm.versions = slices.Clone(sm.versions)
			}
			sm.parts[pos] = e
			j := filter.ShardOf(e.in.IngressID, k)
			if !dirty[j] {
				sm.groups[j] = slices.Clone(sm.groups[j])
				dirty[j] = true
			}
			at := slices.Index(sm.groups[j], old)
			if at < 0 {
				return nil, fmt.Errorf("incremental build: entry %d is not in shard %d", pos, j)
			}
			sm.groups[j][at] = e
		}
		for j := range dirty {
			sm.versions[j] = shardVersion(k, j, sm.groups[j])
		}
		c.shards.begin()
		if set, err = shardedSetOf(k, sm.groups, sm.versions, c.shards, opts, c.loads); err != nil {
			return nil, err
		}
		ecfg = filter.Config{Version: set.version}
	} else {
		var js []byte
		flat := entries.flat()
		if ecfg, js, err = c.encoded.encode(flat); err != nil {
			return nil, err
		}
		if err := c.loads(js); err != nil {
			return nil, fmt.Errorf("edge configuration %s does not load: %w", ecfg.Version, err)
		}
		if set, err = wholeSet(ecfg.Version, js, len(flat), opts); err != nil {
			return nil, err
		}
	}
	snap, err := newSnapshot(ecfg, set, opts)
	if err != nil {
		return nil, err
	}
	if k > 0 {
		c.shards.sweep()
	} else {
		c.encoded.sweep()
	}
	c.shardMemo = sm
	c.incremental++
	b := &build{version: ecfg.Version, generation: st.Generation, at: now, installations: entries.n, cfg: ecfg, snapshot: snap, ecds: set}
	if ecfg.Installations == nil {
		b.chunks = &entries // flattened when a reader needs it (build.config)
	}
	return b, nil
}

func hasSecret(list []filter.Secret, id string) bool {
	for i := range list {
		if list[i].ID == id {
			return true
		}
	}
	return false
}

// entryChunk is the length of an entryChunks chunk: a change copies the
// chunks it touches, not the whole list.
const entryChunk = 1024

// entryChunks is a list of entries in chunks of entryChunk (the last may be
// shorter). Chunks are shared between builds and never modified.
type entryChunks struct {
	n      int
	chunks [][]filter.Installation
}

// chunksOf is entries cut into chunks (sharing entries' array).
func chunksOf(entries []filter.Installation) entryChunks {
	out := entryChunks{n: len(entries), chunks: make([][]filter.Installation, 0, (len(entries)+entryChunk-1)/entryChunk)}
	for lo := 0; lo < len(entries); lo += entryChunk {
		hi := min(lo+entryChunk, len(entries))
		out.chunks = append(out.chunks, entries[lo:hi:hi])
	}
	return out
}

func (c *entryChunks) at(pos int) *filter.Installation {
	return &c.chunks[pos/entryChunk][pos%entryChunk]
}

// flat is the entries as one new list (never nil).
func (c *entryChunks) flat() []filter.Installation {
	out := make([]filter.Installation, 0, c.n)
	for _, ch := range c.chunks {
		out = append(out, ch...)
	}
	return out
}
