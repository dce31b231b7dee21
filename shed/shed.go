// Package shed sheds load an HTTP handler cannot take: at most a fixed number
// of requests run at once, and one over that is answered at once with 503 and
// Retry-After, before any of its work (body read, verification, store, Redis)
// is done. Under overload the requests that are taken then finish at the
// sustainable rate instead of every request slowing until all time out.
package shed

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// RetryAfter is the Retry-After, in seconds, of a shed request.
const RetryAfter = 1

// Body is the JSON body of a shed request.
const Body = `{"error":"overloaded"}`

// Limiter admits at most its capacity of requests at once. Safe for
// concurrent use.
type Limiter struct {
	slots chan struct{}
	shed  atomic.Int64
}

// New returns a Limiter of max concurrent requests (max <= 0: unlimited, nil).
func New(max int) *Limiter {
	if max <= 0 {
		return nil
	}
	return &Limiter{slots: make(chan struct{}, max)}
}

// Acquire takes a slot when one is free (true; call Release when done), or
// answers w with 503, Retry-After and Body (false). A nil Limiter always
// admits.
func (l *Limiter) Acquire(w http.ResponseWriter) bool {
	if l == nil {
		return true
	}
	select {
	case l.slots <- struct{}{}:
		return true
	default:
	}
	l.shed.Add(1)
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // give the descriptor back too
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(Body))
	return false
}

// Release frees the slot an Acquire took.
func (l *Limiter) Release() {
	if l != nil {
		<-l.slots
	}
}

// Shed is how many requests this Limiter refused.
func (l *Limiter) Shed() int64 {
	if l == nil {
		return 0
	}
	return l.shed.Load()
}

// Wrap runs h under l.
func (l *Limiter) Wrap(h http.Handler) http.Handler {
	if l == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.Acquire(w) {
			return
		}
		defer l.Release()
		h.ServeHTTP(w, r)
	})
}
