// Package kit is GitHub's conformance kit (see provider/conformance).
package kit

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/github"
)

func init() { conformance.Register(Kit{}) }

// Kit is the GitHub kit.
type Kit struct{}

func (Kit) Provider() string  { return github.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The fake installation.
const (
	Token = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
	Repo  = "octo-org/hello-world"
	// AppID and Installation are the fake GitHub App and its installation;
	// PrivateKeyPEM is the App's key the fake verifies JWTs with.
	AppID        = "123456"
	Installation = "2311213"
	SlowRepo     = "octo-org/slow" // the fake answers a secondary rate limit (Retry-After: 60)
)

// Vectors: GitHub's documented example ("Validating webhook deliveries":
// secret "It's a Secret to Everybody", payload "Hello, World!").
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/github/" + conformance.Ingress
	const docSig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	req := func(sig, body string) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}, {"X-GitHub-Event", "ping"}, {"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"}}
		if sig != "" {
			h = append(h, [2]string{"X-Hub-Signature-256", sig})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: []byte(body)}
	}
	sec := map[string]string{"signing": "It's a Secret to Everybody"}
	return []conformance.Vector{
		{Name: "docs example", Secrets: sec, Request: req(docSig, "Hello, World!"), Accept: true},
		{Name: "docs example, body changed", Secrets: sec, Request: req(docSig, "Hello, World?"), Reason: filter.ReasonBadSignature},
		{Name: "docs example, other secret", Secrets: map[string]string{"signing": "another secret"}, Request: req(docSig, "Hello, World!"), Reason: filter.ReasonBadSignature},
		{Name: "no signature", Secrets: sec, Request: req("", "Hello, World!"), Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI follows the REST API: POST /repos/{owner}/{repo}/issues/{number}/comments
// and POST /repos/{owner}/{repo}/pulls/{number}/comments/{comment_id}/replies
// with {"body"} and a Bearer token; 201 with the comment; errors {message,
// documentation_url}: 401 bad credentials, 404 unknown repository, 422 a
// body over 65,536 characters, 403 with Retry-After on a secondary rate limit.
func (Kit) FakeAPI() http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, msg, doc string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(`{"message":"` + msg + `","documentation_url":"https://docs.github.com/rest/` + doc + `","status":"` + itoa(status) + `"}`))
	}
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			fail(w, 401, "Bad credentials", "overview/troubleshooting-the-rest-api")
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("User-Agent") == "" {
			fail(w, 400, "Bad request", "overview/resources-in-the-rest-api")
			return
		}
		repo := r.PathValue("owner") + "/" + r.PathValue("repo")
		if repo == SlowRepo {
			w.Header().Set("Retry-After", "60")
			fail(w, 403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
			return
		}
		if repo != Repo {
			fail(w, 404, "Not Found", "issues/comments#create-an-issue-comment")
			return
		}
		var q struct {
			Body string `json:"body"`
		}
		if json.NewDecoder(r.Body).Decode(&q) != nil || q.Body == "" {
			fail(w, 422, "Invalid request.", "issues/comments#create-an-issue-comment")
			return
		}
		if len([]rune(q.Body)) > github.MaxBody {
			fail(w, 422, "Validation Failed", "issues/comments#create-an-issue-comment")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(201)
		w.Write([]byte(`{"id":1146826,"node_id":"IC_kwDOAbd","html_url":"https://github.com/` + repo + `/issues/` + r.PathValue("number") + `#issuecomment-1146826","user":{"login":"switchboard[bot]","type":"Bot"},"author_association":"NONE"}`))
	}
	// POST /app/installations/{id}/access_tokens with the App's JWT (RS256,
	// iss the App id, exp at most 10 minutes after iat): 201 {token, expires_at}.
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", func(w http.ResponseWriter, r *http.Request) {
		if !validAppJWT(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), time.Now()) {
			fail(w, 401, "A JSON web token could not be decoded", "apps/apps#create-an-installation-access-token-for-an-app")
			return
		}
		if r.PathValue("id") != Installation {
			fail(w, 404, "Not Found", "apps/apps#create-an-installation-access-token-for-an-app")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(201)
		w.Write([]byte(`{"token":"` + Token + `","expires_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","permissions":{"issues":"write","pull_requests":"write"},"repository_selection":"selected"}`))
	})
	mux.HandleFunc("POST /repos/{owner}/{repo}/issues/{number}/comments", h)
	mux.HandleFunc("POST /repos/{owner}/{repo}/pulls/{number}/comments/{comment}/replies", h)
	return mux
}

func (Kit) NewSender(base string) conformance.TextSender { return github.NewSender(base, nil) }

func (Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: Token, Account: "2311213", Conversation: github.Conversation(Repo, 42)}
}

func (Kit) RateLimitedReply() provider.Reply {
	return provider.Reply{Token: Token, Account: "2311213", Conversation: github.Conversation(SlowRepo, 1)}
}

func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: github.MaxBody, Unit: "characters", Over: conformance.Refuse}
}

func (Kit) RateLimitWait() time.Duration { return 60 * time.Second }

// Texts reads the comment body of a request.
func (Kit) Texts(r *conformance.Recorded) []string {
	var q struct {
		Body string `json:"body"`
	}
	if json.Unmarshal(r.Body, &q) != nil || q.Body == "" || !strings.HasPrefix(r.Path, "/repos/") {
		return nil
	}
	return []string{q.Body}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

func key() *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if appKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return appKey
}

// PrivateKeyPEM is the fake App's private key as GitHub hands it out
// (PKCS#1 "RSA PRIVATE KEY").
func PrivateKeyPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key())}))
}

// validAppJWT checks a JWT as GitHub does: RS256 by the App's key, iss the
// App id, not expired, exp at most 10 minutes after iat.
func validAppJWT(jwt string, now time.Time) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&key().PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		Iss string `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Iss != AppID || c.Exp <= now.Unix() || c.Exp-c.Iat > 600 || c.Iat > now.Unix()+60 {
		return false
	}
	return true
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{Inputs: []string{"installation_deleted", "installation_suspend"}}
}
