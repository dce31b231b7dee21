package filter

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"sync"
)

// keyedMAC hands out HMAC states already keyed with one signing secret, so
// the request path neither re-keys (hmac.New hashes the padded key twice and
// allocates six objects) nor allocates: a state is Reset to its keyed form
// and returned to the pool after use. Safe for concurrent use.
type keyedMAC struct{ pool sync.Pool }

// macState is one pooled HMAC with scratch space, so that neither the sum
// nor a short signed prefix needs an allocation.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte // SHA-256 and SHA-1 sums both fit
	buf [256]byte         // prefixes: Slack's "v0:<ts>:", Twilio's URL, Standard Webhooks' "<id>.<ts>."
}

// hashFor is the HMAC hash of a scheme's signing secrets.
func hashFor(s Scheme) func() hash.Hash {
	if s == SchemeTwilioSHA1 {
		return sha1.New
	}
	return sha256.New
}

func newKeyedMAC(newHash func() hash.Hash, key []byte) *keyedMAC {
	k := append([]byte(nil), key...)
	m := &keyedMAC{}
	m.pool.New = func() any { return &macState{h: hmac.New(newHash, k)} }
	return m
}

// sum returns HMAC(key, prefix... || body) in s.sum; the caller passes s
// back with put when done with the sum.
func (m *keyedMAC) sum(body []byte, prefix ...string) (*macState, []byte) {
	s := m.pool.Get().(*macState)
	s.h.Reset()
	if len(prefix) > 0 {
		b := s.buf[:0]
		for _, p := range prefix {
			b = append(b, p...)
		}
		s.h.Write(b)
	}
	s.h.Write(body)
	return s, s.h.Sum(s.sum[:0])
}

func (m *keyedMAC) put(s *macState) { m.pool.Put(s) }

// matches reports whether HMAC(key, prefix... || body) equals want (constant time).
func (m *keyedMAC) matches(want, body []byte, prefix ...string) bool {
	s, sum := m.sum(body, prefix...)
	ok := hmac.Equal(sum, want)
	m.put(s)
	return ok
}

// keyed returns the secret's pooled HMAC states, making them on first use:
// loading a configuration then costs nothing per secret (it matters on a
// Wasm VM, which parses every pushed configuration), and a secret that never
// signs a request never gets a pool. Two first uses at once may both make
// one; only the first stored is kept.
func (m *material) keyed() *keyedMAC {
	if k := m.mac.Load(); k != nil {
		return k
	}
	m.mac.CompareAndSwap(nil, newKeyedMAC(m.hash, m.key))
	return m.mac.Load()
}
