package main

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
)

// FuzzPluginAgreesWithCore: whatever arrives, the plugin forwards a request
// exactly when the core accepts it and otherwise answers with the core's
// status; it never forwards without the trusted headers being the edge's own.
func FuzzPluginAgreesWithCore(f *testing.F) {
	cfg, _ := fixture(f)
	data := marshal(f, cfg)
	edge, err := filter.Load(data, edgeKey)
	if err != nil {
		f.Fatal(err)
	}
	edge.SetAttestationKey(attKey)

	good := sign.Slack(slackNew, now0, []byte(slackEvent))
	f.Add(uint8(inSlackA), "POST", good[1][1], good[0][1], []byte(slackEvent), "x-switchboard-org", "evil")
	f.Add(uint8(inSlackA), "POST", "v0=00", good[0][1], []byte(slackEvent), "", "")
	f.Add(uint8(inSlackB), "POST", good[1][1], "abc", []byte("{}"), "X-Slack-Signature", "v0=11")
	f.Add(uint8(inWhatsApp), "GET", "", "", []byte(nil), "", "")
	f.Add(uint8(99), "PUT", "", "", []byte("zz"), "content-type", "text/plain")

	f.Fuzz(func(t *testing.T, n uint8, method, sig, ts string, body []byte, extraName, extraVal string) {
		if method == "" || strings.ContainsAny(method, "\x00\r\n") || len(body) > 4*maxBodyA {
			t.Skip()
		}
		t.Setenv(EnvEdgeKey, base64.StdEncoding.EncodeToString(edgeKey))
		t.Setenv(EnvAttestationKey, base64.StdEncoding.EncodeToString(attKey))
		provider := "slack"
		if int(n) == inWhatsApp {
			provider = "whatsapp"
		}
		q := req{method: method, path: hookPath(provider, int(n)), body: body,
			headers: [][2]string{{"x-slack-signature", sig}, {"x-slack-request-timestamp", ts}}}
		if extraName != "" && !strings.HasPrefix(extraName, ":") && !strings.ContainsAny(extraName+extraVal, "\x00\r\n") {
			q.headers = append(q.headers, [2]string{strings.ToLower(extraName), extraVal})
		}
		h := &harness{vm: &vmContext{}, now: now0}
		r := h.mustStart(t, data)
		o := r.send(q)
		r.reset()

		hs := append([][2]string(nil), q.headers...)
		if len(body) > 0 {
			hs = append(hs, [2]string{"content-length", itoa(len(body))})
		}
		d := edge.Decide(&filter.Request{Method: method, Scheme: "https", Host: "hooks.example.com",
			Path: q.path, Headers: hs, Body: body}, now0)
		switch {
		case d.Accept:
			o.wantAccept(t, d.Identity, body)
		case o.forwarded || o.leaked:
			t.Fatalf("plugin forwarded what the core refuses (%s)", d.Reason)
		case o.local == nil:
			t.Fatalf("no answer for a core %s", d.Reason)
		case int(o.local.StatusCode) != d.Status:
			t.Fatalf("plugin answered %d %s, core %d %s", o.local.StatusCode, o.local.Data, d.Status, d.Body)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzParseKeyLines: the VM configuration reader never panics, accepts only
// the two key names and the quarantine settings, and keeps values as given
// (after the first '=').
func FuzzParseKeyLines(f *testing.F) {
	f.Add(string(keyLines(edgeKey, attKey)))
	f.Add("# comment\n\n" + EnvEdgeKey + "=a=b\n")
	f.Add("OTHER=1\n")
	f.Add(EnvQuarantineThreshold + "=5\n" + EnvQuarantineCoolDown + "=90s\n")
	f.Add("=x\n")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := parseKeyLines(s)
		if err != nil {
			return
		}
		for k, v := range keys {
			if !knownSetting(k) {
				t.Fatalf("accepted key %q", k)
			}
			if !strings.Contains(s, k+"="+v) {
				t.Fatalf("value of %s is %q, not in the input", k, v)
			}
		}
	})
}
