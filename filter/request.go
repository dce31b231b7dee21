package filter

import (
	"errors"
	"strings"
)

// Request is what a host hands to Decide: the request as the client sent it.
type Request struct {
	Method  string
	Scheme  string      // "https" or "http" as the client used it
	Host    string      // authority as the client used it
	Path    string      // path + "?" + raw query, as received
	Headers [][2]string // as received; names matched case-insensitively
	Body    []byte
}

// header returns the value of the named header (trimmed of optional white
// space) and how many times it occurs. Security headers that occur more than
// once are refused by the callers: which copy the provider meant is unknown.
func (r *Request) header(name string) (string, int) {
	var v string
	n := 0
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			if n == 0 {
				v = strings.Trim(h[1], " \t")
			}
			n++
		}
	}
	return v, n
}

// splitPathQuery splits a request target into path and raw query.
func splitPathQuery(target string) (path, rawQuery string, hasQuery bool) {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i], target[i+1:], true
	}
	return target, "", false
}

var errBadEscape = errors.New("invalid percent-encoding")

// ParseForm parses application/x-www-form-urlencoded data (also used for
// query strings) without net/url: '&'-separated name=value pairs, '+' is a
// space, %XX escapes are decoded; an invalid escape is an error. Empty pairs
// are skipped and a pair without '=' has an empty value. Order is kept.
func ParseForm(s string) ([][2]string, error) {
	var out [][2]string
	for len(s) > 0 {
		var pair string
		if i := strings.IndexByte(s, '&'); i >= 0 {
			pair, s = s[:i], s[i+1:]
		} else {
			pair, s = s, ""
		}
		if pair == "" {
			continue
		}
		name, value := pair, ""
		if i := strings.IndexByte(pair, '='); i >= 0 {
			name, value = pair[:i], pair[i+1:]
		}
		n, err := formUnescape(name)
		if err != nil {
			return nil, err
		}
		v, err := formUnescape(value)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]string{n, v})
	}
	return out, nil
}

func formUnescape(s string) (string, error) {
	needs := false
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || s[i] == '+' {
			needs = true
			break
		}
	}
	if !needs {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 >= len(s) {
				return "", errBadEscape
			}
			hi, lo := hexVal(s[i+1]), hexVal(s[i+2])
			if hi < 0 || lo < 0 {
				return "", errBadEscape
			}
			b = append(b, byte(hi<<4|lo))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b), nil
}

// formGet returns the single value of name; more than one value is an error
// (ambiguous), none is ("", false, nil).
func formGet(form [][2]string, name string) (string, bool, error) {
	var v string
	found := false
	for _, kv := range form {
		if kv[0] == name {
			if found {
				return "", false, errors.New("duplicate parameter " + name)
			}
			v, found = kv[1], true
		}
	}
	return v, found, nil
}

// splitURL splits an absolute http(s) URL into scheme, authority and the
// rest (path, query); used for public_url and Twilio's port variants.
func splitURL(u string) (scheme, authority, rest string, err error) {
	switch {
	case strings.HasPrefix(u, "https://"):
		scheme, u = "https", u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		scheme, u = "http", u[len("http://"):]
	default:
		return "", "", "", errors.New("must be an absolute http:// or https:// URL")
	}
	i := strings.IndexAny(u, "/?#")
	if i < 0 {
		authority, rest = u, ""
	} else {
		authority, rest = u[:i], u[i:]
	}
	if authority == "" {
		return "", "", "", errors.New("has no host")
	}
	for j := 0; j < len(authority); j++ {
		if c := authority[j]; c <= ' ' || c == 0x7f || c == '@' {
			return "", "", "", errors.New("has an invalid host")
		}
	}
	return scheme, authority, rest, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// portVariant returns the URL with the scheme's default port added when it
// has none, or removed when it has it ("" when neither applies). Twilio's own
// validators accept both forms, because what Twilio signs depends on how the
// URL was written in the console.
func portVariant(u string) string {
	scheme, auth, rest, err := splitURL(u)
	if err != nil {
		return ""
	}
	host, port := auth, ""
	if i := strings.LastIndexByte(auth, ':'); i >= 0 && !strings.Contains(auth[i:], "]") {
		host, port = auth[:i], auth[i+1:]
	}
	switch port {
	case "":
		return scheme + "://" + host + ":" + defaultPort(scheme) + rest
	case defaultPort(scheme):
		return scheme + "://" + host + rest
	}
	return ""
}
