package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// A GitHub App installation's bot_token may be the App's private key (PEM,
// as GitHub hands it out) instead of a token: the Sender then signs a JWT
// with it (RS256, iss = the App id, the profile's external app id), exchanges
// it for an installation access token (POST
// {base}/app/installations/{installation id}/access_tokens) and uses that
// token until shortly before it expires. The key never leaves the Sender.

// IsPrivateKey reports whether a bot_token is a PEM private key.
func IsPrivateKey(token string) bool {
	return strings.HasPrefix(strings.TrimSpace(token), "-----BEGIN ")
}

// ParsePrivateKey reads an App private key (PKCS#1 "RSA PRIVATE KEY", as
// GitHub generates it, or PKCS#8). Its errors never quote the key.
func ParsePrivateKey(token string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(token)))
	if block == nil {
		return nil, errors.New("github app private key: not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("github app private key: neither PKCS#1 nor PKCS#8")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("github app private key: not an RSA key")
	}
	return rk, nil
}

// AppJWT is the JWT GitHub documents for authenticating as an App: RS256,
// iat 60 s in the past (clock drift), exp 9 minutes ahead (at most 10), iss
// the App id.
func AppJWT(key *rsa.PrivateKey, appID string, now time.Time) (string, error) {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	claims, err := json.Marshal(map[string]any{"iat": now.Add(-60 * time.Second).Unix(), "exp": now.Add(9 * time.Minute).Unix(), "iss": appID})
	if err != nil {
		return "", err
	}
	signing := head + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("github app jwt: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// tokenCache keeps installation access tokens by installation id.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
	keySum  [32]byte // of the private key: a rotated key does not reuse an old token
}

// renewBefore: a cached token is not used in its last minutes.
const renewBefore = 5 * time.Minute

// installationToken returns an access token of installation for the App
// appID whose private key is pemKey.
func (s *Sender) installationToken(ctx context.Context, pemKey, appID, installation string) (string, error) {
	if appID == "" {
		return "", &SendError{Message: "the profile has no external app id (the GitHub App id a private key signs for)"}
	}
	if _, err := strconv.ParseInt(installation, 10, 64); err != nil {
		return "", &SendError{Message: "the installation's external id is not a GitHub App installation id"}
	}
	sum := sha256.Sum256([]byte(pemKey))
	now := s.now()
	s.cache.mu.Lock()
	if c, ok := s.cache.m[installation]; ok && c.keySum == sum && now.Before(c.expires.Add(-renewBefore)) {
		s.cache.mu.Unlock()
		return c.token, nil
	}
	s.cache.mu.Unlock()
	key, err := ParsePrivateKey(pemKey)
	if err != nil {
		return "", &SendError{Message: err.Error()}
	}
	jwt, err := AppJWT(key, appID, now)
	if err != nil {
		return "", &SendError{Message: "sign the app JWT"}
	}
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+jwt)
	hdr.Set("Accept", "application/vnd.github+json")
	hdr.Set("X-GitHub-Api-Version", APIVersion)
	hdr.Set("User-Agent", "switchboard")
	resp, err := s.api.Post(ctx, "/app/installations/"+url.PathEscape(installation)+"/access_tokens", hdr, nil)
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("github installation token: %w", err)
	}
	var ans struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
		Message   string    `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status != http.StatusCreated || ans.Token == "" {
		msg := ans.Message
		if msg == "" {
			msg = "unexpected answer"
		}
		return "", &SendError{Message: "installation access token: " + msg, Failure: httpsend.Failure{
			Status: resp.Status, Wait: httpsend.RetryAfterSeconds(resp.Header),
			Transient: resp.Status >= 500 || resp.Status == http.StatusTooManyRequests,
		}}
	}
	s.cache.mu.Lock()
	s.cache.m[installation] = cachedToken{token: ans.Token, expires: ans.ExpiresAt, keySum: sum}
	s.cache.mu.Unlock()
	return ans.Token, nil
}

// SendReply posts r's text as a comment. r.Token is a token, or the App's
// private key (then r.AppID is the App id and r.Account the installation id).
func (s *Sender) SendReply(ctx context.Context, r provider.Reply) error {
	token := r.Token
	if IsPrivateKey(token) {
		var err error
		if token, err = s.installationToken(ctx, r.Token, r.AppID, r.Account); err != nil {
			return err
		}
	}
	_, err := s.Comment(ctx, token, r.Conversation, r.Thread, r.Text)
	return err
}
