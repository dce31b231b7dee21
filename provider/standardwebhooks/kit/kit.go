// Package kit is the Standard Webhooks conformance kit (see provider/conformance).
package kit

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/filter/sign"
	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/standardwebhooks"
)

func init() { conformance.Register(Kit{}) }

// Kit is the Standard Webhooks kit.
type Kit struct{}

func (Kit) Provider() string  { return standardwebhooks.Name }
func (Kit) GoldenDir() string { return conformance.Testdata() }

// The published example secret of the specification and the receiver's reply secret.
const (
	DocSecret   = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ReplySecret = "whsec_c2Vjb25kLXNlY3JldC1mb3ItdGVzdHMtb25seQ=="
)

// Vectors: the specification's example (id msg_p5jXN8AQM9LWM0D4loKWxJek,
// timestamp 1614265330, body {"test": 2432232314}), with a rotation header
// carrying two signatures, and the same request stale, altered or unsigned.
func (Kit) Vectors() []conformance.Vector {
	path := "/v1/hooks/standardwebhooks/" + conformance.Ingress
	const (
		id   = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts   = 1614265330
		body = `{"test": 2432232314}`
		sig  = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	req := func(sigs, b string) filter.Request {
		h := [][2]string{{"Content-Type", "application/json"}, {"webhook-id", id}, {"webhook-timestamp", strconv.Itoa(ts)}}
		if sigs != "" {
			h = append(h, [2]string{"webhook-signature", sigs})
		}
		return filter.Request{Method: "POST", Scheme: "https", Host: "edge.example", Path: path, Headers: h, Body: []byte(b)}
	}
	sec := map[string]string{"signing": DocSecret}
	return []conformance.Vector{
		{Name: "specification example", Secrets: sec, Request: req(sig, body), Now: ts, Accept: true},
		{Name: "rotation: any signature passes", Secrets: sec, Request: req("v1,Zm9yZ2VkLXNpZ25hdHVyZS1mb3ItdGVzdHMtMDAwMDA= "+sig, body), Now: ts, Accept: true},
		{Name: "body changed", Secrets: sec, Request: req(sig, `{"test": 2432232315}`), Now: ts, Reason: filter.ReasonBadSignature},
		{Name: "stale", Secrets: sec, Request: req(sig, body), Now: ts + 301, Reason: filter.ReasonStaleTimestamp},
		{Name: "no signature", Secrets: sec, Request: req("", body), Now: ts, Reason: filter.ReasonMissingSignature},
	}
}

// FakeAPI is a receiver following the specification: it verifies the
// webhook-id, webhook-timestamp and webhook-signature headers with
// ReplySecret (400 when they do not verify), answers 204, and 429 with
// Retry-After: 30 for the conversation "slow".
func (Kit) FakeAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/replies" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		id := r.Header.Get("webhook-id")
		if err != nil || id == "" {
			http.Error(w, "missing headers", http.StatusBadRequest)
			return
		}
		want, err := sign.StandardWebhooksSignature(ReplySecret, id, ts, body)
		if err != nil || !strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+want+" ") {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var m struct {
			Type string `json:"type"`
			Data struct {
				Conversation string `json:"conversation"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &m) != nil || m.Type != standardwebhooks.ReplyType {
			http.Error(w, "not a reply", http.StatusBadRequest)
			return
		}
		if m.Data.Conversation == "slow" {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// replyURL is rewritten to the fake's address by NewSender's transport.
const replyURL = "http://receiver.invalid/replies"

func (Kit) NewSender(base string) conformance.TextSender {
	return standardwebhooks.NewSender(&http.Client{Transport: rewrite{base: base}})
}

// rewrite sends every request to base (the fake) instead of its host.
type rewrite struct{ base string }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	c := r.Clone(r.Context())
	u := *r.URL
	u.Scheme, u.Host = "http", strings.TrimPrefix(rw.base, "http://")
	c.URL, c.Host = &u, u.Host
	return http.DefaultTransport.RoundTrip(c)
}

func (Kit) GoodReply() provider.Reply {
	return provider.Reply{Token: ReplySecret, Conversation: "support-room", EventID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		Settings: map[string]string{standardwebhooks.SettingConversation: "/data/channel", standardwebhooks.SettingReplyURL: replyURL}}
}

func (k Kit) RateLimitedReply() provider.Reply {
	r := k.GoodReply()
	r.Conversation = "slow"
	return r
}

func (Kit) Limit() conformance.Limit {
	return conformance.Limit{Max: standardwebhooks.MaxText, Unit: "bytes", Over: conformance.Refuse}
}

func (Kit) RateLimitWait() time.Duration { return 30 * time.Second }

// Texts reads data.text of a reply.
func (Kit) Texts(r *conformance.Recorded) []string {
	var m struct {
		Data struct {
			Text string `json:"text"`
		} `json:"data"`
	}
	if json.Unmarshal(r.Body, &m) != nil || m.Data.Text == "" {
		return nil
	}
	return []string{m.Data.Text}
}

// UninstallCase: the uninstall requirement (docs/revocation.md).
func (Kit) UninstallCase() conformance.UninstallCase {
	return conformance.UninstallCase{None: "Standard Webhooks, a generic channel, defines no uninstall event"}
}
