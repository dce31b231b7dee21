package importer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// OpenClaw reads its configuration as JSON5 (comments, trailing commas,
// unquoted keys, single-quoted strings, hex numbers). toJSON rewrites a JSON5
// document as standard JSON for encoding/json. Infinity and NaN are refused
// (JSON has no such numbers). Errors give the line and column.

const maxJSON5Depth = 200

type json5Parser struct {
	src  string
	pos  int
	out  strings.Builder
	deep int
}

// SyntaxError locates a JSON5 syntax error.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d column %d: %s", e.Line, e.Col, e.Msg)
}

func toJSON(src []byte) ([]byte, error) {
	if !utf8.Valid(src) {
		return nil, &SyntaxError{Line: 1, Col: 1, Msg: "not valid UTF-8"}
	}
	p := &json5Parser{src: strings.TrimPrefix(string(src), "\ufeff")}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if err := p.value(); err != nil {
		return nil, err
	}
	if err := p.skip(); err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %q after the document", p.peekRune())
	}
	return []byte(p.out.String()), nil
}

func (p *json5Parser) errf(format string, args ...any) error {
	line, col := 1, 1
	for _, r := range p.src[:min(p.pos, len(p.src))] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *json5Parser) peekRune() rune {
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func isJSON5Space(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0xa0, 0xfeff, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// skip passes whitespace and comments.
func (p *json5Parser) skip() error {
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		switch {
		case isJSON5Space(r):
			p.pos += n
		case strings.HasPrefix(p.src[p.pos:], "//"):
			end := strings.IndexAny(p.src[p.pos:], "\n\r\u2028\u2029")
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end
			}
		case strings.HasPrefix(p.src[p.pos:], "/*"):
			end := strings.Index(p.src[p.pos+2:], "*/")
			if end < 0 {
				return p.errf("unterminated /* comment")
			}
			p.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (p *json5Parser) value() error {
	if p.pos >= len(p.src) {
		return p.errf("unexpected end of input, want a value")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"' || c == '\'':
		s, err := p.str()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(s)
		p.out.Write(b)
		return nil
	case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if p.word() == lit {
			p.out.WriteString(lit)
			p.pos += len(lit)
			return nil
		}
	}
	switch w := p.word(); w {
	case "Infinity", "NaN":
		return p.errf("%s has no JSON equivalent", w)
	case "":
		return p.errf("unexpected %q, want a value", p.peekRune())
	default:
		return p.errf("unexpected word %q, want a value", w)
	}
}

// word is the identifier at pos (not consumed).
func (p *json5Parser) word() string {
	end := p.pos
	for end < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[end:])
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (end > p.pos && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r) || r == 0x200c || r == 0x200d))) {
			break
		}
		end += n
	}
	return p.src[p.pos:end]
}

func (p *json5Parser) enter() error {
	p.deep++
	if p.deep > maxJSON5Depth {
		return p.errf("nested deeper than %d levels", maxJSON5Depth)
	}
	return nil
}

func (p *json5Parser) object() error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // {
	p.out.WriteByte('{')
	first := true
	for {
		if err := p.skip(); err != nil {
			return err
		}
		if p.pos >= len(p.src) {
			return p.errf("unterminated object")
		}
		if p.src[p.pos] == '}' {
			p.pos++
			p.out.WriteByte('}')
			p.deep--
			return nil
		}
		if !first {
			return p.errf("want , or } in object")
		}
		var key string
		switch p.src[p.pos] {
		case '"', '\'':
			s, err := p.str()
			if err != nil {
				return err
			}
			key = s
		default:
			key = p.word()
			if key == "" {
				return p.errf("unexpected %q, want an object key", p.peekRune())
			}
			p.pos += len(key)
		}
		b, _ := json.Marshal(key)
		p.out.Write(b)
		if err := p.skip(); err != nil {
			return err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errf("want : after object key %q", key)
		}
		p.pos++
		p.out.WriteByte(':')
		if err := p.skip(); err != nil {
			return err
		}
		if err := p.value(); err != nil {
			return err
		}
		if err := p.skip(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			if err := p.skip(); err != nil {
				return err
			}
			if p.pos < len(p.src) && p.src[p.pos] != '}' {
				p.out.WriteByte(',')
			}
			continue
		}
		first = false
	}
}

func (p *json5Parser) array() error {
	if err := p.enter(); err != nil {
		return err
	}
	p.pos++ // [
	p.out.WriteByte('[')
	first := true
	for {
		if err := p.skip(); err != nil {
			return err
		}
		if p.pos >= len(p.src) {
			return p.errf("unterminated array")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			p.out.WriteByte(']')
			p.deep--
			return nil
		}
		if !first {
			return p.errf("want , or ] in array")
		}
		if err := p.value(); err != nil {
			return err
		}
		if err := p.skip(); err != nil {
			return err
		}
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			if err := p.skip(); err != nil {
				return err
			}
			if p.pos < len(p.src) && p.src[p.pos] != ']' {
				p.out.WriteByte(',')
			}
			continue
		}
		first = false
	}
}

// str reads a single- or double-quoted JSON5 string at pos.
func (p *json5Parser) str() (string, error) {
	quote := p.src[p.pos]
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.src) {
			return "", p.errf("unterminated string")
		}
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		switch {
		case r == rune(quote):
			p.pos += n
			return b.String(), nil
		case r == '\n' || r == '\r':
			return "", p.errf("line break inside a string (escape it with a backslash)")
		case r == '\\':
			p.pos++
			if err := p.escape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteRune(r)
			p.pos += n
		}
	}
}

func (p *json5Parser) escape(b *strings.Builder) error {
	if p.pos >= len(p.src) {
		return p.errf("unterminated escape")
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	switch r {
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'v':
		b.WriteByte('\v')
	case '0':
		if p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			return p.errf("octal escapes are not allowed")
		}
		b.WriteByte(0)
	case '\n', 0x2028, 0x2029: // line continuation
	case '\r':
		if p.pos < len(p.src) && p.src[p.pos] == '\n' {
			p.pos++
		}
	case 'x':
		v, err := p.hex(2)
		if err != nil {
			return err
		}
		b.WriteRune(rune(v))
	case 'u':
		v, err := p.hex(4)
		if err != nil {
			return err
		}
		r := rune(v)
		if utf16.IsSurrogate(r) && strings.HasPrefix(p.src[p.pos:], "\\u") {
			save := p.pos
			p.pos += 2
			lo, err := p.hex(4)
			if err == nil {
				if dec := utf16.DecodeRune(r, rune(lo)); dec != utf8.RuneError {
					b.WriteRune(dec)
					return nil
				}
			}
			p.pos = save
		}
		b.WriteRune(r) // a lone surrogate becomes U+FFFD
	default:
		if r >= '1' && r <= '9' {
			return p.errf("digit escapes are not allowed")
		}
		b.WriteRune(r) // \' \" \\ \/ and any other character mean themselves
	}
	return nil
}

func (p *json5Parser) hex(n int) (uint64, error) {
	if p.pos+n > len(p.src) {
		return 0, p.errf("short hex escape")
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	if err != nil {
		return 0, p.errf("bad hex escape")
	}
	p.pos += n
	return v, nil
}

func (p *json5Parser) number() error {
	start := p.pos
	neg := false
	if c := p.src[p.pos]; c == '+' || c == '-' {
		neg = c == '-'
		p.pos++
	}
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "Infinity"), strings.HasPrefix(rest, "NaN"):
		return p.errf("Infinity and NaN have no JSON equivalent")
	case strings.HasPrefix(rest, "0x"), strings.HasPrefix(rest, "0X"):
		p.pos += 2
		end := p.pos
		for end < len(p.src) && strings.IndexByte("0123456789abcdefABCDEF", p.src[end]) >= 0 {
			end++
		}
		v, err := strconv.ParseUint(p.src[p.pos:end], 16, 64)
		if err != nil {
			return p.errf("bad hexadecimal number %q", p.src[start:end])
		}
		p.pos = end
		if neg {
			p.out.WriteByte('-')
		}
		p.out.WriteString(strconv.FormatUint(v, 10))
		return nil
	}
	end := p.pos
	for end < len(p.src) && strings.IndexByte("0123456789.eE+-", p.src[end]) >= 0 {
		end++
	}
	lit := p.src[p.pos:end]
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || lit == "" || strings.HasPrefix(lit, "+") || strings.HasPrefix(lit, "-") {
		return p.errf("bad number %q", p.src[start:end])
	}
	_ = f
	// Rewrite to JSON's grammar: "5." -> "5", ".5" -> "0.5", "05" refused.
	mant, exp, _ := strings.Cut(strings.ToLower(lit), "e")
	intPart, frac, hasDot := strings.Cut(mant, ".")
	if len(intPart) > 1 && intPart[0] == '0' {
		return p.errf("number %q has a leading zero", lit)
	}
	if intPart == "" {
		intPart = "0"
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if hasDot && frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	if strings.ContainsRune(strings.ToLower(lit), 'e') {
		b.WriteByte('e')
		b.WriteString(exp)
	}
	p.pos = end
	p.out.WriteString(b.String())
	return nil
}
