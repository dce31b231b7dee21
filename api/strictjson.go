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
	if json.Valid(raw) {
		// Key checks first: a duplicate key is named even when the decoder
		// would stumble over the later value's type.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := checkValue(dec, reflect.TypeOf(v), ""); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "body must hold exactly one JSON object"}
	}
	return nil
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
