package main

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
)

// httpContext is one request. It holds the request at the headers, buffers
// the body up to the installation's limit and calls the core at end of
// stream; nothing is forwarded before an accept.
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	edge   *filter.Edge // the configuration this stream started with

	method, path, scheme, host string
	headers                    [][2]string // non-pseudo request headers as received
	maxBody                    int
	provider                   string          // configured provider of the matched installation
	identity                   filter.Identity // of the matched installation (host-side refusals name it)
	finished                   bool            // a verdict was given (answered or continued)
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	if h.edge == nil && h.plugin.shards == 0 {
		return h.reject(filter.Reject(filter.ReasonNoConfig))
	}
	all, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogErrorf("switchboard: read request headers: %v", err)
		return h.reject(filter.Reject(filter.ReasonMalformedRequest))
	}
	var contentLength string
	for _, kv := range all {
		name := strings.ToLower(kv[0])
		switch name {
		case ":method":
			h.method = kv[1]
		case ":path":
			h.path = kv[1]
		case ":scheme":
			h.scheme = kv[1]
		case ":authority":
			h.host = kv[1]
		case "content-length":
			contentLength = kv[1]
		}
		if !strings.HasPrefix(name, ":") {
			h.headers = append(h.headers, kv)
		}
	}
	if h.host == "" {
		h.host = headerValue(h.headers, "host")
	}
	if h.plugin.shards > 0 {
		// Sharded: the shard of the path's ingress id decides (shards.go).
		e, d := h.plugin.vm.resolve(h.plugin.shards, h.path)
		if d != nil {
			return h.reject(*d)
		}
		h.edge = e
	}

	route, rej := h.edge.Lookup(h.method, h.path)
	if route.Installation != nil {
		h.provider = route.Installation.Provider
	}
	if rej != nil {
		return h.reject(*rej)
	}
	h.identity = route.Identity
	// A quarantined ingress id (a forged flood) is answered here, before
	// its body is buffered or any signature computed (quarantine.go).
	if h.plugin.vm.quarantine().Arrive(route.Identity.IngressID, now()) {
		return h.quarantined()
	}
	h.maxBody = route.MaxBodyBytes
	if h.maxBody <= 0 {
		h.maxBody = filter.DefaultMaxBodyBytes
	}
	// Refuse early what announces itself as too large; chunked bodies are
	// checked as they arrive.
	if contentLength != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(contentLength), 10, 64)
		if err != nil || n < 0 {
			return h.reject(filter.RejectFor(filter.ReasonMalformedRequest, h.identity))
		}
		if n > int64(h.maxBody) {
			return h.reject(filter.RejectFor(filter.ReasonBodyTooLarge, h.identity))
		}
	}
	if endOfStream {
		return h.decide(nil)
	}
	// Hold the headers: with allow_on_headers_stop_iteration Envoy keeps
	// iterating the body to this filter but sends nothing upstream.
	return types.ActionPause
}

func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if h.finished {
		return types.ActionPause
	}
	if bodySize > h.maxBody {
		return h.reject(filter.RejectFor(filter.ReasonBodyTooLarge, h.identity))
	}
	if !endOfStream {
		return types.ActionPause // buffer until the whole body is here
	}
	return h.decideBuffered(bodySize)
}

// OnHttpRequestTrailers ends a request whose body was followed by trailers
// (no end of stream was seen on the body).
func (h *httpContext) OnHttpRequestTrailers(numTrailers int) types.Action {
	if h.finished {
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, h.maxBody+1)
	switch {
	case errors.Is(err, types.ErrorStatusNotFound):
		body = nil // no body before the trailers
	case err != nil:
		// Never decide on an empty body while a real one would go upstream.
		proxywasm.LogErrorf("switchboard: read request body: %v", err)
		return h.reject(filter.RejectFor(filter.ReasonMalformedRequest, h.identity))
	}
	if len(body) > h.maxBody {
		return h.reject(filter.RejectFor(filter.ReasonBodyTooLarge, h.identity))
	}
	return h.decide(body)
}

func (h *httpContext) decideBuffered(bodySize int) types.Action {
	var body []byte
	if bodySize > 0 {
		var err error
		if body, err = proxywasm.GetHttpRequestBody(0, bodySize); err != nil {
			proxywasm.LogErrorf("switchboard: read request body: %v", err)
			return h.reject(filter.RejectFor(filter.ReasonMalformedRequest, h.identity))
		}
	}
	return h.decide(body)
}

func (h *httpContext) decide(body []byte) types.Action {
	req := &filter.Request{
		Method:  h.method,
		Scheme:  h.scheme,
		Host:    h.host,
		Path:    h.path,
		Headers: h.headers,
		Body:    body,
	}
	at := now()
	d := h.edge.Decide(req, at)
	if d.Identity.Provider != "" {
		h.provider = d.Identity.Provider
	}
	switch {
	case d.Respond:
		h.finished = true
		h.plugin.count(metricResponded(h.provider))
		if err := proxywasm.SendHttpResponse(uint32(d.Status), contentType(d), d.Body, -1); err != nil {
			proxywasm.LogErrorf("switchboard: send response: %v", err)
		}
		return types.ActionPause
	case !d.Accept:
		h.plugin.refused(h.identity, at) // the quarantine counts the core's refusals
		return h.reject(d)
	}
	// Accept: drop every inbound x-switchboard-* header (a client must not
	// choose its identity) and every provider credential header (verified
	// now; ingest must never see a secret), then add the decision's identity
	// and attestation.
	for _, kv := range h.headers {
		if filter.DropOnForward(kv[0]) {
			if err := proxywasm.RemoveHttpRequestHeader(kv[0]); err != nil {
				return h.failClosed("remove header", err)
			}
		}
	}
	for _, kv := range d.Headers {
		if err := proxywasm.AddHttpRequestHeader(kv[0], kv[1]); err != nil {
			return h.failClosed("add header", err)
		}
	}
	h.finished = true
	h.plugin.count(metricAccepted(h.provider))
	proxywasm.LogDebug(string(d.JSONLine()))
	return types.ActionContinue
}

// failClosed refuses a request the adapter could not finish forwarding
// safely (a host call failed after an accept).
func (h *httpContext) failClosed(what string, err error) types.Action {
	proxywasm.LogErrorf("switchboard: %s: %v", what, err)
	d := filter.RejectFor(filter.ReasonMalformedRequest, h.identity)
	d.Status = 500
	return h.reject(d)
}

// reject answers locally with the decision's status and JSON body and counts
// the refusal; the request goes no further.
func (h *httpContext) reject(d filter.Decision) types.Action {
	h.finished = true
	if d.Identity.Provider != "" {
		h.provider = d.Identity.Provider
	}
	status := d.Status
	if status == 0 {
		status = 403
	}
	body := d.Body
	if len(body) == 0 {
		body = []byte(`{"error":"` + string(d.Reason) + `"}`)
	}
	h.plugin.count(metricRejected(h.provider, d.Reason))
	h.plugin.noteRefusal(d) // for the tenant's audit log (report.go)
	proxywasm.LogInfo(string(d.JSONLine()))
	if err := proxywasm.SendHttpResponse(uint32(status), contentType(d), body, -1); err != nil {
		proxywasm.LogErrorf("switchboard: send response: %v", err)
	}
	return types.ActionPause
}

func contentType(d filter.Decision) [][2]string {
	ct := d.ContentType
	if ct == "" {
		ct = "application/json"
	}
	return [][2]string{{"content-type", ct}}
}

func headerValue(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

// now is the request's arrival time from Envoy's request.time attribute
// (int64 nanoseconds, little-endian), else the VM clock. Using the host's
// attribute also pins the clock in tests of the compiled module.
func now() int64 {
	if b, err := proxywasm.GetProperty([]string{"request", "time"}); err == nil && len(b) == 8 {
		return int64(binary.LittleEndian.Uint64(b)) / int64(time.Second)
	}
	return time.Now().Unix()
}
