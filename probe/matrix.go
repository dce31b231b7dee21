package probe

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/testevent"
)

// MatrixOptions are the parts of the matrix the harness cannot make itself.
type MatrixOptions struct {
	// Ingest is ingest's base URL for the unattested-straight-to-ingest case
	// ("": the case is observed not_applicable, which keeps the report red).
	Ingest string
	// PlatformIngress and PlatformCred are a platform (shared) profile of the
	// provider and its signing credentials, for the platform-secret-on-BYOA
	// case and its reverse ("": not applicable; a probe never creates a
	// platform profile, which tenants would see).
	PlatformIngress string
	PlatformCred    *testevent.Credentials
	// Settle is how long to wait, after the controls arrived, for anything
	// that should not arrive [2s]; Deliver bounds the wait for the controls [20s].
	Settle, Deliver time.Duration
	// MaxBody is the edge's body limit the oversized case exceeds [1 MiB].
	MaxBody int
	Now     func() time.Time
}

// timestamped are the schemes whose signature covers a timestamp.
var timestamped = map[string]bool{"slack": true, "discord": true, "standardwebhooks": true}

// signatureHeaders are removed for the missing-signature case.
var signatureHeaders = map[string]bool{"x-slack-signature": true, "x-hub-signature-256": true, "x-telegram-bot-api-secret-token": true,
	"x-signature-ed25519": true, "webhook-signature": true, "x-twilio-signature": true, "x-line-signature": true}

type matrixSend struct {
	name, expected string
	marker         string // text the agent would receive; "" for none
	signed         *Signed
	wantOrg        string // delivered cases: the org the delivery must be for
	na             string // not applicable: why
	answer         Answer
	err            error
}

// RunMatrix sends every case of rollout.MatrixCases through the edge (and
// ingest) of h's deployment and reads the probe agent to see what arrived.
// h needs at least two tenants.
func RunMatrix(ctx context.Context, h *Harness, o MatrixOptions) (rollout.MatrixReport, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Deliver <= 0 {
		o.Deliver = 20 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	rep := rollout.MatrixReport{Provider: h.cfg.Provider, StartedAt: o.Now().UTC(), Edge: h.cfg.Edge}
	if len(h.Installs) < 2 {
		return rep, fmt.Errorf("the matrix needs two probe tenants, have %d", len(h.Installs))
	}
	a, b := h.Installs[0], h.Installs[1]
	prov := h.cfg.Provider
	// Setup that needs the API: a revoked installation, a rotated secret.
	revoked, err := h.Extra(ctx)
	if err != nil {
		return rep, err
	}
	if _, err := h.cfg.API.RevokeInstallation(ctx, revoked.ID); err != nil {
		return rep, fmt.Errorf("revoke probe installation: %w", err)
	}
	b, oldB, until, err := h.Rotate(ctx, b)
	if err != nil {
		return rep, err
	}
	h.Installs[1] = b
	if err := h.WaitReady(ctx, 30*time.Second); err != nil {
		return rep, err
	}
	// The old secret of b must have ended at the edge's clock.
	if d := time.Until(until.Add(1100 * time.Millisecond)); d > 0 {
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(d):
		}
	}
	run := randHex(4)
	mark := func(name string) string { return "sbmatrix-" + run + "-" + name }
	now := o.Now()
	sign := func(base string, in Install, text string, at time.Time, cred testevent.Credentials) *Signed {
		s, err := Sign(base, in, in.Event(text, at), cred)
		if err != nil {
			return nil
		}
		return &s
	}
	var cases []*matrixSend
	add := func(c *matrixSend) { cases = append(cases, c) }
	control := sign(h.cfg.Edge, a, mark("valid_control"), now, a.Cred)
	add(&matrixSend{name: "valid_control", expected: rollout.OutcomeDelivered, marker: mark("valid_control"), signed: control, wantOrg: a.Org})
	add(&matrixSend{name: "valid_control_second", expected: rollout.OutcomeDelivered, marker: mark("valid_control_second"),
		signed: sign(h.cfg.Edge, b, mark("valid_control_second"), now, b.Cred), wantOrg: b.Org})
	add(&matrixSend{name: "forged_signature", expected: rollout.OutcomeRefused, marker: mark("forged_signature"),
		signed: sign(h.cfg.Edge, a, mark("forged_signature"), now, testevent.Forge(prov, a.Cred))})
	missing := sign(h.cfg.Edge, a, mark("missing_signature"), now, a.Cred)
	if missing != nil {
		var kept [][2]string
		for _, hd := range missing.Headers {
			if !signatureHeaders[strings.ToLower(hd[0])] {
				kept = append(kept, hd)
			}
		}
		missing.Headers = kept
	}
	add(&matrixSend{name: "missing_signature", expected: rollout.OutcomeRefused, marker: mark("missing_signature"), signed: missing})
	for _, tc := range []struct {
		name string
		at   time.Time
	}{{"stale_timestamp", now.Add(-10 * time.Minute)}, {"future_timestamp", now.Add(10 * time.Minute)}} {
		c := &matrixSend{name: tc.name, expected: rollout.OutcomeRefused, marker: mark(tc.name)}
		if timestamped[prov] {
			c.signed = sign(h.cfg.Edge, a, mark(tc.name), tc.at, a.Cred)
		} else {
			c.na = prov + "'s signature covers no timestamp"
		}
		add(c)
	}
	add(&matrixSend{name: "replayed", expected: rollout.OutcomeNotDelivered, marker: mark("valid_control"), signed: control})
	add(&matrixSend{name: "cross_tenant", expected: rollout.OutcomeRefused, marker: mark("cross_tenant"),
		signed: sign(h.cfg.Edge, b, mark("cross_tenant"), now, a.Cred)})
	add(&matrixSend{name: "rotated_out_secret", expected: rollout.OutcomeRefused, marker: mark("rotated_out_secret"),
		signed: sign(h.cfg.Edge, b, mark("rotated_out_secret"), now, oldB)})
	add(&matrixSend{name: "revoked_installation", expected: rollout.OutcomeRefused, marker: mark("revoked_installation"),
		signed: sign(h.cfg.Edge, revoked, mark("revoked_installation"), now, revoked.Cred)})
	platOnBYOA := &matrixSend{name: "platform_secret_on_byoa", expected: rollout.OutcomeRefused, marker: mark("platform_secret_on_byoa")}
	byoaOnPlat := &matrixSend{name: "byoa_secret_on_platform", expected: rollout.OutcomeRefused, marker: mark("byoa_secret_on_platform")}
	if o.PlatformIngress != "" && o.PlatformCred != nil {
		platOnBYOA.signed = sign(h.cfg.Edge, a, mark("platform_secret_on_byoa"), now, *o.PlatformCred)
		plat := a
		plat.Ingress = o.PlatformIngress
		byoaOnPlat.signed = sign(h.cfg.Edge, plat, mark("byoa_secret_on_platform"), now, a.Cred)
	} else {
		platOnBYOA.na = "no platform profile given (--platform-profile)"
		byoaOnPlat.na = platOnBYOA.na
	}
	add(platOnBYOA)
	add(byoaOnPlat)
	spoof := sign(h.cfg.Edge, a, mark("header_spoofing"), now, a.Cred)
	if spoof != nil {
		spoof.Headers = append(spoof.Headers, [2]string{"X-Switchboard-Org", b.Org}, [2]string{"X-Switchboard-Installation", b.ID},
			[2]string{"X-Switchboard-Ingress", b.Ingress}, [2]string{"X_Switchboard_Org", b.Org}, [2]string{"X-Switchboard-Attestation", "v1,t=1,AAAA"})
	}
	add(&matrixSend{name: "header_spoofing", expected: rollout.OutcomeDelivered, marker: mark("header_spoofing"), signed: spoof, wantOrg: a.Org})
	unatt := &matrixSend{name: "unattested_to_ingest", expected: rollout.OutcomeRefused, marker: mark("unattested_to_ingest")}
	if o.Ingest != "" {
		unatt.signed = sign(o.Ingest, a, mark("unattested_to_ingest"), now, a.Cred)
	} else {
		unatt.na = "no ingest address given (--ingest)"
	}
	add(unatt)
	big := mark("oversized") + " " + strings.Repeat("x", o.MaxBody+1024)
	add(&matrixSend{name: "oversized", expected: rollout.OutcomeRefused, marker: big, signed: sign(h.cfg.Edge, a, big, now, a.Cred)})
	malformed := &matrixSend{name: "malformed", expected: rollout.OutcomeRefused}
	if s, err := testevent.Sign(prov, strings.TrimRight(h.cfg.Edge, "/")+a.Path(), []byte(`{"not":"an event`), "application/json", a.Cred, now); err == nil {
		malformed.signed = &s
	}
	add(malformed)

	// Send, in order (the replay after its original).
	for _, c := range cases {
		if c.signed == nil || c.na != "" {
			continue
		}
		c.answer, c.err = h.Send(ctx, *c.signed)
	}
	// Wait for the controls, then a while for anything that should not come.
	deadline := time.Now().Add(o.Deliver)
	for {
		d := h.Deliveries()
		if len(d[mark("valid_control")]) > 0 && len(d[mark("valid_control_second")]) > 0 && len(d[mark("header_spoofing")]) > 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return rep, ctx.Err()
	case <-time.After(o.Settle):
	}
	got := h.Deliveries()
	for _, c := range cases {
		mc := rollout.MatrixCase{Name: c.name, Expected: c.expected, Status: c.answer.Status, Reason: c.answer.Reason}
		n := 0
		var orgs []string
		if c.marker != "" {
			for _, d := range got[Marker(c.marker)] {
				n++
				orgs = append(orgs, d.Envelope.OrgID)
			}
		}
		switch {
		case c.na != "":
			mc.Observed, mc.Reason = rollout.OutcomeNotApplicable, c.na
		case c.signed == nil:
			mc.Observed, mc.Reason = "error", "could not build the request"
		case c.err != nil:
			mc.Observed, mc.Reason = "error", c.err.Error()
		case c.name == "replayed":
			// The original was delivered once; the replay must not be delivered again.
			if n <= 1 {
				mc.Observed = rollout.OutcomeNotDelivered
			} else {
				mc.Observed, mc.Reason = "delivered_twice", fmt.Sprintf("%d deliveries of one event; answered %d %s", n, c.answer.Status, c.answer.Reason)
			}
		case c.expected == rollout.OutcomeDelivered:
			switch {
			case c.answer.Status/100 != 2:
				mc.Observed = rollout.OutcomeRefused
			case n == 0:
				mc.Observed = "accepted_not_delivered"
			case !allEqual(orgs, c.wantOrg):
				mc.Observed, mc.Reason = "misattributed", fmt.Sprintf("delivered for %v, sent as %s", orgs, c.wantOrg)
			default:
				mc.Observed = rollout.OutcomeDelivered
			}
		default: // refused expected
			switch {
			case n > 0:
				mc.Observed = "delivered"
			case c.answer.Status/100 == 2:
				mc.Observed = rollout.OutcomeAccepted
			default:
				mc.Observed = rollout.OutcomeRefused
			}
		}
		mc.Pass = mc.Observed == mc.Expected || mc.Observed == rollout.OutcomeNotApplicable
		rep.Cases = append(rep.Cases, mc)
	}
	rep.FinishedAt = o.Now().UTC()
	return rep, nil
}

func allEqual(l []string, v string) bool {
	for _, x := range l {
		if x != v {
			return false
		}
	}
	return true
}

// EdgeConfigVersion reads the configuration version the edge nodes
// acknowledged from the control plane's /v1/xds/status ("" when none).
func EdgeConfigVersion(ctx context.Context, h *Harness) string {
	var st struct {
		Latest string `json:"latest_version"`
		Nodes  []struct {
			Acked string `json:"acked_version"`
		} `json:"nodes"`
	}
	if err := h.cfg.API.Do(ctx, http.MethodGet, "/v1/xds/status", nil, &st); err != nil {
		return ""
	}
	var acked []string
	for _, n := range st.Nodes {
		if n.Acked != "" {
			acked = append(acked, n.Acked)
		}
	}
	if len(acked) > 0 {
		return strings.Join(uniq(acked), ",")
	}
	return st.Latest
}

func uniq(l []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
