package metamsg

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/switchboard-dev/switchboard/provider"
)

// deauthorizePayload is the JSON inside a deauthorize callback's
// signed_request.
type deauthorizePayload struct {
	Algorithm string          `json:"algorithm"`
	IssuedAt  json.Number     `json:"issued_at"`
	UserID    json.RawMessage `json:"user_id"`
}

// ParseDeauthorize reads the deauthorize callback Meta posts (form field
// signed_request = <sig>.<payload>, both base64url) when a person removes the
// app: the edge has verified sig (HMAC-SHA256 of the payload with the app
// secret); this reads the payload and yields the revocation of the
// installation the callback was posted for (the body names only the
// app-scoped id of the person, not a Page or account, so Account is "").
func ParseDeauthorize(name string, body []byte) (provider.Result, error) {
	bad := func(field, problem string) error { return provider.Malformed(name, field, problem) }
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return provider.Result{}, bad("", "form body does not parse")
	}
	sr := form["signed_request"]
	if len(sr) != 1 || sr[0] == "" {
		return provider.Result{}, bad("signed_request", "missing")
	}
	_, payload, ok := strings.Cut(sr[0], ".")
	if !ok || payload == "" {
		return provider.Result{}, bad("signed_request", "not <signature>.<payload>")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return provider.Result{}, bad("signed_request", "payload is not base64url")
	}
	var p deauthorizePayload
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return provider.Result{}, bad("signed_request", "payload is not JSON: "+err.Error())
	}
	if !strings.EqualFold(p.Algorithm, "HMAC-SHA256") {
		return provider.Result{}, bad("signed_request.algorithm", "not HMAC-SHA256")
	}
	user := string(p.UserID)
	if s, err := strconv.Unquote(user); err == nil {
		user = s
	}
	if user == "" || user == "null" || strings.Trim(user, "0123456789") != "" {
		return provider.Result{}, bad("signed_request.user_id", "missing")
	}
	return provider.Result{Revocations: []provider.Revocation{{
		Scope:   provider.ScopeInstallation,
		Reason:  "deauthorize",
		EventID: "deauthorize:" + user + ":" + p.IssuedAt.String(),
	}}}, nil
}
