// Package oauthbinding ties an OAuth install to the browser that started it
// (RFC 6749 §10.12). The starting side (the web console) makes a random
// value, keeps it in a cookie of that browser and gives the API only its
// digest, which the API signs into the OAuth state. The callback completes
// only when the browser bringing the state back presents the cookie whose
// digest the state names: a consent link forwarded to another browser (or a
// callback URL planted in one) is refused instead of installing someone
// else's workspace into the starter's organisation.
package oauthbinding

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"
)

// Path is the cookie's path: it is sent only to the API's OAuth routes.
const Path = "/v1/oauth/"

// cookiePrefix starts the name of a flow's cookie; the name carries the
// start of the digest so that flows in several tabs do not overwrite each
// other's cookie.
const cookiePrefix = "sb_oauth_"

// digestLen is the length of a digest: base64url (unpadded) of SHA-256.
const digestLen = 43

// New returns a fresh binding value (the cookie's) and its digest (the
// state's).
func New() (value, digest string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	value = base64.RawURLEncoding.EncodeToString(b)
	return value, Digest(value)
}

// Digest is the digest of a binding value.
func Digest(value string) string {
	sum := sha256.Sum256([]byte(value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Valid reports whether d has the shape of a digest (what the API accepts
// from a client).
func Valid(d string) error {
	if len(d) != digestLen {
		return fmt.Errorf("must be %d characters (base64url of a SHA-256 digest), got %d", digestLen, len(d))
	}
	if _, err := base64.RawURLEncoding.DecodeString(d); err != nil {
		return fmt.Errorf("must be base64url without padding")
	}
	return nil
}

// CookieName is the name of the cookie of the flow whose digest is d.
func CookieName(d string) string {
	if len(d) > 16 {
		d = d[:16]
	}
	return cookiePrefix + d
}

// Cookie is the cookie the starting browser keeps for ttl: HttpOnly, Lax
// (the provider sends the browser back with a top-level GET from its own
// site, which a Strict cookie would not accompany), on Path only.
func Cookie(value string, secure bool, ttl time.Duration) *http.Cookie {
	return &http.Cookie{Name: CookieName(Digest(value)), Value: value, Path: Path, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ttl / time.Second)}
}

// Clear is the cookie that removes the flow's cookie once it is used.
func Clear(d string, secure bool) *http.Cookie {
	return &http.Cookie{Name: CookieName(d), Value: "", Path: Path, HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1}
}

// Check reports whether the request carries the cookie whose digest is d.
func Check(r *http.Request, d string) bool {
	ck, err := r.Cookie(CookieName(d))
	if err != nil || ck.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Digest(ck.Value)), []byte(d)) == 1
}
