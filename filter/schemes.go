package filter

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sort"
	"strings"
)

// Every comparison of a received signature or token with an expected one is
// constant time (hmac.Equal / subtle.ConstantTimeCompare / ed25519.Verify),
// and no expected value ever leaves this file.

// maxTimestampDigits bounds a unix-seconds header (year 33658 at 12 digits).
const maxTimestampDigits = 12

// parseUnix reads a timestamp header: decimal digits only, no sign.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// checkTimestamp parses ts and checks it lies within tol seconds of now,
// in either direction (a future timestamp is as suspicious as an old one).
func checkTimestamp(ts string, now, tol int64) Reason {
	t, ok := parseUnix(ts)
	if !ok {
		return ReasonBadTimestamp
	}
	if d := now - t; d > tol || d < -tol {
		return ReasonStaleTimestamp
	}
	return ReasonNone
}

// signingKeys returns the HMAC keys of the installation valid at now.
func (ent *entry) validSecrets(purpose string, now int64) []*material {
	var out []*material
	for i := range ent.secrets {
		m := &ent.secrets[i]
		if m.purpose == purpose && m.validAt(now) {
			out = append(out, m)
		}
	}
	return out
}

// macMatches reports whether HMAC(key, prefix... || body) equals want for
// any valid signing secret. It returns no_valid_secret when none is valid now.
func (ent *entry) macMatches(now int64, want, body []byte, prefix ...string) Reason {
	valid := false
	for i := range ent.secrets {
		m := &ent.secrets[i]
		if m.purpose != PurposeSigning || !m.validAt(now) {
			continue
		}
		valid = true
		if m.keyed().matches(want, body, prefix...) {
			return ReasonNone
		}
	}
	if !valid {
		return ReasonNoValidSecret
	}
	return ReasonBadSignature
}

// oneHeader fetches a security header: absent -> missing_signature,
// repeated -> malformed_request, empty -> missing_signature.
func oneHeader(req *Request, name string) (string, Reason) {
	v, n := req.header(name)
	switch {
	case n > 1:
		return "", ReasonMalformedRequest
	case n == 0 || v == "":
		return "", ReasonMissingSignature
	}
	return v, ReasonNone
}

// decodePrefixedHex decodes "<prefix><hex of len(dst) bytes>" (hex in either
// case) into dst.
func decodePrefixedHex(dst []byte, v, prefix string) bool {
	if !strings.HasPrefix(v, prefix) || len(v)-len(prefix) != 2*len(dst) {
		return false
	}
	v = v[len(prefix):]
	for i := range dst {
		hi, lo := hexVal(v[2*i]), hexVal(v[2*i+1])
		if hi < 0 || lo < 0 {
			return false
		}
		dst[i] = byte(hi<<4 | lo)
	}
	return true
}

// ---- Slack v0 ----

func (e *Edge) verifySlack(ent *entry, req *Request, now int64) (Reason, *Decision) {
	_, nSig := req.header("X-Slack-Signature")
	_, nTS := req.header("X-Slack-Request-Timestamp")
	if nSig == 0 && nTS == 0 && isSlackSSLCheck(req) {
		// Slack's ssl_check is unsigned: answer it here, forward nothing.
		return ReasonNone, &Decision{Respond: true, Status: 200, ContentType: "text/plain"}
	}
	sig, r := oneHeader(req, "X-Slack-Signature")
	if r != ReasonNone {
		return r, nil
	}
	ts, r := oneHeader(req, "X-Slack-Request-Timestamp")
	if r != ReasonNone {
		return r, nil
	}
	if r := checkTimestamp(ts, now, ent.tol); r != ReasonNone {
		return r, nil
	}
	var want [sha256.Size]byte
	if !decodePrefixedHex(want[:], sig, "v0=") {
		return ReasonBadSignature, nil
	}
	return ent.macMatches(now, want[:], req.Body, "v0:", ts, ":"), nil
}

func isSlackSSLCheck(req *Request) bool {
	ct, _ := req.header("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		return false
	}
	form, err := ParseForm(string(req.Body))
	if err != nil {
		return false
	}
	v, ok, err := formGet(form, "ssl_check")
	return err == nil && ok && v == "1"
}

// ---- Meta (WhatsApp, Messenger, Instagram) and GitHub: X-Hub-Signature-256 ----

func verifyHubSHA256(ent *entry, req *Request, now int64) Reason {
	sig, r := oneHeader(req, "X-Hub-Signature-256")
	if r != ReasonNone {
		return r
	}
	var want [sha256.Size]byte
	if !decodePrefixedHex(want[:], sig, "sha256=") {
		return ReasonBadSignature
	}
	return ent.macMatches(now, want[:], req.Body)
}

// verifyMeta verifies a Meta POST: X-Hub-Signature-256 over the body, or,
// for Messenger and Instagram only, the deauthorize callback Meta posts when
// a person removes the app: it carries no signature header, its body is a
// form of exactly one field, signed_request = <sig>.<payload>, where sig is
// base64url(HMAC-SHA256(app secret, payload)) and payload is base64url JSON.
// A body with anything besides that one field, or with the header, is
// verified as a notification.
func verifyMeta(ent *entry, req *Request, now int64) Reason {
	if _, n := req.header("X-Hub-Signature-256"); n == 0 && (ent.inst.Provider == "messenger" || ent.inst.Provider == "instagram") {
		if sr, ok := signedRequestBody(req); ok {
			return verifySignedRequest(ent, sr, now)
		}
	}
	return verifyHubSHA256(ent, req, now)
}

// maxSignedRequest bounds the signed_request of a deauthorize callback.
const maxSignedRequest = 4096

// signedRequestBody returns the signed_request of a form body that holds
// exactly that one field.
func signedRequestBody(req *Request) (string, bool) {
	ct, _ := req.header("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") || len(req.Body) > maxSignedRequest+len("signed_request=") {
		return "", false
	}
	form, err := ParseForm(string(req.Body))
	if err != nil || len(form) != 1 || form[0][0] != "signed_request" {
		return "", false
	}
	return form[0][1], true
}

// verifySignedRequest checks a Meta signed_request with the app secret.
func verifySignedRequest(ent *entry, sr string, now int64) Reason {
	i := strings.IndexByte(sr, '.')
	if i <= 0 || i == len(sr)-1 {
		return ReasonBadSignature
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(sr[:i], "="))
	if err != nil || len(sig) != sha256.Size {
		return ReasonBadSignature
	}
	return ent.macMatches(now, sig, []byte(sr[i+1:]))
}

// maxChallengeLen bounds the echoed hub.challenge.
const maxChallengeLen = 256

// validChallenge limits what the edge echoes to a plain token (Meta sends
// digits): the response must never become a reflection vector.
func validChallenge(s string) bool { return isWord(s, maxChallengeLen, "-_.~") }

// metaHandshake answers Meta's GET verification at the edge:
// hub.mode=subscribe and hub.verify_token equal (by keyed fingerprint, in
// constant time) to a valid verify token -> 200 with hub.challenge.
func (e *Edge) metaHandshake(ent *entry, req *Request, now int64) (Reason, *Decision) {
	_, raw, _ := splitPathQuery(req.Path)
	q, err := ParseForm(raw)
	if err != nil {
		return ReasonMalformedRequest, nil
	}
	mode, _, err1 := formGet(q, "hub.mode")
	token, _, err2 := formGet(q, "hub.verify_token")
	challenge, _, err3 := formGet(q, "hub.challenge")
	if err1 != nil || err2 != nil || err3 != nil || mode != "subscribe" || !validChallenge(challenge) {
		return ReasonMalformedRequest, nil
	}
	if token == "" {
		return ReasonBadVerifyToken, nil
	}
	if !e.tokenMatches(ent, PurposeVerifyToken, token, now) {
		if len(ent.validSecrets(PurposeVerifyToken, now)) == 0 {
			return ReasonNoValidSecret, nil
		}
		return ReasonBadVerifyToken, nil
	}
	return ReasonNone, &Decision{Respond: true, Status: 200, Body: []byte(challenge), ContentType: "text/plain"}
}

// tokenMatches fingerprints token and compares it with every valid
// fingerprint of the purpose in constant time.
func (e *Edge) tokenMatches(ent *entry, purpose, token string, now int64) bool {
	got := fingerprintMAC(e.fpKey, token)
	match := 0
	for _, m := range ent.validSecrets(purpose, now) {
		match |= subtle.ConstantTimeCompare(got, m.fp)
	}
	return match == 1
}

// ---- Telegram secret token ----

// validTelegramToken: 1-256 characters of A-Z a-z 0-9 _ - (setWebhook's rule).
func validTelegramToken(s string) bool { return isWord(s, 256, "_-") }

func (e *Edge) verifyTelegram(ent *entry, req *Request, now int64) Reason {
	tok, r := oneHeader(req, "X-Telegram-Bot-Api-Secret-Token")
	if r != ReasonNone {
		return r
	}
	if !validTelegramToken(tok) {
		return ReasonBadSignature
	}
	if len(ent.validSecrets(PurposeSecretToken, now)) == 0 {
		return ReasonNoValidSecret
	}
	if !e.tokenMatches(ent, PurposeSecretToken, tok, now) {
		return ReasonBadSignature
	}
	return ReasonNone
}

// ---- Discord Ed25519 ----

// verifyDiscord checks X-Signature-Ed25519 over timestamp + body with the
// application's public key. Discord documents no window; the edge applies the
// installation's tolerance (default 5 minutes) to X-Signature-Timestamp.
func verifyDiscord(ent *entry, req *Request, now int64) Reason {
	sig, r := oneHeader(req, "X-Signature-Ed25519")
	if r != ReasonNone {
		return r
	}
	ts, r := oneHeader(req, "X-Signature-Timestamp")
	if r != ReasonNone {
		return r
	}
	if r := checkTimestamp(ts, now, ent.tol); r != ReasonNone {
		return r
	}
	var s [ed25519.SignatureSize]byte
	if !decodePrefixedHex(s[:], sig, "") {
		return ReasonBadSignature
	}
	keys := ent.validSecrets(PurposePublicKey, now)
	if len(keys) == 0 {
		return ReasonNoValidSecret
	}
	msg := make([]byte, 0, len(ts)+len(req.Body))
	msg = append(append(msg, ts...), req.Body...)
	for _, k := range keys {
		if ed25519.Verify(k.pub, msg, s[:]) {
			return ReasonNone
		}
	}
	return ReasonBadSignature
}

// ---- Twilio HMAC-SHA1 ----

// twilioURL is the URL Twilio signed: the installation's public_url (or the
// request's scheme://host + path) plus the query exactly as received.
func twilioURL(ent *entry, req *Request) string {
	path, rawQuery, hasQuery := splitPathQuery(req.Path)
	base := ent.inst.PublicURL
	if base == "" {
		scheme := req.Scheme
		if scheme == "" {
			scheme = "https"
		}
		base = scheme + "://" + req.Host + path
	}
	if hasQuery {
		return base + "?" + rawQuery
	}
	return base
}

func verifyTwilio(ent *entry, req *Request, now int64) Reason {
	sig, r := oneHeader(req, "X-Twilio-Signature")
	if r != ReasonNone {
		return r
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(want) != sha1.Size {
		return ReasonBadSignature
	}
	u := twilioURL(ent, req)
	var params []byte
	ct, _ := req.header("Content-Type")
	ct = strings.ToLower(ct)
	_, rawQuery, _ := splitPathQuery(req.Path)
	q, err := ParseForm(rawQuery)
	if err != nil {
		return ReasonMalformedRequest
	}
	bodyHash, hasBodyHash, err := formGet(q, "bodySHA256")
	if err != nil {
		return ReasonMalformedRequest
	}
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		form, err := ParseForm(string(req.Body))
		if err != nil {
			return ReasonMalformedRequest
		}
		// Sorted by name (then value, for repeated names); name then value.
		sort.Sort(formPairs(form))
		for _, kv := range form {
			params = append(params, kv[0]...)
			params = append(params, kv[1]...)
		}
	case hasBodyHash:
		// JSON (or other) bodies: only the URL is signed, and it carries the
		// body's SHA-256, which must match the bytes received.
		var got [sha256.Size]byte
		ok := decodePrefixedHex(got[:], bodyHash, "")
		sum := sha256.Sum256(req.Body)
		if !ok || subtle.ConstantTimeCompare(got[:], sum[:]) != 1 {
			return ReasonBadSignature
		}
	case len(req.Body) > 0:
		// A body no signature covers is never forwarded.
		return ReasonBadSignature
	}
	r = ent.macMatches(now, want, params, u)
	if r == ReasonBadSignature {
		if alt := portVariant(u); alt != "" {
			r = ent.macMatches(now, want, params, alt)
		}
	}
	return r
}

// ---- LINE ----

func verifyLINE(ent *entry, req *Request, now int64) Reason {
	sig, r := oneHeader(req, "X-Line-Signature")
	if r != ReasonNone {
		return r
	}
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(want) != sha256.Size {
		return ReasonBadSignature
	}
	return ent.macMatches(now, want, req.Body)
}

// ---- Standard Webhooks ----

// maxSWSignatures bounds the work per request: entries beyond it are ignored.
const maxSWSignatures = 8

// ParseStandardSignatures returns the decoded v1 signatures of a
// webhook-signature header (space-separated "v<n>,<base64>" entries; other
// versions are skipped; at most maxSWSignatures v1 entries). ok is false
// when the header is not a list of such entries.
func ParseStandardSignatures(header string) (sigs [][]byte, ok bool) {
	for _, f := range strings.Split(header, " ") {
		if f == "" {
			continue
		}
		comma := strings.IndexByte(f, ',')
		if comma <= 0 || f[0] != 'v' {
			return nil, false
		}
		if f[:comma] != "v1" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(f[comma+1:])
		if err != nil || len(b) != sha256.Size {
			continue // a malformed entry cannot match; others still may
		}
		if len(sigs) < maxSWSignatures {
			sigs = append(sigs, b)
		}
	}
	return sigs, true
}

func verifyStandardWebhooks(ent *entry, req *Request, now int64) Reason {
	id, r := oneHeader(req, "webhook-id")
	if r != ReasonNone {
		return r
	}
	ts, r := oneHeader(req, "webhook-timestamp")
	if r != ReasonNone {
		return r
	}
	sigHeader, r := oneHeader(req, "webhook-signature")
	if r != ReasonNone {
		return r
	}
	if r := checkTimestamp(ts, now, ent.tol); r != ReasonNone {
		return r
	}
	sigs, ok := ParseStandardSignatures(sigHeader)
	if !ok || len(sigs) == 0 {
		return ReasonBadSignature
	}
	keys := ent.validSecrets(PurposeSigning, now)
	if len(keys) == 0 {
		return ReasonNoValidSecret
	}
	for _, k := range keys {
		km := k.keyed()
		st, sum := km.sum(req.Body, id, ".", ts, ".")
		match := false
		for _, s := range sigs {
			match = match || hmac.Equal(sum, s)
		}
		km.put(st)
		if match {
			return ReasonNone
		}
	}
	return ReasonBadSignature
}

// formPairs sorts by name, then value (sort.Interface: no reflection, which
// sort.Slice would need).
type formPairs [][2]string

func (p formPairs) Len() int      { return len(p) }
func (p formPairs) Swap(i, j int) { p[i], p[j] = p[j], p[i] }
func (p formPairs) Less(i, j int) bool {
	if p[i][0] != p[j][0] {
		return p[i][0] < p[j][0]
	}
	return p[i][1] < p[j][1]
}
