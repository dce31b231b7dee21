package filter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
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

const attestVersion = "v1"

// attestMAC is HMAC-SHA256 over a length-prefixed canonical string, so no
// choice of field values can make two identities collide.
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

// Attest returns the identity headers and the attestation header
// ("v1,t=<unix>,<base64 HMAC-SHA256>") binding every identity field and the
// body's SHA-256 to time now under key.
func Attest(key []byte, id Identity, body []byte, now int64) [][2]string {
	t := strconv.FormatInt(now, 10)
	mac := attestMAC(key, t, id, bodyHex(body))
	return [][2]string{
		{HeaderOrg, id.Org},
		{HeaderInstallation, id.Installation},
		{HeaderProfile, id.Profile},
		{HeaderProvider, id.Provider},
		{HeaderIngress, id.IngressID},
		{HeaderPlatform, strconv.FormatBool(id.Platform)},
		{HeaderAttestation, attestVersion + ",t=" + t + "," + base64.StdEncoding.EncodeToString(mac)},
	}
}

// Attestation errors (compare with errors.Is).
var (
	ErrNoAttestationKey   = errors.New("attestation: no key configured")
	ErrNoAttestation      = errors.New("attestation: header missing")
	ErrMalformedAttest    = errors.New("attestation: header malformed")
	ErrAttestationInvalid = errors.New("attestation: does not match identity headers and body")
	ErrAttestationStale   = errors.New("attestation: timestamp outside the allowed age")
)

// VerifyAttestation checks the attestation header made by Attest: get reads
// a request header by (lowercase) name, body is the body as received. The
// MAC is compared in constant time; the timestamp must be within
// maxAgeSeconds of now in either direction. On success it returns the
// identity from the (now trusted) identity headers.
func VerifyAttestation(key []byte, get func(name string) string, body []byte, now int64, maxAgeSeconds int64) (Identity, error) {
	if len(key) == 0 {
		return Identity{}, ErrNoAttestationKey
	}
	h := get(HeaderAttestation)
	if h == "" {
		return Identity{}, ErrNoAttestation
	}
	parts := strings.Split(h, ",")
	if len(parts) != 3 || parts[0] != attestVersion || !strings.HasPrefix(parts[1], "t=") {
		return Identity{}, ErrMalformedAttest
	}
	tstr := parts[1][2:]
	t, ok := parseUnix(tstr)
	if !ok || strconv.FormatInt(t, 10) != tstr {
		return Identity{}, ErrMalformedAttest
	}
	got, err := base64.StdEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(got) != sha256.Size {
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
	if !hmac.Equal(attestMAC(key, tstr, id, bodyHex(body)), got) {
		return Identity{}, ErrAttestationInvalid
	}
	if d := now - t; d > maxAgeSeconds || d < -maxAgeSeconds {
		return Identity{}, ErrAttestationStale
	}
	return id, nil
}
