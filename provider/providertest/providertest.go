// Package providertest runs the shared test harness of provider parsers: golden
// files of normalised output for every input in a testdata folder, and a fuzz
// target seeded from the same inputs that checks the parser's invariants.
//
// Inputs: testdata/<name>.json (application/json) or testdata/<name>.form
// (application/x-www-form-urlencoded). Output: testdata/<name>.golden.
// Optional beside an input: testdata/<name>.headers ("Name: value" lines, the
// request headers a RequestParser reads) and testdata/<name>.settings
// ("name=value" lines, the installation's settings).
// `go test ./provider/... -update` rewrites the golden files.
package providertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
)

var update = flag.Bool("update", false, "rewrite golden files")

// ContentType returns the content type a test input file stands for.
func ContentType(path string) string {
	if strings.HasSuffix(path, ".form") {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// Inputs lists the input files of dir.
func Inputs(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.json", "*.form"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, ".golden.json") {
				out = append(out, f)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no inputs in %s", dir)
	}
	return out
}

// Request reads the request an input file stands for: its body, content type,
// and the optional .headers and .settings files beside it.
func Request(t testing.TB, in string) provider.Request {
	t.Helper()
	body, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	r := provider.Request{Body: body, ContentType: ContentType(in)}
	stem := strings.TrimSuffix(in, filepath.Ext(in))
	if b, err := os.ReadFile(stem + ".headers"); err == nil {
		r.Header = ParseHeaders(string(b))
	}
	if b, err := os.ReadFile(stem + ".settings"); err == nil {
		r.Settings = map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				r.Settings[k] = v
			}
		}
	}
	return r
}

// ParseHeaders reads "Name: value" lines (bad lines are skipped).
func ParseHeaders(s string) http.Header {
	h := http.Header{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) != "" {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

// FormatHeaders is the inverse of ParseHeaders (for fuzz seeds).
func FormatHeaders(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

type response struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body"`
}

type view struct {
	Handshake *response        `json:"handshake,omitempty"`
	Events    []provider.Event `json:"events"`
	Ack       *response        `json:"ack,omitempty"`
	Ignored   string           `json:"ignored,omitempty"`
	// Revocations are rendered only when there are some, so the golden
	// files of bodies without any stay as they were.
	Revocations []provider.Revocation `json:"revocations,omitempty"`
	Error       string                `json:"error,omitempty"`
}

func resp(r *provider.Response) *response {
	if r == nil {
		return nil
	}
	return &response{Status: r.Status, ContentType: r.ContentType, Body: string(r.Body)}
}

// Render is the golden form of a parse outcome.
func Render(r provider.Result, err error) []byte {
	v := view{Handshake: resp(r.Handshake), Events: r.Events, Ack: resp(r.Ack), Ignored: r.Ignored, Revocations: r.Revocations}
	if err != nil {
		v = view{Error: err.Error()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return buf.Bytes()
}

// Golden parses every input of dir and compares the rendered result with its
// golden file. Inputs named bad_* must fail with a malformed-payload error;
// all others must parse and satisfy provider.Check.
func Golden(t *testing.T, p provider.Inbound, dir string) {
	for _, in := range Inputs(t, dir) {
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		t.Run(name, func(t *testing.T) {
			res, perr := provider.Parse(p, Request(t, in))
			if strings.HasPrefix(name, "bad_") {
				if !errors.Is(perr, provider.ErrMalformed) {
					t.Fatalf("want a malformed-payload error, got %v", perr)
				}
			} else {
				if perr != nil {
					t.Fatalf("parse: %v", perr)
				}
				if err := provider.Check(res); err != nil {
					t.Fatalf("invariants: %v", err)
				}
			}
			got := Render(res, perr)
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(want) != string(got) {
				t.Errorf("normalised output differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// Seed adds every input of dir to the fuzz corpus, with both content types.
func Seed(f *testing.F, dir string) {
	for _, in := range Inputs(f, dir) {
		body, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, ContentType(in))
	}
}

// SeedRequests adds every input of dir to the fuzz corpus as (body, content
// type, header lines), for FuzzRequest.
func SeedRequests(f *testing.F, dir string) {
	for _, in := range Inputs(f, dir) {
		r := Request(f, in)
		f.Add(r.Body, r.ContentType, FormatHeaders(r.Header))
	}
}

// FuzzRequest is the fuzz body of a RequestParser: headers come from
// header lines, settings are fixed by the caller.
func FuzzRequest(t *testing.T, p provider.Inbound, body []byte, contentType, headerLines string, settings map[string]string) {
	res, err := provider.Parse(p, provider.Request{Body: body, ContentType: contentType, Header: ParseHeaders(headerLines), Settings: settings})
	if err != nil {
		if !errors.Is(err, provider.ErrMalformed) {
			t.Fatalf("error is not a malformed-payload error: %v", err)
		}
		return
	}
	if err := provider.Check(res); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

// FuzzParse is the fuzz body: Parse must never panic, must fail only with a
// malformed-payload error, and must satisfy provider.Check on success.
func FuzzParse(t *testing.T, p provider.Inbound, body []byte, contentType string) {
	res, err := p.Parse(body, contentType)
	if err != nil {
		if !errors.Is(err, provider.ErrMalformed) {
			t.Fatalf("error is not a malformed-payload error: %v", err)
		}
		return
	}
	if err := provider.Check(res); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}

// Updating reports whether the test run rewrites golden files (-update).
func Updating() bool { return *update }

// Bench parses every non-bad input of dir in turn (b.N parses in all).
func Bench(b *testing.B, p provider.Inbound, dir string) {
	var reqs []provider.Request
	for _, in := range Inputs(b, dir) {
		if !strings.HasPrefix(filepath.Base(in), "bad_") {
			reqs = append(reqs, Request(b, in))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := provider.Parse(p, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// Uninstall is the conformance kit's uninstall requirement for a provider
// whose platform notifies uninstalls, revoked access or a blocked bot: the
// inputs of dir must include at least one that yields a revocation, every
// revocation satisfies provider.Check (a scope, a reason, a conversation
// where the scope needs one), the result carries no events beside it, and
// parsing is pure (the same input gives the same revocations). It returns
// the names of the inputs that yielded revocations. A provider with no such
// notification (Twilio, WhatsApp, Standard Webhooks) does not call it; the
// suite should record that as a documented exemption.
func Uninstall(t *testing.T, p provider.Inbound, dir string) []string {
	t.Helper()
	var names []string
	for _, in := range Inputs(t, dir) {
		name := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in))
		if strings.HasPrefix(name, "bad_") {
			continue
		}
		req := Request(t, in)
		res, err := provider.Parse(p, req)
		if err != nil || len(res.Revocations) == 0 {
			continue
		}
		if err := provider.Check(res); err != nil {
			t.Errorf("%s: revocation invariants: %v", name, err)
		}
		if len(res.Events) > 0 {
			t.Errorf("%s: a revocation with %d events beside it", name, len(res.Events))
		}
		again, err := provider.Parse(p, req)
		if err != nil || string(Render(again, err)) != string(Render(res, nil)) {
			t.Errorf("%s: parsing the same input twice differs", name)
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		t.Errorf("provider %s: no input in %s yields a revocation (uninstall, revoked access or a blocked bot)", p.Name(), dir)
	}
	return names
}
