package filter

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Identity is who a verified request belongs to.
type Identity struct {
	Org, Installation, Profile, Provider, IngressID string
	Platform                                        bool
}

// HeaderPrefix is the namespace of trusted headers: the edge removes every
// inbound header in it before adding its own.
const HeaderPrefix = "x-switchboard-"

// Trusted header names (lowercase, as HTTP/2 and Envoy carry them).
const (
	HeaderOrg          = "x-switchboard-org"
	HeaderInstallation = "x-switchboard-installation"
	HeaderProfile      = "x-switchboard-profile"
	HeaderProvider     = "x-switchboard-provider"
	HeaderIngress      = "x-switchboard-ingress"
	HeaderPlatform     = "x-switchboard-platform"
	HeaderAttestation  = "x-switchboard-attestation"
)

// IsTrustedHeader reports whether name is in the x-switchboard- namespace
// (matched case-insensitively, with '_' taken as '-'): only the edge may set
// such a header. Underscores count because proxies and CGI-style frameworks
// behind the edge may turn X_Switchboard_Org into X-Switchboard-Org (or both
// into HTTP_X_SWITCHBOARD_ORG). Hosts that remove headers one by one use it;
// the others use StripTrusted.
func IsTrustedHeader(name string) bool {
	if len(name) < len(HeaderPrefix) {
		return false
	}
	for i := 0; i < len(HeaderPrefix); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != HeaderPrefix[i] {
			return false
		}
	}
	return true
}

// StripTrusted returns h without any trusted header (IsTrustedHeader); a
// client must never be able to set them.
func StripTrusted(h [][2]string) [][2]string {
	out := make([][2]string, 0, len(h))
	for _, kv := range h {
		if IsTrustedHeader(kv[0]) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// attestVersion names the v1 attestation (HMAC-SHA256 over the identity and
// the body's SHA-256), which VerifyAttestation still accepts so an edge of the
// previous release keeps working during a rolling upgrade; the refusal
// report signature (report.go) uses the same label.
const attestVersion = "v1"

// attestV2 names the attestation every edge makes now: AES-256-GCM used as a
// MAC (GMAC, NIST SP 800-38D) over the identity fields (as plaintext) and the
// body (as additional data), under a key derived for one Attester from the
// shared attestation key and a random 128-bit instance id, with a counter
// nonce. It reads the body once where v1 hashed it twice (SHA-256 of the body,
// then HMAC over the identity and that digest), and GHASH with AES-NI and
// PCLMULQDQ costs a fraction of a SHA-256 pass (docs/benchmarks.md).
//
// Nonce uniqueness, which GCM's security rests on, holds by construction: each
// Attester has its own derived key (a fresh random instance id per process,
// per Wasm VM and per loaded configuration) and never reuses a counter value
// under it (2^64 values; the counter never wraps in practice).
const attestV2 = "v2"

const (
	attestInstanceSize = 16
	attestTagSize      = 16
	attestLabelV2      = "switchboard-attestation-v2\n"
)

// attestMAC is HMAC-SHA256 over a length-prefixed canonical string, so no
// choice of field values can make two identities collide (v1).
func attestMAC(key []byte, t string, id Identity, bodyHex string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("switchboard-attestation\n"))
	for _, f := range [...]string{attestVersion, t, id.Org, id.Installation, id.Profile,
		id.Provider, id.IngressID, strconv.FormatBool(id.Platform), bodyHex} {
		m.Write([]byte(strconv.Itoa(len(f))))
		m.Write([]byte{':'})
		m.Write([]byte(f))
		m.Write([]byte{'\n'})
	}
	return m.Sum(nil)
}

func bodyHex(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// appendField appends "<len>:<field>\n" (the canonical, collision-free form).
func appendField(b []byte, f string) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	b = append(b, f...)
	return append(b, '\n')
}

// appendV2Plaintext is what a v2 tag covers besides the body: every
// attestation header field and every identity field, length-prefixed.
func appendV2Plaintext(b []byte, t, inst, ctr string, id Identity) []byte {
	for _, f := range [...]string{attestV2, t, inst, ctr, id.Org, id.Installation, id.Profile,
		id.Provider, id.IngressID, strconv.FormatBool(id.Platform)} {
		b = appendField(b, f)
	}
	return b
}

// attestAEAD derives the GCM instance of one attester: AES-256 under
// HMAC-SHA256(key, label || instance id).
func attestAEAD(key, inst []byte) (cipher.AEAD, error) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(attestLabelV2))
	m.Write(inst)
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// putNonce writes the 96-bit GCM nonce of counter value ctr: four zero bytes,
// then ctr big-endian.
func putNonce(n *[12]byte, ctr uint64) {
	*n = [12]byte{}
	for i := 0; i < 8; i++ {
		n[11-i] = byte(ctr >> (8 * i))
	}
}

// Attester makes v2 attestation headers. It is safe for concurrent use.
type Attester struct {
	aead    cipher.AEAD
	inst    string // base64url (no padding) of the random instance id
	ctr     atomic.Uint64
	scratch sync.Pool // *attestScratch
}

// attestScratch is the per-call working space of Attest, pooled so that the
// accept path allocates only the header value and the header list it returns.
type attestScratch struct {
	nonce [12]byte
	buf   [768]byte // plaintext, then GCM's output (plaintext-sized ciphertext + tag)
	hdr   [128]byte
}

// ErrNoRandomness is returned when no instance id can be drawn: without one
// nonces could repeat across processes, so the edge refuses to attest.
var ErrNoRandomness = errors.New("attestation: no randomness for the instance id")

// NewAttester draws a random instance id and derives its key from the
// attestation key (the SWITCHBOARD_ATTESTATION_KEY shared with ingest).
func NewAttester(key []byte) (*Attester, error) {
	if len(key) == 0 {
		return nil, ErrNoAttestationKey
	}
	var inst [attestInstanceSize]byte
	if _, err := rand.Read(inst[:]); err != nil {
		return nil, ErrNoRandomness
	}
	aead, err := attestAEAD(key, inst[:])
	if err != nil {
		return nil, err
	}
	a := &Attester{aead: aead, inst: base64.RawURLEncoding.EncodeToString(inst[:])}
	a.scratch.New = func() any { return new(attestScratch) }
	return a, nil
}

// Attest returns the identity headers and the attestation header
// ("v2,t=<unix>,k=<instance>,n=<counter>,<base64 tag>") binding every
// identity field and the body to time now.
func (a *Attester) Attest(id Identity, body []byte, now int64) [][2]string {
	ctr := a.ctr.Add(1)
	sc := a.scratch.Get().(*attestScratch)
	var tb, cb [20]byte
	t := strconv.AppendInt(tb[:0], now, 10)
	c := strconv.AppendUint(cb[:0], ctr, 10)
	putNonce(&sc.nonce, ctr)
	pt := appendV2Plaintext(sc.buf[:0], string(t), a.inst, string(c), id)
	sealed := a.aead.Seal(pt[len(pt):], sc.nonce[:], pt, body)
	tag := sealed[len(sealed)-attestTagSize:]
	h := append(sc.hdr[:0], attestV2+",t="...)
	h = append(h, t...)
	h = append(h, ",k="...)
	h = append(h, a.inst...)
	h = append(h, ",n="...)
	h = append(h, c...)
	h = append(h, ',')
	h = base64.StdEncoding.AppendEncode(h, tag)
	value := string(h)
	a.scratch.Put(sc)
	return [][2]string{
		{HeaderOrg, id.Org},
		{HeaderInstallation, id.Installation},
		{HeaderProfile, id.Profile},
		{HeaderProvider, id.Provider},
		{HeaderIngress, id.IngressID},
		{HeaderPlatform, strconv.FormatBool(id.Platform)},
		{HeaderAttestation, value},
	}
}

// Attest makes one attestation with a fresh Attester (tests, tools). Hosts on
// the request path keep one Attester (Edge does) instead: each call here
// derives a key.
func Attest(key []byte, id Identity, body []byte, now int64) [][2]string {
	a, err := NewAttester(key)
	if err != nil {
		return nil
	}
	return a.Attest(id, body, now)
}

// Attestation errors (compare with errors.Is).
var (
	ErrNoAttestationKey   = errors.New("attestation: no key configured")
	ErrNoAttestation      = errors.New("attestation: header missing")
	ErrMalformedAttest    = errors.New("attestation: header malformed")
	ErrAttestationInvalid = errors.New("attestation: does not match identity headers and body")
	ErrAttestationStale   = errors.New("attestation: timestamp outside the allowed age")
)

// VerifyAttestation checks an attestation header made by an Attester (v2)
// or by an edge of the previous release (v1): get reads a request header by
// (lowercase) name, body is the body as received. The tag is compared in
// constant time; the timestamp must be within maxAgeSeconds of now in either
// direction. On success it returns the identity from the (now trusted)
// identity headers.
func VerifyAttestation(key []byte, get func(name string) string, body []byte, now int64, maxAgeSeconds int64) (Identity, error) {
	if len(key) == 0 {
		return Identity{}, ErrNoAttestationKey
	}
	h := get(HeaderAttestation)
	if h == "" {
		return Identity{}, ErrNoAttestation
	}
	parts := strings.Split(h, ",")
	var tstr string
	switch {
	case len(parts) == 3 && parts[0] == attestVersion && strings.HasPrefix(parts[1], "t="):
		tstr = parts[1][2:]
	case len(parts) == 5 && parts[0] == attestV2 && strings.HasPrefix(parts[1], "t=") &&
		strings.HasPrefix(parts[2], "k=") && strings.HasPrefix(parts[3], "n="):
		tstr = parts[1][2:]
	default:
		return Identity{}, ErrMalformedAttest
	}
	t, ok := parseUnix(tstr)
	if !ok || strconv.FormatInt(t, 10) != tstr {
		return Identity{}, ErrMalformedAttest
	}
	got, err := base64.StdEncoding.Strict().DecodeString(parts[len(parts)-1])
	if err != nil {
		return Identity{}, ErrMalformedAttest
	}
	var id Identity
	switch get(HeaderPlatform) {
	case "true":
		id.Platform = true
	case "false":
	default:
		return Identity{}, ErrMalformedAttest
	}
	id.Org = get(HeaderOrg)
	id.Installation = get(HeaderInstallation)
	id.Profile = get(HeaderProfile)
	id.Provider = get(HeaderProvider)
	id.IngressID = get(HeaderIngress)
	if parts[0] == attestVersion {
		if len(got) != sha256.Size {
			return Identity{}, ErrMalformedAttest
		}
		if !hmac.Equal(attestMAC(key, tstr, id, bodyHex(body)), got) {
			return Identity{}, ErrAttestationInvalid
		}
	} else {
		instStr, ctrStr := parts[2][2:], parts[3][2:]
		inst, err := base64.RawURLEncoding.Strict().DecodeString(instStr)
		ctr, ok := parseCounter(ctrStr)
		if err != nil || len(inst) != attestInstanceSize || !ok || len(got) != attestTagSize {
			return Identity{}, ErrMalformedAttest
		}
		aead, err := attestAEAD(key, inst)
		if err != nil {
			return Identity{}, ErrAttestationInvalid
		}
		var nonce [12]byte
		putNonce(&nonce, ctr)
		pt := appendV2Plaintext(make([]byte, 0, 512), tstr, instStr, ctrStr, id)
		sealed := aead.Seal(pt[len(pt):], nonce[:], pt, body)
		if !hmac.Equal(sealed[len(sealed)-attestTagSize:], got) {
			return Identity{}, ErrAttestationInvalid
		}
	}
	if d := now - t; d > maxAgeSeconds || d < -maxAgeSeconds {
		return Identity{}, ErrAttestationStale
	}
	return id, nil
}

// parseCounter reads a v2 nonce counter: canonical decimal (no sign, no
// leading zero), 1 to 2^64-1.
func parseCounter(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 || s[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// credentialHeaders are the request headers that carry a provider credential
// (the secret itself: Telegram's secret token, any Authorization, cookies,
// API keys) or a proof made with one (signatures a reader of ingest's logs
// could replay to the edge within the provider's window). Once the edge has
// verified a request they have done their work: the edge removes them before
// forwarding, so ingest, its logs and Redis never see them. Lower case.
var credentialHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "x-api-key",
	"x-telegram-bot-api-secret-token",
	"x-slack-signature", "x-hub-signature", "x-hub-signature-256",
	"x-signature-ed25519", "x-twilio-signature", "x-line-signature",
	"webhook-signature", "x-gitlab-token", "x-webhook-secret",
}

// IsCredentialHeader reports whether name is a credential header (matched
// case-insensitively, '_' taken as '-', like IsTrustedHeader). Hosts remove
// these, and the trusted headers, from every request they forward.
func IsCredentialHeader(name string) bool {
	for _, c := range credentialHeaders {
		if len(c) != len(name) {
			continue
		}
		match := true
		for i := 0; i < len(c) && match; i++ {
			b := name[i]
			switch {
			case b == '_':
				b = '-'
			case 'A' <= b && b <= 'Z':
				b += 'a' - 'A'
			}
			match = b == c[i]
		}
		if match {
			return true
		}
	}
	return false
}

// DropOnForward reports whether a host removes header name from a request
// it forwards: a trusted header (only the edge sets those) or a credential
// header (see IsCredentialHeader).
func DropOnForward(name string) bool { return IsTrustedHeader(name) || IsCredentialHeader(name) }
