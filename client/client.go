// Package client is a typed Go client of Switchboard's binding API (/v1): one
// method per route, typed requests and answers, and errors that carry the
// API's refusal code and the offending field. The CLI, the end-to-end tests
// and programs embedding Switchboard use it instead of hand-built requests.
//
// The client never puts the bearer token or a secret value into an error or a
// URL; secrets travel only in request bodies, as the API requires.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Error codes of the API (docs/api.md, "Errors").
const (
	CodeUnauthorized  = "unauthorized"
	CodeForbidden     = "forbidden"
	CodeNotFound      = "not_found"
	CodeInvalidJSON   = "invalid_json"
	CodeUnknownField  = "unknown_field"
	CodeInvalidField  = "invalid_field"
	CodeBodyTooLarge  = "body_too_large"
	CodeConflict      = "conflict"
	CodeInternal      = "internal"
	CodeMethodOrRoute = "no_route"
)

// Error is a refusal answered by the API: the HTTP status, the API's typed
// code, the JSON path of the offending field (for field errors) and its
// message (which never holds a secret). Answers that are not in the API's
// error format (a proxy's page, a wrong address) have Code "" and a short
// excerpt of the body as Message.
type Error struct {
	Method  string // request method
	Path    string // request path without the query
	Status  int
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// ErrorCode is the API's code of err ("" when err is not an API refusal).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is the API's 404 not_found.
func IsNotFound(err error) bool { return ErrorCode(err) == CodeNotFound }

// Client calls one Switchboard API with one bearer token. It is safe for
// concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests with hc (default: a client with a 30 s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the API at baseURL ("http://127.0.0.1:8080"; a
// trailing "/v1" or "/" is accepted) authenticating with token.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("API address %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("API address %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("API address %q: no host", baseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("API address: must not carry credentials (give the token separately)")
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, token: token, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the API's address the client calls (without /v1).
func (c *Client) BaseURL() string { return c.base.String() }

// MaxAnswerBytes bounds an answer the client reads.
const MaxAnswerBytes = 16 << 20

// Do sends one request to path (starting with /v1/, query included) with
// body encoded as JSON (nil: no body) and decodes a 2xx answer into out (nil:
// discarded; *[]byte: the raw body). Any other answer is an *Error. Methods
// of Client are built on it; it is exported for routes this version of the
// client does not know yet.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, pathOnly(path), err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, pathOnly(path), err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, pathOnly(path), redactURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, pathOnly(path), err)
	}
	if len(data) > MaxAnswerBytes {
		return fmt.Errorf("%s %s: answer exceeds %d bytes", method, pathOnly(path), MaxAnswerBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(method, pathOnly(path), resp.StatusCode, data)
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *[]byte:
		*o = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, pathOnly(path), err)
	}
	return nil
}

func decodeError(method, path string, status int, data []byte) error {
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &Error{Method: method, Path: path, Status: status}
	if json.Unmarshal(data, &body) == nil && body.Error != nil && body.Error.Code != "" {
		e.Code, e.Field, e.Message = body.Error.Code, body.Error.Field, body.Error.Message
		return e
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	e.Message = msg
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// redactURLError drops the URL (with its query) from a transport error: the
// operation and the cause are enough, and the request line is already named.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// seg escapes one path segment (an id or a purpose from the caller).
func seg(s string) string { return url.PathEscape(s) }

// query builds "?k=v&…" of the non-empty values (keys in the given order).
func query(kv ...string) string {
	v := url.Values{}
	var keys []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Set(kv[i], kv[i+1])
			keys = append(keys, kv[i])
		}
	}
	if len(keys) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
