package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeJSON is the API's one JSON reader of request bodies: raw must be valid
// UTF-8 and exactly one JSON value; inside it, no object may hold the same
// key twice, exactly or in another letter case (encoding/json would keep the
// last one and match keys case-insensitively), and every key that names a
// field of v must name it exactly. Unknown fields, wrong types and trailing
// data are refused as before. A refusal names the offending key by its JSON
// path (e.g. "secrets.signing", "canary_orgs[1]").
func decodeJSON(raw []byte, v any) error {
	if !utf8.Valid(raw) {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidUTF8, Message: "body is not valid UTF-8"}
	}
	return decodeStrict(raw, v, "", false)
}

// decodeEmbedded decodes a JSON value held inside a request body (a
// json.RawMessage field, which the body's own check reads only for
// duplicate keys) with the same rules, naming offending keys under field.
// allowUnknown lets keys that name no field of v through (a document of
// which v reads a part); a key naming a field in another letter case is
// still refused.
func decodeEmbedded(raw []byte, v any, field string, allowUnknown bool) error {
	err := decodeStrict(raw, v, field, allowUnknown)
	var ae *apiError
	if errors.As(err, &ae) && ae.Field == "" {
		ae.Field = field
	}
	return err
}

func decodeStrict(raw []byte, v any, path string, allowUnknown bool) error {
	if !utf8.Valid(raw) {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidUTF8, Message: "body is not valid UTF-8"}
	}
	if json.Valid(raw) {
		if at, bad := loneSurrogate(raw); bad {
			return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidUTF8,
				Message: fmt.Sprintf("the string escape at byte %d is a lone UTF-16 surrogate (\\ud800–\\udfff outside a high-low pair): no character", at)}
		}
		// Key checks first: a duplicate key is named even when the decoder
		// would stumble over the later value's type.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := checkValue(dec, reflect.TypeOf(v), path); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if !allowUnknown {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		ae := jsonErr(err)
		if path != "" && ae.Field != "" {
			ae.Field = path + "." + ae.Field
		}
		return ae
	}
	if _, err := dec.Token(); err != io.EOF {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "body must hold exactly one JSON object"}
	}
	return nil
}

// loneSurrogate finds a \u escape of a UTF-16 surrogate that is not a high
// surrogate followed at once by a low one's escape (encoding/json would
// replace it with U+FFFD, so two different bodies would decode alike). raw
// must be valid JSON; at is the escape's byte offset.
func loneSurrogate(raw []byte) (at int, bad bool) {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			r, ok := hex4(i)
			if !ok { // a one-letter escape: skip the escaped byte
				i++
				continue
			}
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return i, true
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := hex4(i + 6)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return i, true
				}
				i += 11
			default:
				i += 5
			}
		}
	}
	return 0, false
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkValue reads one JSON value from dec, judging object keys against t
// (nil: any value, keys are only checked for duplicates).
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType)) {
		// A type with its own decoding: keys keep their duplicate check;
		// secretValues (purpose -> value) is a map of strings.
		if t.Kind() == reflect.Map {
			t = reflect.MapOf(t.Key(), t.Elem())
		} else {
			t = nil
		}
	}
	tok, err := dec.Token()
	if err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "malformed JSON"}
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, _ = dec.Token() // ']'
		return nil
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = jsonFields(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]string{} // folded key -> key as first written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "malformed JSON"}
			}
			key, _ := kt.(string)
			kpath := key
			if path != "" {
				kpath = path + "." + key
			}
			folded := strings.ToLower(key)
			if first, dup := seen[folded]; dup {
				if first == key {
					return &apiError{Status: http.StatusBadRequest, Code: CodeDuplicateField, Field: kpath,
						Message: fmt.Sprintf("key %q appears more than once", key)}
				}
				return &apiError{Status: http.StatusBadRequest, Code: CodeDuplicateField, Field: kpath,
					Message: fmt.Sprintf("key %q repeats %q in another letter case", key, first)}
			}
			seen[folded] = key
			next := elem
			if fields != nil {
				ft, exact := fields[key]
				if !exact {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return &apiError{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: kpath,
								Message: fmt.Sprintf("unknown field %q (keys are case-sensitive: did you mean %q?)", key, name)}
						}
					}
				}
				next = ft // nil for an unknown key: the decoder names it next
			}
			if err := checkValue(dec, next, kpath); err != nil {
				return err
			}
		}
		_, _ = dec.Token() // '}'
	}
	return nil
}

// jsonFields maps the JSON names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		out[name] = f.Type
	}
	return out
}

// checkContentType refuses a request body that is not declared JSON.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Message: "Content-Type must be application/json"}
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Message: "Content-Type must be application/json"}
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return &apiError{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType, Message: "Content-Type must be application/json (charset utf-8 only)"}
		}
	}
	return nil
}

// readBody reads at most MaxBodyBytes of r's body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, jsonErr(err)
		}
		return nil, &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "could not read the body"}
	}
	return raw, nil
}

// queryParams refuses query parameters a route does not take, and repeated
// ones: a filter is applied or refused, never ignored.
func queryParams(r *http.Request, allowed ...string) error {
	for k, vs := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok {
			if len(allowed) == 0 {
				return fieldErr(k, "this route takes no query parameters")
			}
			return fieldErr(k, "unknown query parameter (this route takes %s)", strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return fieldErr(k, "given %d times; give it once", len(vs))
		}
		if vs[0] == "" {
			return fieldErr(k, "must not be empty (leave the parameter out instead)")
		}
		if !utf8.ValidString(vs[0]) {
			return fieldErr(k, "must be valid UTF-8")
		}
	}
	return nil
}
