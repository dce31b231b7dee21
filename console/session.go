package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names. The session cookie holds only a random session id; the API
// token it stands for stays on the server.
const (
	sessionCookie = "sb_session"
	preCSRFCookie = "sb_signin" // double-submit CSRF token of the sign-in form
)

// session is one signed-in browser. The API token is kept server-side only.
type session struct {
	token   string // the bearer token the user signed in with
	kind    string // platform, agency, org (from /v1/whoami)
	subject string // agency or org id
	csrf    string
	expires time.Time
	flash   []flash // shown once, on the next page
}

type flash struct {
	Kind    string // ok, error
	Message string
	Secret  string // a value shown this once (e.g. a generated signing secret)
}

// sessions is the server-side session table, keyed by the SHA-256 of the
// cookie's value (a dump of the table does not give working cookies).
type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]*session
	ttl time.Duration
	now func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, ttl: ttl, now: now}
}

func randomValue() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func sessionKey(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// create stores a new session and returns its cookie value.
func (s *sessions) create(token, kind, subject string) (string, *session) {
	id := randomValue()
	ss := &session{token: token, kind: kind, subject: subject, csrf: randomValue(), expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	s.m[sessionKey(id)] = ss
	return id, ss
}

// get returns the live session of a cookie value (nil when unknown or expired;
// an expired one is removed).
func (s *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	k := sessionKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[k]
	if ss == nil {
		return nil
	}
	if !s.now().Before(ss.expires) {
		delete(s.m, k)
		return nil
	}
	return ss
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sessionKey(id))
}

// addFlash and takeFlash keep one-shot messages across a redirect.
func (s *sessions) addFlash(ss *session, f flash) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.flash = append(ss.flash, f)
}

func (s *sessions) takeFlash(ss *session) []flash {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = nil
	return f
}

// sweepLocked drops expired sessions (called on every sign-in, so the table
// holds at most the sessions of one TTL).
func (s *sessions) sweepLocked() {
	now := s.now()
	for k, ss := range s.m {
		if !now.Before(ss.expires) {
			delete(s.m, k)
		}
	}
}

// tokensEqual compares two CSRF tokens in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie builds a console cookie: HttpOnly, SameSite=Strict, Path=/, Secure
// when the console is served over https.
func cookie(name, value string, secure bool, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode, MaxAge: maxAge}
}
