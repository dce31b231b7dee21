package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
)

func init() {
	register(command{
		name:  "verify",
		usage: "explain the edge's decision for a raw HTTP request (--config FILE --request FILE [--now TIME])",
		run: func(_ context.Context, args []string) error {
			if code := runVerify(args, os.Stdout, os.Stderr, os.Getenv); code != 0 {
				return exitError{code}
			}
			return nil
		},
	})
}

// runVerify is `switchboard verify`: it loads an edge configuration, reads a
// raw HTTP/1.1 request and prints the filter core's decision as one JSON
// line. Exit status: 0 accept (or answered at the edge), 1 reject, 2 usage
// or configuration error.
func runVerify(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "edge configuration JSON (docs/edge-config.md)")
	requestPath := fs.String("request", "", "raw HTTP/1.1 request as received by the edge")
	nowFlag := fs.String("now", "", "decide as of this time: RFC 3339 or unix seconds (default: now)")
	keyFile := fs.String("edge-key-file", "", "file holding the base64 edge key (default: $SWITCHBOARD_EDGE_KEY)")
	scheme := fs.String("scheme", "https", "scheme the provider used to call the edge (Twilio signs the URL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: switchboard verify --config FILE --request FILE [--now TIME] [--edge-key-file FILE] [--scheme https|http]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "switchboard verify: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	if *configPath == "" || *requestPath == "" {
		fs.Usage()
		return fail("--config and --request are required")
	}
	if *scheme != "https" && *scheme != "http" {
		return fail("--scheme must be https or http, not %q", *scheme)
	}
	now := time.Now().Unix()
	if *nowFlag != "" {
		n, err := parseNow(*nowFlag)
		if err != nil {
			return fail("--now: %v", err)
		}
		now = n
	}
	edgeKey, err := readEdgeKey(*keyFile, getenv)
	if err != nil {
		return fail("%v", err)
	}
	cfg, err := os.ReadFile(*configPath)
	if err != nil {
		return fail("read config: %v", err)
	}
	edge, err := filter.Load(cfg, edgeKey)
	if err != nil {
		return fail("config %s: %v", *configPath, err)
	}
	// The attestation is not the question here; a throwaway key lets the
	// core run its accept path exactly as at the edge.
	edge.SetAttestationKey([]byte("switchboard-verify-ephemeral-key"))
	raw, err := os.ReadFile(*requestPath)
	if err != nil {
		return fail("read request: %v", err)
	}
	req, err := parseRawRequest(raw, *scheme)
	if err != nil {
		return fail("request %s: %v", *requestPath, err)
	}
	d := edge.Decide(req, now)
	stdout.Write(append(d.JSONLine(), '\n'))
	if hint := verifyHint(d, now); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	if d.Accept || d.Respond {
		return 0
	}
	return 1
}

// parseNow accepts RFC 3339 or unix seconds.
func parseNow(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither RFC 3339 (2018-07-12T18:36:58Z) nor unix seconds", s)
	}
	return t.Unix(), nil
}

func readEdgeKey(file string, getenv func(string) string) ([]byte, error) {
	var text, from string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read edge key: %w", err)
		}
		text, from = string(b), file
	} else {
		text, from = getenv("SWITCHBOARD_EDGE_KEY"), "SWITCHBOARD_EDGE_KEY"
		if text == "" {
			return nil, errors.New("no edge key: set SWITCHBOARD_EDGE_KEY (base64 of 32 bytes) or pass --edge-key-file")
		}
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("edge key from %s is not base64", from)
	}
	if len(key) != filter.EdgeKeySize {
		return nil, fmt.Errorf("edge key from %s is %d bytes, want %d", from, len(key), filter.EdgeKeySize)
	}
	return key, nil
}

// parseRawRequest reads one HTTP/1.1 request. Without Content-Length or
// chunked encoding the rest of the file is the body (convenient for
// hand-written files); with Content-Length, anything after the body other
// than a final line break is an error, so a wrong length is not silently
// ignored.
func parseRawRequest(raw []byte, scheme string) (*filter.Request, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	hr, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("not an HTTP/1.1 request: %w", err)
	}
	var body []byte
	if hr.ContentLength > 0 || len(hr.TransferEncoding) > 0 || hr.Header.Get("Content-Length") != "" {
		if body, err = io.ReadAll(hr.Body); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		rest, _ := io.ReadAll(br)
		if len(bytes.TrimRight(rest, "\r\n")) > 0 {
			if len(hr.TransferEncoding) > 0 {
				return nil, fmt.Errorf("%d bytes follow the chunked body", len(rest))
			}
			return nil, fmt.Errorf("%d bytes follow the body: Content-Length (%d) does not match the body", len(rest), hr.ContentLength)
		}
	} else {
		body, _ = io.ReadAll(br)
	}
	req := &filter.Request{Method: hr.Method, Scheme: scheme, Host: hr.Host, Path: hr.RequestURI, Body: body}
	if hr.URL.IsAbs() {
		req.Scheme, req.Path = hr.URL.Scheme, hr.URL.RequestURI()
	}
	names := make([]string, 0, len(hr.Header))
	for n := range hr.Header {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range hr.Header[n] {
			req.Headers = append(req.Headers, [2]string{n, v})
		}
	}
	return req, nil
}

// verifyHint says, on stderr, what usually causes a refusal.
func verifyHint(d filter.Decision, now int64) string {
	switch d.Reason {
	case filter.ReasonStaleTimestamp:
		return "hint: the request's timestamp is more than the tolerance away from " + time.Unix(now, 0).UTC().Format(time.RFC3339) + "; pass --now with the time the request was received"
	case filter.ReasonBadSignature:
		return "hint: the signature does not match any currently valid secret; check the body is byte-for-byte as received (no re-serialised JSON, same line endings) and, for Twilio, --scheme and public_url"
	case filter.ReasonNoValidSecret:
		return "hint: no secret of this installation is valid at this time (check not_before/not_after, or rotate a new secret in)"
	case filter.ReasonUnknownIngress:
		return "hint: the path must be /v1/hooks/<provider>/<ingress-id> with an ingress id present in the configuration"
	}
	return ""
}
