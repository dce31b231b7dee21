package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/provider/setup"
	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/testevent"
)

// EdgeIngress is what one connected edge node runs for an ingress id (see
// xds.Controller.IngressOnNodes).
type EdgeIngress struct {
	Node         string `json:"node"`
	Group        string `json:"group"`
	AckedVersion string `json:"acked_version"`
	Present      bool   `json:"present"`
	Revoked      bool   `json:"revoked"`
	Secrets      int    `json:"secrets"`
}

// SetEdgeView gives the health check the control plane's view of the
// connected edge nodes (serve's xDS part sets it).
func (s *Server) SetEdgeView(f func(ingressID string) []EdgeIngress) { s.edgeView = f }

// Health check statuses.
const (
	CheckPass = "pass"
	CheckFail = "fail"
	CheckSkip = "skip" // cannot be checked for this provider or setup
)

type healthCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	OK     bool   `json:"ok"` // pass or skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	Data   any    `json:"data,omitempty"`
}

type healthView struct {
	InstallationID string        `json:"installation_id"`
	Provider       string        `json:"provider"`
	OK             bool          `json:"ok"` // no check failed
	Checks         []healthCheck `json:"checks"`
}

func pass(name, detail string, data any) healthCheck {
	return healthCheck{Name: name, Status: CheckPass, OK: true, Detail: detail, Data: data}
}
func fail(name, detail, fix string, data any) healthCheck {
	return healthCheck{Name: name, Status: CheckFail, Detail: detail, Fix: fix, Data: data}
}
func skip(name, detail string) healthCheck {
	return healthCheck{Name: name, Status: CheckSkip, OK: true, Detail: detail}
}

// healthWindow is how far back recent refusals are counted.
const healthWindow = 24 * time.Hour

// health runs every check of an installation; each names its fix.
func (s *Server) health(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	i, err := visibleInstallation(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	pr, err := s.store.GetProfile(ctx, i.ProfileID)
	if err != nil {
		return fmt.Errorf("load profile: %w", err)
	}
	v := healthView{InstallationID: i.ID, Provider: i.Provider}
	if i.RevokedAt != nil {
		v.Checks = append(v.Checks, fail("installation", "the installation is revoked", "connect it again: POST /v1/installations", nil))
	}
	v.Checks = append(v.Checks, s.checkEdge(i), s.checkRegistration(ctx, i), s.checkSecrets(ctx, i, pr))
	stage, err := s.checkStage(ctx, i)
	if err != nil {
		return err
	}
	v.Checks = append(v.Checks, stage)
	b, err := s.checkBindings(ctx, i)
	if err != nil {
		return err
	}
	v.Checks = append(v.Checks, b, s.checkSelfTest(ctx, i, pr))
	rejects, err := s.installationEvents(ctx, i, "webhook.reject", s.now().Add(-healthWindow))
	if err != nil {
		return err
	}
	quar, err := s.checkQuarantine(ctx, i, rejects)
	if err != nil {
		return err
	}
	v.Checks = append(v.Checks, checkRefusals(rejects), quar)
	v.OK = true
	for _, c := range v.Checks {
		v.OK = v.OK && c.OK
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// checkEdge: every connected edge node has the installation in the
// configuration it ACKed.
func (s *Server) checkEdge(i store.Installation) healthCheck {
	const name = "edge_config"
	if s.edgeView == nil {
		return skip(name, "this API runs without the xDS server (serve runs both): edge nodes cannot be listed")
	}
	nodes := s.edgeView(i.IngressID)
	if len(nodes) == 0 {
		return fail(name, "no edge node is connected to the control plane", "start an edge (switchboard edge --xds …, or switchboard up) and point it at this control plane's xDS address", nodes)
	}
	var missing []string
	for _, n := range nodes {
		switch {
		case !n.Present:
			missing = append(missing, n.Node+" (ACKed "+orNone(n.AckedVersion)+" lacks it)")
		case n.Revoked != (i.RevokedAt != nil):
			missing = append(missing, n.Node+" (runs a version where its revocation differs)")
		}
	}
	if len(missing) > 0 {
		return fail(name, "not in the ACKed configuration of: "+strings.Join(missing, ", "),
			"wait for the nodes to ACK the latest version (GET /v1/xds/status shows NACKs and held groups); a held or pinned node group gets additions only when promoted (PUT /v1/xds/groups/{group})", nodes)
	}
	return pass(name, fmt.Sprintf("in the ACKed configuration of all %d connected edge nodes", len(nodes)), nodes)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// checkRegistration: what the provider has matches (Telegram
// getWebhookInfo, Slack auth.test, Discord's application).
func (s *Server) checkRegistration(ctx context.Context, i store.Installation) healthCheck {
	const name = "provider_registration"
	rp, ok := registration.Get(i.Provider)
	if !ok || rp.Check == nil {
		return skip(name, i.Provider+" has no API to read the registration back; the setup packet lists what to enter")
	}
	if s.publicURL == "" {
		return skip(name, "serve runs without --public-url: the registered URL cannot be compared")
	}
	req, err := s.registrationRequest(ctx, i, rp.Needs, nil)
	if err != nil {
		return fail(name, "cannot open the installation's credentials", "check the master keys (switchboard secrets)", nil)
	}
	cctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	res, err := rp.Check(cctx, req)
	if err != nil {
		var ms *registration.MissingSecretError
		if errors.As(err, &ms) {
			return fail(name, err.Error(), "store the "+ms.Purpose+" secret: POST /v1/installations/"+i.ID+"/secrets/"+ms.Purpose+"/rotate", nil)
		}
		return fail(name, "the provider's API did not answer: "+err.Error(), "retry; check --"+i.Provider+"-api and the network", nil)
	}
	var details []string
	for _, st := range res.Steps {
		details = append(details, st.Name+": "+st.Detail)
	}
	if !res.OK {
		return fail(name, strings.Join(details, "; "), res.Fix, res.Info)
	}
	return pass(name, strings.Join(details, "; "), res.Info)
}

// checkSecrets: the verification secret is valid now, and when it (or any
// current secret) expires or should be rotated.
func (s *Server) checkSecrets(ctx context.Context, i store.Installation, pr store.AppProfile) healthCheck {
	const name = "secrets"
	now := s.now()
	own, err := s.store.ListSecrets(ctx, store.OwnerInstallation, i.ID)
	if err != nil {
		return fail(name, "cannot list secrets", "", nil)
	}
	var prof []store.Secret
	if pr.OwnerOrgID == i.OrgID || pr.OwnerOrgID == store.OwnerPlatform {
		prof, _ = s.store.ListSecrets(ctx, store.OwnerProfile, pr.ID)
	}
	need := requiredVerifySecret[i.Provider]
	owner := "installation"
	cur := currentSecret(own, need, now)
	if cur == nil {
		owner, cur = "profile", currentSecret(prof, need, now)
	}
	type secretState struct {
		Owner       string     `json:"owner"`
		Purpose     string     `json:"purpose"`
		Fingerprint string     `json:"fingerprint"`
		NotAfter    *time.Time `json:"not_after,omitempty"`
		RotateBy    string     `json:"rotate_by"`
	}
	var states []secretState
	var problems []string
	add := func(ownerKind string, ss []store.Secret) {
		for _, sec := range ss {
			if sec.NotAfter != nil && !now.Before(*sec.NotAfter) {
				continue
			}
			st := secretState{Owner: ownerKind, Purpose: sec.Purpose, Fingerprint: sec.Fingerprint, NotAfter: sec.NotAfter,
				RotateBy: sec.NotBefore.Add(setup.RotationInterval).UTC().Format("2006-01-02")}
			states = append(states, st)
			if sec.NotAfter != nil && currentSecret(ss, sec.Purpose, *sec.NotAfter) == nil {
				problems = append(problems, fmt.Sprintf("%s %s %s expires %s and nothing replaces it", ownerKind, sec.Purpose, sec.Fingerprint, sec.NotAfter.UTC().Format(time.RFC3339)))
			}
			if now.After(sec.NotBefore.Add(setup.RotationInterval)) && sec.NotAfter == nil {
				problems = append(problems, fmt.Sprintf("%s %s %s was due for rotation on %s", ownerKind, sec.Purpose, sec.Fingerprint, st.RotateBy))
			}
		}
	}
	add("installation", own)
	if pr.OwnerOrgID != store.OwnerPlatform {
		add("profile", prof)
	}
	if cur == nil {
		return fail(name, fmt.Sprintf("no %s secret is valid now: the edge refuses every request (no_valid_secret)", need),
			fmt.Sprintf("store it: POST /v1/installations/%s/secrets/%s/rotate (or on the profile)", i.ID, need), states)
	}
	if len(problems) > 0 {
		return fail(name, strings.Join(problems, "; "), "rotate: POST /v1/"+owner+"s/…/secrets/{purpose}/rotate with a new value (see the packet's rotation checklist)", states)
	}
	return pass(name, fmt.Sprintf("%s secret %s (%s) is valid now", need, cur.Fingerprint, owner), states)
}

func (s *Server) checkStage(ctx context.Context, i store.Installation) (healthCheck, error) {
	const name = "rollout_stage"
	st, err := s.store.GetStage(ctx, i.Provider)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st = store.RolloutStage{Provider: i.Provider} // stages are explicit: none means not served
	case err != nil:
		return healthCheck{}, fmt.Errorf("get stage: %w", err)
	}
	v := stageVerdict(st, i.OrgID)
	if !v.LetsThrough {
		return fail(name, v.Reason, "the platform admin sets the stage: PUT /v1/providers/"+i.Provider+"/stage (on, or canary with this org; switchboard rollout)", nil), nil
	}
	return pass(name, v.Reason, nil), nil
}

func (s *Server) checkBindings(ctx context.Context, i store.Installation) (healthCheck, error) {
	const name = "bindings"
	bs, err := s.store.ListBindings(ctx, i.ID)
	if err != nil {
		return healthCheck{}, fmt.Errorf("list bindings: %w", err)
	}
	n := 0
	for _, b := range bs {
		if b.RevokedAt == nil {
			n++
		}
	}
	if n == 0 {
		return fail(name, "no live binding: every event is acknowledged and delivered to no agent (no_binding)",
			`bind it: POST /v1/bindings {"installation_id":"`+i.ID+`","agent_id":…} (POST /v1/simulate shows what a message would match)`, nil), nil
	}
	return pass(name, fmt.Sprintf("%d live binding(s)", n), nil), nil
}

// checkSelfTest signs a request the provider would send that delivers
// nothing (a handshake or an ignored update) with the installation's secret
// and sends it through the edge: its answer shows it reached ingest.
func (s *Server) checkSelfTest(ctx context.Context, i store.Installation, pr store.AppProfile) healthCheck {
	const name = "self_test"
	base := s.edgeURL
	if base == "" {
		base = s.publicURL
	}
	if base == "" {
		return skip(name, "serve runs without --public-url (or --edge-url): the edge's address is unknown")
	}
	target := base + WebhookPath(i.Provider, i.IngressID)
	need := requiredVerifySecret[i.Provider]
	creds, err := s.credentials(ctx, i, pr, []string{need})
	if err != nil || creds[need] == "" {
		return fail(name, "no "+need+" secret to sign the self-test with", "store it (see the secrets check)", nil)
	}
	secret := creds[need]
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	challenge := "sb-selftest-" + hex.EncodeToString(nonce)
	var body []byte
	var hdr [][2]string
	method, ct := http.MethodPost, "application/json"
	expect := func(status int, b []byte) bool { return status == http.StatusOK }
	reaches := "ingest acknowledged it"
	switch i.Provider {
	case "slack":
		body = []byte(`{"token":"selftest","challenge":"` + challenge + `","type":"url_verification"}`)
		expect = func(status int, b []byte) bool { return status == 200 && bytes.Contains(b, []byte(challenge)) }
		reaches = "ingest answered the url_verification challenge"
	case "telegram":
		body = []byte(`{"update_id":1,"edited_message":{"message_id":1,"from":{"id":1,"is_bot":false},"chat":{"id":1,"type":"private"},"date":1,"edit_date":1,"text":"switchboard self-test"}}`)
		reaches = "ingest acknowledged an edited_message update (delivered to no agent)"
	case "line":
		body = []byte(`{"destination":"U00000000000000000000000000000000","events":[]}`)
		reaches = "ingest acknowledged an empty events list (LINE's webhook verification)"
	case "github":
		body = []byte(`{"zen":"switchboard self-test","hook_id":1}`)
		hdr = append(hdr, [2]string{"X-GitHub-Event", "ping"})
		reaches = "ingest acknowledged a ping"
	case "whatsapp", "messenger", "instagram":
		method = http.MethodGet
		q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {secret}, "hub.challenge": {challenge}}
		target += "?" + q.Encode()
		expect = func(status int, b []byte) bool { return status == 200 && string(bytes.TrimSpace(b)) == challenge }
		reaches = "the edge answered Meta's verification handshake (it never reaches ingest)"
	default:
		return skip(name, i.Provider+" has no request that delivers nothing; send one with switchboard send-test and watch the agent")
	}
	var req *http.Request
	if method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, method, target, nil)
	} else {
		signed, serr := testevent.Sign(i.Provider, target, body, ct, testevent.Credentials{Secret: secret}, s.now())
		if serr != nil {
			return fail(name, "cannot sign the self-test: "+serr.Error(), "", nil)
		}
		req, err = http.NewRequestWithContext(ctx, method, signed.URL, bytes.NewReader(signed.Body))
		if err == nil {
			for _, h := range append(signed.Headers, hdr...) {
				req.Header.Set(h[0], h[1])
			}
		}
	}
	if err != nil {
		return fail(name, "cannot build the self-test request", "", nil)
	}
	hc := s.providerAPIs.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(name, "the edge did not answer at "+base+": "+err.Error(), "start the edge (switchboard edge, or up) and check --public-url / --edge-url", nil)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if expect(resp.StatusCode, b) {
		return pass(name, "signed self-test through "+base+": "+reaches, nil)
	}
	var refusal struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &refusal)
	detail := fmt.Sprintf("the self-test was answered %d", resp.StatusCode)
	if refusal.Error != "" {
		detail += " " + refusal.Error
	}
	return fail(name, detail, refusalFix(refusal.Error), nil)
}

// refusalFix says what to do about a refusal reason (edge or ingest).
func refusalFix(reason string) string {
	switch reason {
	case "unknown_ingress", "no_config":
		return "the edge does not have the installation yet: see the edge_config check"
	case "bad_signature", "missing_signature", "no_valid_secret", "bad_verify_token":
		return "the provider signs with a secret the edge does not have: store the provider's current secret (see the packet's paste-back list)"
	case "stale_timestamp", "bad_timestamp":
		return "the clocks of the provider (or the sender) and the edge differ: check NTP on the edge hosts"
	case "revoked":
		return "the installation, its profile or its org is revoked"
	case "provider_off", "provider_canary":
		return "see the rollout_stage check"
	case "tenant_mismatch", "unknown_installation", "identity_mismatch":
		return "the body names another workspace / account than the installation's external_id: check external_id"
	case "quarantined":
		return "the edge quarantined the ingress id after a flood of refused requests: see the quarantine check"
	case "store_unavailable", "queue_unavailable":
		return "ingest's store or Redis is unavailable: check ingest's logs"
	}
	return "see the edge's and ingest's logs for the request"
}

// checkRefusals counts the installation's webhook refusals of the last day
// by reason, from its webhook.reject audit events (an edge's row stands for
// its count).
func checkRefusals(rejects []store.AuditEvent) healthCheck {
	const name = "recent_refusals"
	counts := map[string]int{}
	for _, e := range rejects {
		r, _ := parseRow(e.Detail)
		counts[r.Reason] += int(refusalCount(r))
	}
	if len(counts) == 0 {
		return pass(name, "no webhook refused in the last 24 hours", map[string]int{})
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(a, b int) bool {
		return counts[reasons[a]] > counts[reasons[b]] || counts[reasons[a]] == counts[reasons[b]] && reasons[a] < reasons[b]
	})
	var parts, fixes []string
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%s ×%d", r, counts[r]))
		fixes = append(fixes, r+": "+refusalFix(r))
	}
	return fail(name, "refused in the last 24 hours: "+strings.Join(parts, ", "), strings.Join(fixes, "; "), counts)
}
