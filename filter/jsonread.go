package filter

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// A small strict JSON reader for the edge configuration. It exists so the
// filter needs no reflection-based encoding/json under TinyGo: it parses into
// a tiny value tree that config.go maps onto the Config types by hand.
// Stricter than encoding/json: duplicate object keys, invalid UTF-8, nesting
// deeper than maxJSONDepth and trailing data are errors.

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonArray:
		return "an array"
	default:
		return "an object"
	}
}

type jsonMember struct {
	key string
	val jsonValue
}

type jsonValue struct {
	kind jsonKind
	b    bool
	s    string // string contents, or the number's literal text
	arr  []jsonValue
	obj  []jsonMember
}

const maxJSONDepth = 32

// jsonSyntaxError names the byte offset of the problem.
type jsonSyntaxError struct {
	off int
	msg string
}

func (e *jsonSyntaxError) Error() string {
	return "invalid JSON at byte " + strconv.Itoa(e.off) + ": " + e.msg
}

type jsonReader struct {
	data []byte
	pos  int
}

func parseJSON(data []byte) (jsonValue, error) {
	r := &jsonReader{data: data}
	r.skipSpace()
	v, err := r.value(0)
	if err != nil {
		return jsonValue{}, err
	}
	r.skipSpace()
	if r.pos != len(r.data) {
		return jsonValue{}, r.fail("unexpected data after the top-level value")
	}
	return v, nil
}

func (r *jsonReader) fail(msg string) error { return &jsonSyntaxError{off: r.pos, msg: msg} }

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *jsonReader) value(depth int) (jsonValue, error) {
	if depth > maxJSONDepth {
		return jsonValue{}, r.fail("nesting too deep")
	}
	if r.pos >= len(r.data) {
		return jsonValue{}, r.fail("unexpected end of input")
	}
	switch c := r.data[r.pos]; {
	case c == '{':
		return r.object(depth)
	case c == '[':
		return r.array(depth)
	case c == '"':
		s, err := r.str()
		return jsonValue{kind: jsonString, s: s}, err
	case c == 't':
		return jsonValue{kind: jsonBool, b: true}, r.literal("true")
	case c == 'f':
		return jsonValue{kind: jsonBool}, r.literal("false")
	case c == 'n':
		return jsonValue{kind: jsonNull}, r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	default:
		return jsonValue{}, r.fail("unexpected character " + strconv.QuoteRune(rune(c)))
	}
}

func (r *jsonReader) literal(lit string) error {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return r.fail("invalid literal")
	}
	r.pos += len(lit)
	return nil
}

func (r *jsonReader) object(depth int) (jsonValue, error) {
	r.pos++ // {
	v := jsonValue{kind: jsonObject}
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return v, nil
	}
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return v, r.fail("expected a string key")
		}
		key, err := r.key()
		if err != nil {
			return v, err
		}
		for _, m := range v.obj {
			if m.key == key {
				return v, r.fail("duplicate key " + strconv.Quote(key))
			}
		}
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return v, r.fail("expected ':'")
		}
		r.pos++
		r.skipSpace()
		val, err := r.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.obj = append(v.obj, jsonMember{key: key, val: val})
		r.skipSpace()
		if r.pos >= len(r.data) {
			return v, r.fail("unexpected end of input in object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return v, nil
		default:
			return v, r.fail("expected ',' or '}'")
		}
	}
}

func (r *jsonReader) array(depth int) (jsonValue, error) {
	r.pos++ // [
	v := jsonValue{kind: jsonArray}
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return v, nil
	}
	for {
		r.skipSpace()
		val, err := r.value(depth + 1)
		if err != nil {
			return v, err
		}
		v.arr = append(v.arr, val)
		r.skipSpace()
		if r.pos >= len(r.data) {
			return v, r.fail("unexpected end of input in array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return v, nil
		default:
			return v, r.fail("expected ',' or ']'")
		}
	}
}

// number checks the JSON number grammar and keeps the literal text.
func (r *jsonReader) number() (jsonValue, error) {
	start := r.pos
	d := r.data
	if d[r.pos] == '-' {
		r.pos++
	}
	if r.pos >= len(d) {
		return jsonValue{}, r.fail("truncated number")
	}
	if d[r.pos] == '0' {
		r.pos++
	} else if d[r.pos] >= '1' && d[r.pos] <= '9' {
		for r.pos < len(d) && d[r.pos] >= '0' && d[r.pos] <= '9' {
			r.pos++
		}
	} else {
		return jsonValue{}, r.fail("invalid number")
	}
	if r.pos < len(d) && d[r.pos] == '.' {
		r.pos++
		n := r.pos
		for r.pos < len(d) && d[r.pos] >= '0' && d[r.pos] <= '9' {
			r.pos++
		}
		if r.pos == n {
			return jsonValue{}, r.fail("invalid number fraction")
		}
	}
	if r.pos < len(d) && (d[r.pos] == 'e' || d[r.pos] == 'E') {
		r.pos++
		if r.pos < len(d) && (d[r.pos] == '+' || d[r.pos] == '-') {
			r.pos++
		}
		n := r.pos
		for r.pos < len(d) && d[r.pos] >= '0' && d[r.pos] <= '9' {
			r.pos++
		}
		if r.pos == n {
			return jsonValue{}, r.fail("invalid number exponent")
		}
	}
	return jsonValue{kind: jsonNumber, s: string(d[start:r.pos])}, nil
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func (r *jsonReader) hex4() (rune, error) {
	if len(r.data)-r.pos < 4 {
		return 0, r.fail("truncated \\u escape")
	}
	var v rune
	for i := 0; i < 4; i++ {
		h := hexVal(r.data[r.pos+i])
		if h < 0 {
			return 0, r.fail("invalid \\u escape")
		}
		v = v<<4 | h
	}
	r.pos += 4
	return v, nil
}

// configKeys are the field names of the edge configuration: key returns
// these constants instead of allocating a new string for every key of every
// object (most of a large configuration's allocations otherwise).
var configKeys = [...]string{"version", "installations", "ingress_id", "provider", "scheme",
	"org_id", "installation_id", "profile_id", "platform", "revoked", "max_body_bytes",
	"tolerance_seconds", "public_url", "secrets", "id", "purpose", "sealed", "fingerprint",
	"not_before", "not_after"}

// key reads an object key like str, returning a configKeys constant when the
// key is one.
func (r *jsonReader) key() (string, error) {
	start := r.pos + 1
	end := start
	for end < len(r.data) && r.data[end] != '"' && r.data[end] != '\\' && r.data[end] >= 0x20 {
		end++
	}
	if end < len(r.data) && r.data[end] == '"' {
		raw := r.data[start:end]
		for _, k := range configKeys {
			if string(raw) == k { // compared without a conversion
				r.pos = end + 1
				return k, nil
			}
		}
	}
	return r.str()
}

func (r *jsonReader) str() (string, error) {
	r.pos++ // opening quote
	start := r.pos
	// Fast path: no escapes.
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		if c == '"' {
			s := r.data[start:r.pos]
			if !utf8.Valid(s) {
				return "", r.fail("invalid UTF-8 in string")
			}
			r.pos++
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", r.fail("control character in string")
		}
		r.pos++
	}
	buf := append([]byte(nil), r.data[start:r.pos]...)
	for {
		if r.pos >= len(r.data) {
			return "", r.fail("unterminated string")
		}
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			if !utf8.Valid(buf) {
				return "", r.fail("invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", r.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			r.pos++
			continue
		}
		r.pos++ // backslash
		if r.pos >= len(r.data) {
			return "", r.fail("unterminated escape")
		}
		e := r.data[r.pos]
		r.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			v, err := r.hex4()
			if err != nil {
				return "", err
			}
			if v >= 0xD800 && v < 0xDC00 {
				// High surrogate: a low one must follow.
				if len(r.data)-r.pos >= 6 && r.data[r.pos] == '\\' && r.data[r.pos+1] == 'u' {
					r.pos += 2
					lo, err := r.hex4()
					if err != nil {
						return "", err
					}
					if lo >= 0xDC00 && lo < 0xE000 {
						v = 0x10000 + (v-0xD800)<<10 + (lo - 0xDC00)
					} else {
						return "", r.fail("unpaired surrogate in \\u escape")
					}
				} else {
					return "", r.fail("unpaired surrogate in \\u escape")
				}
			} else if v >= 0xDC00 && v < 0xE000 {
				return "", r.fail("unpaired surrogate in \\u escape")
			}
			buf = utf8.AppendRune(buf, v)
		default:
			return "", r.fail("invalid escape")
		}
	}
}

var errNotInteger = errors.New("must be an integer")

// int64Value reads a JSON number that must be a plain integer.
func (v jsonValue) int64Value() (int64, error) {
	if v.kind != jsonNumber {
		return 0, errors.New("must be a number, not " + v.kind.String())
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	return n, nil
}
