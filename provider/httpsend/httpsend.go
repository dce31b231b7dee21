// Package httpsend holds the HTTP mechanics the providers' outbound senders
// share: where they post, one POST with a bounded answer, transport errors that
// never carry the request URL, and the retry advice of their SendError types.
// What each provider sends and how it reads the answer stays in its own package.
package httpsend

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a whole send when the caller gives no HTTP client.
const DefaultTimeout = 30 * time.Second

// MaxAnswer is how much of an answer body is read; provider answers to a
// send are small, and a larger one is not read into memory.
const MaxAnswer = 1 << 20

// API is where a Sender posts: an origin without a trailing slash and the
// client that posts there.
type API struct {
	Base string
	HTTP *http.Client
}

// NewAPI returns the API at base ("" = defaultBase) posted to with hc
// (nil = a client with DefaultTimeout).
func NewAPI(base, defaultBase string, hc *http.Client) API {
	if base == "" {
		base = defaultBase
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return API{Base: strings.TrimRight(base, "/"), HTTP: hc}
}

// Answer is a provider's answer: its status, header and at most MaxAnswer
// bytes of body.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// TransportError is a send that got no answer (connection refused, timeout,
// cancelled context, ...). Err is net/http's error without the URL.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// Post sends body to a.Base+path with header and reads the answer. No error
// it returns carries the URL, which may hold a credential (Telegram's bot
// token is a path segment): a request that cannot be built is a plain error,
// one that got no answer is a *TransportError.
func (a API) Post(ctx context.Context, path string, header http.Header, body []byte) (*Answer, error) {
	return a.Do(ctx, http.MethodPost, path, header, body)
}

// Do is Post with another method (GET, PATCH); body nil sends none.
func (a API) Do(ctx context.Context, method, path string, header http.Header, body []byte) (*Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return nil, withoutURL(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return nil, &TransportError{Err: withoutURL(err)}
	}
	defer resp.Body.Close()
	// A body cut short still leaves the status to act on, so a read error is
	// not a failure of its own: the provider's answer parsing reports it.
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	return &Answer{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// withoutURL drops the URL net/http puts into its errors (*url.Error).
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// RetryAfterSeconds is the Retry-After header as whole seconds, 0 when it is
// missing or not a number.
func RetryAfterSeconds(h http.Header) time.Duration {
	secs, _ := strconv.Atoi(h.Get("Retry-After"))
	return time.Duration(secs) * time.Second
}

// Failure is what every provider's SendError carries beside the provider's
// own error fields; providers embed it. The worker's retry policy reads it
// through Temporary and RetryAfter.
type Failure struct {
	Status    int           // HTTP status of the answer; 0 when none came
	Wait      time.Duration // the delay the provider asked for; 0 when it did not say
	Transient bool          // trying again later may succeed
	Cause     error         // why no usable answer came; nil for a refusal
}

// Temporary reports whether trying again later may succeed.
func (f Failure) Temporary() bool { return f.Transient }

// RetryAfter is the delay the provider asked for, 0 when none.
func (f Failure) RetryAfter() time.Duration { return f.Wait }

// Unwrap returns the cause.
func (f Failure) Unwrap() error { return f.Cause }
