package main

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
)

const slackEvent = `{"token":"x","team_id":"T1","api_app_id":"A1","event":{"type":"message","text":"h\u00e9llo"},"type":"event_callback","event_id":"Ev1"}`

func slackReq(n int, secret string, ts int64, body string) req {
	return req{path: hookPath("slack", n), body: []byte(body),
		headers: append([][2]string{{"content-type", "application/json"}}, sign.Slack(secret, ts, []byte(body))...)}
}

// TestEverySchemeAccepts: a correctly signed request of every scheme goes
// upstream with its trusted identity and a verifying attestation.
func TestEverySchemeAccepts(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))

		form := url.Values{"From": {"+15550001111"}, "Body": {"hello"}, "MessageSid": {"SM1"}}
		formBody := form.Encode()
		twPath := hookPath("twilio", inTwilio)
		jsonTwURL, jsonTwHeaders := sign.TwilioJSON(twilioToken, in[inTwilio].PublicURL, []byte(`{"a":1}`))
		discordBody := `{"type":2,"id":"1","application_id":"A"}`
		discordHeaders, err := sign.Discord(discordKey, now0, []byte(discordBody))
		if err != nil {
			t.Fatal(err)
		}
		stdHeaders, err := sign.StandardWebhooks("msg_1", now0, []byte(`{"type":"x"}`), standardSecret)
		if err != nil {
			t.Fatal(err)
		}
		tgHeaders, _ := sign.Telegram(telegramToken)
		metaBody := `{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"text":{"body":"\u3053\u3093\u306b\u3061\u306f"}}]}}]}]}`

		for _, tc := range []struct {
			name string
			n    int
			q    req
		}{
			{"slack new secret", inSlackA, slackReq(inSlackA, slackNew, now0, slackEvent)},
			{"slack chunked body", inSlackA, func() req {
				q := slackReq(inSlackA, slackNew, now0-200, slackEvent)
				q.chunks = 3
				q.noLength = true
				return q
			}()},
			{"slack platform profile", inSlackPlatform, slackReq(inSlackPlatform, slackPlatform, now0, slackEvent)},
			{"whatsapp non-ascii", inWhatsApp, req{path: hookPath("whatsapp", inWhatsApp), body: []byte(metaBody), headers: sign.Meta(metaSecret, []byte(metaBody))}},
			{"telegram", inTelegram, req{path: hookPath("telegram", inTelegram), body: []byte(`{"update_id":1}`), headers: tgHeaders}},
			{"discord", inDiscord, req{path: hookPath("discord", inDiscord), body: []byte(discordBody), headers: discordHeaders}},
			{"twilio form", inTwilio, req{path: twPath, body: []byte(formBody), headers: append([][2]string{{"content-type", "application/x-www-form-urlencoded"}},
				sign.Twilio(twilioToken, in[inTwilio].PublicURL, form)...)}},
			{"twilio json", inTwilio, req{path: twPath + jsonTwURL[len(in[inTwilio].PublicURL):], body: []byte(`{"a":1}`),
				headers: append([][2]string{{"content-type", "application/json"}}, jsonTwHeaders...)}},
			{"line", inLINE, req{path: hookPath("line", inLINE), body: []byte(`{"events":[]}`), headers: sign.LINE(lineSecret, []byte(`{"events":[]}`))}},
			{"standard webhooks", inStandard, req{path: hookPath("standardwebhooks", inStandard), body: []byte(`{"type":"x"}`), headers: stdHeaders}},
			{"github", inGitHub, req{path: hookPath("github", inGitHub), body: []byte(`{"zen":"x"}`), headers: sign.GitHub(githubSecret, []byte(`{"zen":"x"}`), "d-1")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r.send(tc.q).wantAccept(t, identity(in[tc.n]), tc.q.body)
			})
		}
		wantCounter(t, r, metricAccepted("slack"), 3)
		wantCounter(t, r, metricAccepted("twilio"), 2)
		wantCounter(t, r, metricAccepted("github"), 1)
		noSecretInLogs(t, r)
	})
}

// TestFailurePathMatrix walks ARCHITECTURE.md's security failure-path
// matrix through the plugin: each case is refused locally with its reason,
// nothing reaches upstream, and the refusal is counted.
func TestFailurePathMatrix(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))

		forged := slackReq(inSlackA, slackNew, now0, slackEvent)
		forged.headers[2][1] = "v0=" + strings.Repeat("ab", 32)
		missing := slackReq(inSlackA, slackNew, now0, slackEvent)
		missing.headers = missing.headers[:2] // content-type + timestamp, no signature
		tampered := slackReq(inSlackA, slackNew, now0, slackEvent)
		tampered.body = []byte(strings.Replace(slackEvent, "Ev1", "Ev2", 1))
		badTS := slackReq(inSlackA, slackNew, now0, slackEvent)
		badTS.headers[1][1] = "17e8"
		big := bytes.Repeat([]byte("a"), maxBodyA+1)

		for _, tc := range []struct {
			name     string
			q        req
			reason   filter.Reason
			provider string
		}{
			{"forged signature", forged, filter.ReasonBadSignature, "slack"},
			{"body altered after signing", tampered, filter.ReasonBadSignature, "slack"},
			{"missing signature", missing, filter.ReasonMissingSignature, "slack"},
			{"other tenant's secret on this path", slackReq(inSlackA, slackB, now0, slackEvent), filter.ReasonBadSignature, "slack"},
			{"this tenant's request on another tenant's path", slackReq(inSlackB, slackNew, now0, slackEvent), filter.ReasonBadSignature, "slack"},
			{"stale timestamp", slackReq(inSlackA, slackNew, now0-301, slackEvent), filter.ReasonStaleTimestamp, "slack"},
			{"future timestamp", slackReq(inSlackA, slackNew, now0+301, slackEvent), filter.ReasonStaleTimestamp, "slack"},
			{"malformed timestamp", badTS, filter.ReasonBadTimestamp, "slack"},
			{"rotated-out secret", slackReq(inSlackA, slackOld, now0, slackEvent), filter.ReasonBadSignature, "slack"},
			{"only secret expired", slackReq(inSlackExpired, slackOld, now0, slackEvent), filter.ReasonNoValidSecret, "slack"},
			{"revoked installation", slackReq(inSlackRevoked, slackB, now0, slackEvent), filter.ReasonRevoked, "slack"},
			{"platform secret on BYOA path", slackReq(inSlackA, slackPlatform, now0, slackEvent), filter.ReasonBadSignature, "slack"},
			{"BYOA secret on platform path", slackReq(inSlackPlatform, slackNew, now0, slackEvent), filter.ReasonBadSignature, "slack"},
			{"oversized body with content-length", slackReq(inSlackA, slackNew, now0, string(big)), filter.ReasonBodyTooLarge, "slack"},
			{"oversized chunked body without content-length", func() req {
				q := slackReq(inSlackA, slackNew, now0, string(big))
				q.noLength, q.chunks = true, 4
				return q
			}(), filter.ReasonBodyTooLarge, "slack"},
			{"malformed content-length", func() req {
				q := slackReq(inSlackA, slackNew, now0, slackEvent)
				q.noLength = true
				q.headers = append(q.headers, [2]string{"content-length", "12x"})
				return q
			}(), filter.ReasonMalformedRequest, "slack"},
			{"duplicate signature header", func() req {
				q := slackReq(inSlackA, slackNew, now0, slackEvent)
				q.headers = append(q.headers, q.headers[2])
				return q
			}(), filter.ReasonMalformedRequest, "slack"},
			{"unknown ingress", slackReq(99, slackNew, now0, slackEvent), filter.ReasonUnknownIngress, "none"},
			{"provider does not match ingress", req{path: hookPath("github", inSlackA), body: []byte("{}"), headers: sign.GitHub(githubSecret, []byte("{}"), "")}, filter.ReasonProviderMismatch, "none"},
			{"not under /v1/hooks", req{path: "/admin", body: []byte("{}")}, filter.ReasonUnknownIngress, "none"},
			{"GET on a POST-only ingress", req{method: "GET", path: hookPath("slack", inSlackA)}, filter.ReasonMethodNotAllowed, "slack"},
			{"meta handshake with wrong token", req{method: "GET", path: hookPath("whatsapp", inWhatsApp) + "?" + sign.MetaVerifyQuery("guess", "123")}, filter.ReasonBadVerifyToken, "whatsapp"},
			{"telegram wrong token", req{path: hookPath("telegram", inTelegram), body: []byte(`{"update_id":2}`),
				headers: [][2]string{{sign.HeaderTelegramToken, "tg_secret-token-2"}}}, filter.ReasonBadSignature, "telegram"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := counter(r, metricRejected(tc.provider, tc.reason))
				r.send(tc.q).wantReject(t, tc.reason)
				if got := counter(r, metricRejected(tc.provider, tc.reason)); got != before+1 {
					t.Errorf("%s = %d, want %d", metricRejected(tc.provider, tc.reason), got, before+1)
				}
			})
		}
		noSecretInLogs(t, r)
	})
}

// TestOversizedBodyRefusedWhileStreaming: a chunked body with no
// content-length is refused with 413 as soon as it passes the limit, not
// buffered to the end.
func TestOversizedBodyRefusedWhileStreaming(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		q := slackReq(inSlackA, slackNew, now0, string(bytes.Repeat([]byte("a"), 8*maxBodyA)))
		q.noLength, q.chunks = true, 16 // frames of maxBodyA/2
		o := r.send(q)
		o.wantReject(t, filter.ReasonBodyTooLarge)
		if o.frames != 3 {
			t.Errorf("refused after %d of 16 frames, want 3 (first frame past %d bytes)", o.frames, maxBodyA)
		}
	})
}

// TestSpoofedTrustedHeadersStripped: a correctly signed request carrying its
// own x-switchboard-* headers (any case) goes upstream with only the edge's.
func TestSpoofedTrustedHeadersStripped(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		q := slackReq(inSlackA, slackNew, now0, slackEvent)
		q.headers = append(q.headers,
			[2]string{"x-switchboard-org", "org_b"},
			[2]string{"X-Switchboard-Installation", "inst_evil"},
			[2]string{"x-switchboard-platform", "true"},
			[2]string{"x-switchboard-attestation", "v1,t=1,forged"},
			[2]string{"x-switchboard-extra", "anything"})
		o := r.send(q)
		o.wantAccept(t, identity(in[inSlackA]), q.body)
		for _, kv := range o.upstream {
			switch {
			case kv[1] == "org_b" || kv[1] == "inst_evil" || kv[1] == "v1,t=1,forged" || kv[1] == "anything":
				t.Errorf("spoofed header reached upstream: %s: %s", kv[0], kv[1])
			case kv[0] == "x-switchboard-platform" && kv[1] != "false":
				t.Errorf("platform = %s", kv[1])
			}
		}
		if header(o.upstream, "x-switchboard-org") != "org_a" {
			t.Errorf("org header %q", header(o.upstream, "x-switchboard-org"))
		}
		// The provider's other headers stay; its signature (a credential
		// proof, verified now) does not go upstream.
		if header(o.upstream, sign.HeaderSlackTimestamp) == "" {
			t.Error("provider timestamp header removed")
		}
		if header(o.upstream, sign.HeaderSlackSignature) != "" {
			t.Error("provider signature header forwarded")
		}
	})
}

// TestCredentialHeadersStripped: after verifying, the filter removes every
// provider credential header (Telegram's secret token, any Authorization,
// cookies, signatures) so ingest never sees a secret; other headers stay.
func TestCredentialHeadersStripped(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		tgHeaders, _ := sign.Telegram(telegramToken)
		q := req{path: hookPath("telegram", inTelegram), body: []byte(`{"update_id":7}`), headers: append(tgHeaders,
			[2]string{"authorization", "Bearer sbt_leaked"}, [2]string{"Proxy-Authorization", "Basic eDp5"},
			[2]string{"cookie", "session=s3cret"}, [2]string{"x_telegram_bot_api_secret_token", telegramToken},
			[2]string{"user-agent", "TelegramBot (like TwitterBot)"})}
		o := r.send(q)
		o.wantAccept(t, identity(in[inTelegram]), q.body)
		for _, kv := range o.upstream {
			if filter.IsCredentialHeader(kv[0]) || strings.Contains(kv[1], telegramToken) || strings.Contains(kv[1], "s3cret") || strings.Contains(kv[1], "sbt_leaked") {
				t.Errorf("credential reached upstream: %s: %s", kv[0], kv[1])
			}
		}
		if header(o.upstream, "user-agent") == "" {
			t.Error("non-credential header removed")
		}
	})
}

// TestMetaHandshakeAnsweredAtEdge: the GET verify handshake with the right
// token is answered by the edge itself with the challenge, not forwarded.
func TestMetaHandshakeAnsweredAtEdge(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		o := r.send(req{method: "GET", path: hookPath("whatsapp", inWhatsApp) + "?" + sign.MetaVerifyQuery(verifyToken, "1158201444")})
		if o.forwarded || o.local == nil {
			t.Fatalf("handshake not answered locally: %+v", o)
		}
		if o.local.StatusCode != 200 || string(o.local.Data) != "1158201444" {
			t.Fatalf("answer %d %q", o.local.StatusCode, o.local.Data)
		}
		wantCounter(t, r, metricResponded("whatsapp"), 1)
	})
}

// TestNoConfiguration: an empty configuration starts (Envoy must come up)
// but refuses every request with no_config.
func TestNoConfiguration(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		for _, cfg := range [][]byte{nil, []byte("  \n")} {
			r := h.start(t, cfg)
			if r.start != types.OnPluginStartStatusOK {
				t.Fatalf("start with empty configuration failed")
			}
			r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantReject(t, filter.ReasonNoConfig)
			r.send(req{method: "GET", path: "/"}).wantReject(t, filter.ReasonNoConfig)
			wantCounter(t, r, metricRejected("none", filter.ReasonNoConfig), 2)
			r.reset()
		}
	})
}

// TestBadConfigurationFailsStart: a configuration that does not parse or
// unseal fails plugin start (Envoy NACKs it) and the context refuses.
func TestBadConfigurationFailsStart(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		good, _ := fixture(t)
		otherKey := bytes.Repeat([]byte{0x33}, 32)
		for _, tc := range []struct {
			name string
			cfg  []byte
		}{
			{"not json", []byte("{not json")},
			{"unknown scheme", marshal(t, func() filter.Config {
				c, _ := fixture(t)
				c.Installations[0].Scheme = "rot13"
				return c
			}())},
			{"duplicate ingress id", marshal(t, func() filter.Config {
				c, _ := fixture(t)
				c.Installations[1].IngressID = c.Installations[0].IngressID
				return c
			}())},
			{"sealed under another edge key", marshal(t, func() filter.Config {
				c, _ := fixture(t)
				s, err := filter.Seal(otherKey, []byte("x"), filter.SealAAD(c.Installations[0].IngressID, "sec_new"))
				if err != nil {
					t.Fatal(err)
				}
				c.Installations[0].Secrets[1].Sealed = s
				return c
			}())},
			{"sealed for another ingress (moved secret)", marshal(t, func() filter.Config {
				c, _ := fixture(t)
				c.Installations[1].Secrets[0].Sealed = c.Installations[0].Secrets[1].Sealed
				return c
			}())},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := h.start(t, tc.cfg)
				if r.start != types.OnPluginStartStatusFailed {
					t.Fatal("plugin started with a bad configuration")
				}
				r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantReject(t, filter.ReasonNoConfig)
				r.reset()
			})
		}
		// The same good configuration starts: the failures above were the
		// configuration's, not the harness's.
		h.mustStart(t, marshal(t, good)).reset()
	})
}

// TestMissingOrBadKeysFailStart (Go code: the environment is the process's).
func TestMissingOrBadKeysFailStart(t *testing.T) {
	cfg, _ := fixture(t)
	data := marshal(t, cfg)
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct{ name, edge, att string }{
		{"no edge key", "", b64(attKey)},
		{"no attestation key", b64(edgeKey), ""},
		{"edge key not base64", "!!!", b64(attKey)},
		{"edge key short", b64(edgeKey[:16]), b64(attKey)},
		{"attestation key long", b64(edgeKey), b64(append(attKey, 1))},
		{"wrong edge key", b64(bytes.Repeat([]byte{0x33}, 32)), b64(attKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvEdgeKey, tc.edge)
			t.Setenv(EnvAttestationKey, tc.att)
			h := &harness{vm: &vmContext{}, now: now0}
			r := h.start(t, data)
			if r.start != types.OnPluginStartStatusFailed {
				t.Fatal("plugin started")
			}
			r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantReject(t, filter.ReasonNoConfig)
		})
	}
}

// TestKeysFromVMConfiguration: with no environment (the compiled module in
// the emulator) the keys may come from vm_config.configuration; a malformed
// VM configuration fails VM start.
func TestKeysFromVMConfiguration(t *testing.T) {
	t.Setenv(EnvEdgeKey, "")
	t.Setenv(EnvAttestationKey, "")
	cfg, in := fixture(t)
	h := &harness{vm: &vmContext{}, vmConfig: keyLines(edgeKey, attKey), now: now0}
	r := h.mustStart(t, marshal(t, cfg))
	q := slackReq(inSlackA, slackNew, now0, slackEvent)
	r.send(q).wantAccept(t, identity(in[inSlackA]), q.body)
	if len(r.host.GetWarnLogs()) == 0 {
		t.Error("no warning that keys came from the VM configuration")
	}
	r.reset()

	for _, bad := range []string{"SWITCHBOARD_EDGE_KEY", "OTHER=1", "=x"} {
		if _, err := parseKeyLines(bad); err == nil {
			t.Errorf("vm configuration %q accepted", bad)
		}
	}
}

// TestReconfigurationReplacesConfig: a new configuration in the same VM
// (Envoy creates a new plugin context) is the one in force: a revocation and
// a rotation take effect; a later bad configuration fails to start.
func TestReconfigurationReplacesConfig(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg1, in := fixture(t)
		q := slackReq(inSlackB, slackB, now0, slackEvent)
		r := h.mustStart(t, marshal(t, cfg1))
		r.send(q).wantAccept(t, identity(in[inSlackB]), q.body)
		r.reset()

		cfg2, _ := fixture(t, func(c *filter.Config) {
			c.Version = "v-test-2"
			c.Installations[inSlackB-1].Revoked = true
			// Rotate A: only a brand-new secret remains.
			a := &c.Installations[inSlackA-1]
			a.Secrets = nil
			signing(t, a, "sec_newer", "slack-a-newer-secret", 0, 0)
		})
		r = h.mustStart(t, marshal(t, cfg2))
		r.send(q).wantReject(t, filter.ReasonRevoked)
		r.send(slackReq(inSlackA, slackNew, now0, slackEvent)).wantReject(t, filter.ReasonBadSignature)
		qa := slackReq(inSlackA, "slack-a-newer-secret", now0, slackEvent)
		r.send(qa).wantAccept(t, identity(in[inSlackA]), qa.body)
		r.reset()

		r = h.start(t, []byte(`{"version":"v3","installations":[{"ingress_id":"short"}]}`))
		if r.start != types.OnPluginStartStatusFailed {
			t.Fatal("bad reconfiguration started")
		}
	})
}

// TestHeldUntilVerdict: with a body, nothing continues before end of stream
// (the request is held at the headers), for accepted and refused requests.
func TestHeldUntilVerdict(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, _ := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		host := r.host
		q := slackReq(inSlackA, slackNew, now0, slackEvent)
		id := host.InitializeHttpContext()
		hs := append([][2]string{{":method", "POST"}, {":path", q.path}, {":authority", "h"}, {":scheme", "https"}}, q.headers...)
		if a := host.CallOnRequestHeaders(id, hs, false); a != types.ActionPause {
			t.Fatalf("headers action %v, want pause", a)
		}
		if a := host.CallOnRequestBody(id, q.body[:10], false); a != types.ActionPause {
			t.Fatalf("first body frame action %v, want pause", a)
		}
		if a := host.CallOnRequestBody(id, q.body[10:], true); a != types.ActionContinue {
			t.Fatalf("last frame action %v, want continue; local %+v", a, host.GetSentLocalResponse(id))
		}
		r.complete(id)
	})
}

func counter(r *run, name string) uint64 {
	v, err := r.host.GetCounterMetric(name)
	if err != nil {
		return 0
	}
	return v
}

func wantCounter(t *testing.T, r *run, name string, want uint64) {
	t.Helper()
	v, err := r.host.GetCounterMetric(name)
	if err != nil {
		t.Errorf("counter %s: %v", name, err)
		return
	}
	if v != want {
		t.Errorf("counter %s = %d, want %d", name, v, want)
	}
}

func noSecretInLogs(t *testing.T, r *run) {
	t.Helper()
	var logs []string
	logs = append(logs, r.host.GetTraceLogs()...)
	logs = append(logs, r.host.GetDebugLogs()...)
	logs = append(logs, r.host.GetInfoLogs()...)
	logs = append(logs, r.host.GetWarnLogs()...)
	logs = append(logs, r.host.GetErrorLogs()...)
	logs = append(logs, r.host.GetCriticalLogs()...)
	if len(logs) == 0 {
		t.Error("no log lines at all: decisions are not logged")
	}
	for _, l := range logs {
		for _, s := range allSecrets {
			if strings.Contains(l, s) {
				t.Errorf("log line contains a secret: %s", l)
			}
		}
	}
}

// TestBodyEndedByTrailers: a body whose end is signalled by trailers (no end
// of stream on the last body frame) is verified over the whole body: a signed
// one goes upstream, a forged or altered one is refused, never forwarded.
func TestBodyEndedByTrailers(t *testing.T) {
	eachVM(t, func(t *testing.T, h *harness) {
		cfg, in := fixture(t)
		r := h.mustStart(t, marshal(t, cfg))
		send := func(q req) (types.Action, outcome) {
			host := r.host
			id := host.InitializeHttpContext()
			defer r.complete(id)
			hs := append([][2]string{{":method", "POST"}, {":path", q.path}, {":authority", "hooks.example.com"}, {":scheme", "https"}}, q.headers...)
			var o outcome
			if act := host.CallOnRequestHeaders(id, hs, false); act == types.ActionContinue {
				o.leaked = true
			}
			half := len(q.body) / 2
			for _, part := range [][]byte{q.body[:half], q.body[half:]} {
				if act := host.CallOnRequestBody(id, part, false); act == types.ActionContinue {
					o.leaked = true
				}
			}
			act := host.CallOnRequestTrailers(id, [][2]string{{"x-trailer", "1"}})
			o.local = host.GetSentLocalResponse(id)
			o.forwarded = o.local == nil && act == types.ActionContinue
			o.upstream = host.GetCurrentRequestHeaders(id)
			return act, o
		}
		good := slackReq(inSlackA, slackNew, now0, slackEvent)
		_, o := send(good)
		o.wantAccept(t, identity(in[inSlackA]), good.body)

		altered := slackReq(inSlackA, slackNew, now0, slackEvent)
		altered.body = []byte(strings.Replace(slackEvent, "Ev1", "Ev9", 1))
		_, o = send(altered)
		o.wantReject(t, filter.ReasonBadSignature)
	})
}
