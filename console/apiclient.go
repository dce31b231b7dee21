package console

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/switchboard-dev/switchboard/client"
)

// handlerTransport is an http.RoundTripper that serves every request through
// the API's own http.Handler in this process: the console asks the API, with
// the signed-in user's bearer token, exactly as a remote client would, so
// every permission decision is the API's.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(rec, req)
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the minimal http.ResponseWriter the transport needs.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// APIError is the API's refusal as the console received it: its HTTP status,
// code, field (for field errors) and message.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Field, e.Message)
	}
	return e.Code + ": " + e.Message
}

// apiClient calls the API as one signed-in user through the project's typed
// client, whose transport serves every request through the API's handler.
type apiClient struct {
	cl *client.Client
}

// internalBase is the origin of in-process requests (never dialled).
const internalBase = "http://switchboard.internal"

func newAPIClient(hc *http.Client, token string) *apiClient {
	cl, err := client.New(internalBase, token, client.WithHTTPClient(hc))
	if err != nil {
		panic("console: in-process API client: " + err.Error()) // internalBase is a constant
	}
	return &apiClient{cl: cl}
}

// apiErr turns the typed client's refusal into the console's.
func apiErr(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		return &APIError{Status: ce.Status, Code: ce.Code, Field: ce.Field, Message: ce.Message}
	}
	return err
}

// seg escapes one path segment taken from a URL or a form.
func seg(s string) string { return url.PathEscape(s) }
