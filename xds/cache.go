package xds

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/switchboard-dev/switchboard/filter"
)

// The controller rebuilds the whole edge configuration on every store change.
// Two caches, owned by one Controller, keep that rebuild from redoing the
// cryptography of secrets that did not change: openCache in front of the
// master keyring (LoadState), sealCache in front of the edge key (EdgeConfig).
// A third, encodeCache, keeps each entry's JSON so that only changed entries
// are encoded again. All are rounds-based: an entry not used since the last begin is dropped by
// sweep, so a cache holds only what the current state references.
//
// Holding plaintext: a build already holds every verification secret in
// plaintext (State.Secrets) while it runs; these caches keep that plaintext
// for the controller's lifetime instead of one build's. Nothing here logs,
// prints or returns a secret other than to the caller that asked for it.

// openCache is an Opener that remembers each secret's plaintext by secret id
// (the AAD), valid only for the key id and ciphertext it was opened from: a
// rekeyed or replaced secret has another digest and is opened again.
type openCache struct {
	kr Opener

	mu    sync.Mutex
	round uint64
	m     map[string]*openEntry
	opens int // real Opens through kr (tests, logs)
}

type openEntry struct {
	digest    [sha256.Size]byte // of key id and ciphertext
	plaintext []byte
	round     uint64
}

func newOpenCache(kr Opener) *openCache {
	return &openCache{kr: kr, m: map[string]*openEntry{}}
}

func ciphertextDigest(keyID string, ciphertext []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(keyID))
	h.Write([]byte{0})
	h.Write(ciphertext)
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Open returns the cached plaintext when keyID and ciphertext are the ones it
// was opened from, else opens with the keyring. The returned slice is shared
// with the cache: callers must not modify it (State plaintext is read-only).
func (c *openCache) Open(keyID string, ciphertext []byte, aad string) ([]byte, error) {
	d := ciphertextDigest(keyID, ciphertext)
	c.mu.Lock()
	if e := c.m[aad]; e != nil && e.digest == d {
		e.round = c.round
		c.mu.Unlock()
		return e.plaintext, nil
	}
	c.mu.Unlock()
	pt, err := c.kr.Open(keyID, ciphertext, aad)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[aad] = &openEntry{digest: d, plaintext: pt, round: c.round}
	c.opens++
	c.mu.Unlock()
	return pt, nil
}

// begin starts a load; sweep after a successful one drops every entry that
// load did not use (removed secrets, old ciphertexts).
func (c *openCache) begin() {
	c.mu.Lock()
	c.round++
	c.mu.Unlock()
}

func (c *openCache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if e.round != c.round {
			// Not wiped: the slice was handed to a State that may still be read.
			delete(c.m, id)
		}
	}
}

func (c *openCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// sealCache is a Sealer for one edge key (a Controller's key never changes,
// so every entry is implicitly for that key). Sealed values are kept per
// (secret id, ingress id) — the AAD binds both — and fingerprints per secret
// id; each is reused only while the secret's plaintext is byte-for-byte the
// one it was made from, so a rotated or changed secret is sealed again.
// Reusing a sealed value is sound: it is the same AEAD output the edge
// already unsealed, bound to the same ingress id and secret id.
type sealCache struct {
	key keySealer

	mu           sync.Mutex
	round        uint64
	sealed       map[sealKey]*sealEntry
	fps          map[string]*sealEntry
	seals, fings int // real seals and fingerprints (tests, logs)
}

type sealKey struct{ secretID, ingressID string }

type sealEntry struct {
	plaintext []byte // private copy, compared on every use
	out       string
	round     uint64
}

func newSealCache(edgeKey []byte) *sealCache {
	return &sealCache{key: keySealer(append([]byte(nil), edgeKey...)),
		sealed: map[sealKey]*sealEntry{}, fps: map[string]*sealEntry{}}
}

func (c *sealCache) Seal(sec Secret, ingressID string) (string, error) {
	k := sealKey{sec.ID, ingressID}
	c.mu.Lock()
	if e := c.sealed[k]; e != nil && bytes.Equal(e.plaintext, sec.Plaintext) {
		e.round = c.round
		c.mu.Unlock()
		return e.out, nil
	}
	c.mu.Unlock()
	out, err := filter.Seal(c.key, sec.Plaintext, filter.SealAAD(ingressID, sec.ID))
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.replace(c.sealed[k])
	c.sealed[k] = &sealEntry{plaintext: append([]byte(nil), sec.Plaintext...), out: out, round: c.round}
	c.seals++
	c.mu.Unlock()
	return out, nil
}

func (c *sealCache) Fingerprint(sec Secret) string {
	c.mu.Lock()
	if e := c.fps[sec.ID]; e != nil && bytes.Equal(e.plaintext, sec.Plaintext) {
		e.round = c.round
		c.mu.Unlock()
		return e.out
	}
	c.mu.Unlock()
	out := c.key.Fingerprint(sec)
	c.mu.Lock()
	c.replace(c.fps[sec.ID])
	c.fps[sec.ID] = &sealEntry{plaintext: append([]byte(nil), sec.Plaintext...), out: out, round: c.round}
	c.fings++
	c.mu.Unlock()
	return out
}

// forget drops the sealed value of a secret under an ingress id and its
// fingerprint (an entry no longer carries the secret). A fingerprint still
// used by another entry is only made again by the next full build.
func (c *sealCache) forget(secretID, ingressID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := sealKey{secretID, ingressID}
	if e := c.sealed[k]; e != nil {
		clear(e.plaintext)
		delete(c.sealed, k)
	}
	if e := c.fps[secretID]; e != nil {
		clear(e.plaintext)
		delete(c.fps, secretID)
	}
}

// replace wipes the plaintext copy of an entry being replaced.
func (c *sealCache) replace(e *sealEntry) {
	if e != nil {
		clear(e.plaintext)
	}
}

func (c *sealCache) begin() {
	c.mu.Lock()
	c.round++
	c.mu.Unlock()
}

// sweep drops what the last build did not use: removed or rotated-out
// secrets, revoked installations, ingress ids no longer served.
func (c *sealCache) sweep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.sealed {
		if e.round != c.round {
			clear(e.plaintext)
			delete(c.sealed, k)
		}
	}
	for k, e := range c.fps {
		if e.round != c.round {
			clear(e.plaintext)
			delete(c.fps, k)
		}
	}
}

func (c *sealCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sealed) + len(c.fps)
}

// encodeCache keeps, by ingress id, each entry's two encodings: the one the
// edges receive and the one the version digests (versionForm). They are
// reused while the entry is equal, field by field, to the one they were made
// from, so a build encodes only the entries that changed. What encode
// returns is byte for byte json.Marshal of the configuration and its version
// is ConfigVersion's (tested against both).
type encodeCache struct {
	round   uint64
	m       map[string]*encEntry
	encodes int // entries encoded (tests)
}

type encEntry struct {
	in      filter.Installation // private copy
	js, vjs []byte
	sum     [sha256.Size]byte // of vjs: what a shard's version digests
	round   uint64
}

func newEncodeCache() *encodeCache { return &encodeCache{m: map[string]*encEntry{}} }

// forms gives each entry's cached encodings (encoding the ones that
// changed). Not safe for concurrent use (Build holds buildMu).
func (c *encodeCache) forms(entries []filter.Installation) ([]*encEntry, error) {
	c.round++
	parts := make([]*encEntry, len(entries))
	var scratch []filter.Secret
	for i := range entries {
		in := &entries[i]
		e := c.m[in.IngressID]
		if e == nil || !sameEntry(&e.in, in) {
			js, err := json.Marshal(in)
			if err != nil {
				return nil, fmt.Errorf("encode edge config: %w", err)
			}
			var vjs []byte
			if vjs, scratch, err = versionForm(*in, scratch); err != nil {
				return nil, err
			}
			e = &encEntry{in: copyEntry(*in), js: js, vjs: vjs, sum: sha256.Sum256(vjs)}
			c.m[in.IngressID] = e
			c.encodes++
		}
		e.round = c.round
		parts[i] = e
	}
	return parts, nil
}

// form is the cached encodings of one entry (encoding it when it changed),
// kept in the current round: a build that re-forms only its changed
// entries (Controller.Build, incremental) leaves the others' in place.
func (c *encodeCache) form(in *filter.Installation) (*encEntry, error) {
	if e := c.m[in.IngressID]; e != nil && sameEntry(&e.in, in) {
		e.round = c.round
		return e, nil
	}
	js, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode edge config: %w", err)
	}
	vjs, _, err := versionForm(*in, nil)
	if err != nil {
		return nil, err
	}
	e := &encEntry{in: copyEntry(*in), js: js, vjs: vjs, sum: sha256.Sum256(vjs), round: c.round}
	c.m[in.IngressID] = e
	c.encodes++
	return e, nil
}

// encode gives the configuration of entries with its version, and its JSON.
// Not safe for concurrent use (Build holds buildMu).
func (c *encodeCache) encode(entries []filter.Installation) (filter.Config, []byte, error) {
	parts, err := c.forms(entries)
	if err != nil {
		return filter.Config{}, nil, err
	}
	size := 0
	for _, e := range parts {
		size += len(e.js) + 1
	}
	// The version: ConfigVersion's digest, from the cached version forms.
	h := sha256.New()
	h.Write([]byte(`{"version":"","installations":[`))
	for i, e := range parts {
		if i > 0 {
			h.Write([]byte{','})
		}
		h.Write(e.vjs)
	}
	h.Write([]byte("]}"))
	sum := h.Sum(nil)
	version := "e" + hex.EncodeToString(sum[:8])

	js := make([]byte, 0, size+len(version)+64)
	js = append(js, `{"version":"`...)
	js = append(js, version...) // hex: nothing to escape
	js = append(js, `","installations":`...)
	if entries == nil {
		js = append(js, "null"...)
	} else {
		js = append(js, '[')
		for i, e := range parts {
			if i > 0 {
				js = append(js, ',')
			}
			js = append(js, e.js...)
		}
		js = append(js, ']')
	}
	js = append(js, '}')
	return filter.Config{Version: version, Installations: entries}, js, nil
}

// sweep drops the entries the last encode did not see.
func (c *encodeCache) sweep() {
	for k, e := range c.m {
		if e.round != c.round {
			delete(c.m, k)
		}
	}
}

func (c *encodeCache) len() int { return len(c.m) }

// sameEntry compares every field of filter.Installation (a test fails when
// the type gains a field this does not know).
func sameEntry(a, b *filter.Installation) bool {
	if a.IngressID != b.IngressID || a.Provider != b.Provider || a.Scheme != b.Scheme || a.OrgID != b.OrgID ||
		a.InstallationID != b.InstallationID || a.ProfileID != b.ProfileID || a.Platform != b.Platform ||
		a.Revoked != b.Revoked || a.MaxBodyBytes != b.MaxBodyBytes || a.ToleranceSeconds != b.ToleranceSeconds ||
		a.PublicURL != b.PublicURL {
		return false
	}
	if len(a.Secrets) != len(b.Secrets) || (a.Secrets == nil) != (b.Secrets == nil) {
		return false
	}
	for i := range a.Secrets {
		if a.Secrets[i] != b.Secrets[i] {
			return false
		}
	}
	return true
}

func copyEntry(in filter.Installation) filter.Installation {
	if in.Secrets != nil {
		in.Secrets = append(make([]filter.Secret, 0, len(in.Secrets)), in.Secrets...)
	}
	return in
}
