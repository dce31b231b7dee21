package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Error codes shared by every answer of the API (and its docs).
const (
	CodeUnauthorized  = "unauthorized"   // 401: no, unknown or revoked bearer token
	CodeForbidden     = "forbidden"      // 403: the token may not do this
	CodeNotFound      = "not_found"      // 404: no such object, or not in the token's scope
	CodeInvalidJSON   = "invalid_json"   // 400: body is not one JSON object
	CodeUnknownField  = "unknown_field"  // 400: body has a field the route does not take
	CodeInvalidField  = "invalid_field"  // 400: a field's value is wrong or missing
	CodeBodyTooLarge  = "body_too_large" // 413
	CodeConflict      = "conflict"       // 409: duplicate, or the object (or its parent) is revoked
	CodeInternal      = "internal"       // 500: details are logged, never answered
	CodeMethodOrRoute = "no_route"       // 404: no such route

	CodeDuplicateField       = "duplicate_field"        // 400: an object has a key twice (exactly or in another letter case)
	CodeInvalidUTF8          = "invalid_utf8"           // 400: the body is not valid UTF-8
	CodeUnsupportedMediaType = "unsupported_media_type" // 415: a body that is not declared application/json

)

// apiError is a refusal: its status, code and (for field errors) the JSON path
// of the offending field. Its message never carries secret material.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Missing lists what a refused promotion still needs.
	Missing []string `json:"missing,omitempty"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

func fieldErr(field, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(what, id string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("%s %q not found", what, id)}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Error *apiError `json:"error"`
}

// writeError answers err as JSON. Anything that is not an *apiError is an
// internal failure: logged with the request's route, answered without detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
	}
	writeJSON(w, ae.Status, errorBody{Error: ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 64 << 10

// decode reads exactly one JSON object into v: the body must be declared
// application/json, fit MaxBodyBytes, be valid UTF-8 and pass decodeJSON's
// checks (no duplicate or case-variant keys, no unknown fields, no trailing
// data). Every refusal names what is wrong.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(raw, v)
}

// decodeOptional is decode for routes whose body is optional: an empty
// body leaves v as it is; any other body is checked as by decode.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	raw, err := readBody(w, r)
	if err != nil || len(raw) == 0 {
		return err
	}
	if err := checkContentType(r); err != nil {
		return err
	}
	return decodeJSON(raw, v)
}

func jsonErr(err error) *apiError {
	var mbe *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var synErr *json.SyntaxError
	var ae *apiError
	switch {
	case errors.As(err, &ae): // from a field's own UnmarshalJSON
		return ae
	case errors.As(err, &mbe):
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: CodeBodyTooLarge, Message: fmt.Sprintf("body exceeds %d bytes", MaxBodyBytes)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "body must be a JSON object"}
		}
		return fieldErr(field, "must be a JSON %s", jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &synErr):
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: fmt.Sprintf("malformed JSON at byte %d", synErr.Offset)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiError{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: name, Message: fmt.Sprintf("unknown field %q", name)}
	default:
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "body must be one JSON object"}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "int32", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "struct", "map", "ptr":
		return "object"
	}
	return goKind
}
