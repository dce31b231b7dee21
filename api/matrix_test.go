package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// mctx is one cell of the matrix: target objects live in org o; home is the
// caller's own organisation (A1 for every caller).
type mctx struct {
	h    *harness
	f    *fixture
	o    *orgObjs
	home *orgObjs
}

var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// fresh creates (as platform admin) a new object of kind in the target org,
// for the destructive routes.
func (c mctx) fresh(kind string) string {
	h := c.h
	switch kind {
	case "profile":
		return id(h.create("/v1/profiles", h.admin, map[string]any{"org_id": c.o.id, "provider": "telegram", "name": uniq("p"), "secrets": map[string]string{"secret_token": telegramToken}}))
	case "platform_profile":
		return id(h.create("/v1/profiles", h.admin, map[string]any{"provider": "discord", "name": uniq("pp"), "secrets": map[string]string{"public_key": discordKey}}))
	case "installation":
		return id(h.create("/v1/installations", h.admin, map[string]any{"org_id": c.o.id, "profile_id": c.o.prof, "external_id": uniq("T")}))
	case "agent":
		return id(h.create("/v1/agents", h.admin, map[string]any{"org_id": c.o.id, "name": uniq("a"), "url": "https://agent.example/fresh"}))
	case "binding":
		return id(h.create("/v1/bindings", h.admin, map[string]any{"installation_id": c.o.inst, "agent_id": c.o.agent, "selector": map[string]string{"peer": uniq("U")}}))
	case "token":
		return id(h.create("/v1/tokens", h.admin, map[string]any{"kind": "org", "subject_id": c.o.id}))
	case "org":
		return id(h.create("/v1/orgs", h.admin, map[string]any{"name": uniq("o"), "agency_id": c.o.agency}))
	case "agency":
		return id(h.create("/v1/agencies", h.admin, map[string]any{"name": uniq("ag")}))
	case "agency-token":
		return id(h.create("/v1/tokens", h.admin, map[string]any{"kind": "agency", "subject_id": c.o.agency}))
	}
	panic(kind)
}

// readOnlyPosts are matrix cases whose method is not GET but that write
// nothing (no audit event expected).
var readOnlyPosts = map[string]bool{"simulate": true}

// freshProvider is a provider never put at canary by this test (each
// canary cell needs a real change).
func (c mctx) freshProvider() string {
	providers := []string{"slack", "telegram", "whatsapp", "messenger", "discord", "standardwebhooks"}
	return providers[int(seq.Add(1))%len(providers)]
}

// canaryProvider puts standardwebhooks at canary (once) for the probe cells.
func (c mctx) canaryProvider() string {
	if st, err := c.h.raw.GetStage(context.Background(), "standardwebhooks"); err != nil || st.Stage != "canary" {
		c.h.call("POST", "/v1/rollout/standardwebhooks/canary", c.h.admin, map[string]any{"canary_orgs": []string{c.home.id}})
	}
	return "standardwebhooks"
}

const rotateUntil = "2030-01-05T00:00:00Z" // three days after testNow

// TestCrossTenantMatrix runs every route with every token kind against
// objects inside and outside the token's scope. Refusals must be 404 for
// objects outside the scope (existence does not leak) or 403 for forbidden
// actions, and must write nothing.
func TestCrossTenantMatrix(t *testing.T) {
	h := newHarness(t, nil)
	h.api.HandlePlatform("GET /v1/xds/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	f := h.fixture()
	pcStatus := http.StatusOK

	type tcase struct {
		name   string
		method string
		path   func(c mctx) string
		body   func(c mctx) any
		// expected status for: platform admin on another agency's org;
		// agency A on its own client org; org A1 on itself; and any token on
		// an org outside its scope.
		platform, inAgency, inOrg, out int
	}
	static := func(p string) func(mctx) string { return func(mctx) string { return p } }
	cases := []tcase{
		{"whoami", "GET", static("/v1/whoami"), nil, 200, 200, 200, 200},
		{"list agencies", "GET", static("/v1/agencies"), nil, 200, 200, 200, 200},
		{"revoke agency", "POST", func(c mctx) string { return "/v1/agencies/" + c.fresh("agency") + "/revoke" }, nil, 200, 404, 404, 404},
		{"list orgs", "GET", static("/v1/orgs"), nil, 200, 200, 200, 200},
		{"revoke org", "POST", func(c mctx) string { return "/v1/orgs/" + c.fresh("org") + "/revoke" }, nil, 200, 200, 404, 404},
		{"list providers", "GET", static("/v1/providers"), nil, 200, 200, 200, 200},
		{"get agency", "GET", func(c mctx) string { return "/v1/agencies/" + c.o.agency }, nil, 200, 200, 404, 404},
		{"create agency", "POST", static("/v1/agencies"), func(mctx) any { return map[string]any{"name": uniq("ag")} }, 201, 403, 403, 403},
		{"get org", "GET", func(c mctx) string { return "/v1/orgs/" + c.o.id }, nil, 200, 200, 200, 404},
		{"get org limits", "GET", func(c mctx) string { return "/v1/orgs/" + c.o.id + "/limits" }, nil, 200, 200, 200, 404},
		{"set org limits", "PUT", func(c mctx) string { return "/v1/orgs/" + c.o.id + "/limits" }, func(mctx) any {
			return map[string]any{"rate_per_sec": 50, "burst": 100, "max_in_flight": int(seq.Add(1)%100) + 1}
		}, 200, 403, 403, 404},
		{"create org under agency", "POST", static("/v1/orgs"), func(c mctx) any { return map[string]any{"name": uniq("o"), "agency_id": c.o.agency} }, 201, 201, 403, 403},
		{"list org profiles", "GET", func(c mctx) string { return "/v1/profiles?org_id=" + c.o.id }, nil, 200, 200, 200, 404},
		{"create org profile", "POST", static("/v1/profiles"), func(c mctx) any {
			return map[string]any{"org_id": c.o.id, "provider": "whatsapp", "name": uniq("p"), "secrets": map[string]string{"signing": metaAppSecret, "verify_token": metaVerifyToken}}
		}, 201, 201, 201, 404},
		{"create platform profile", "POST", static("/v1/profiles"), func(c mctx) any {
			return map[string]any{"provider": "telegram", "name": uniq("pp"), "secrets": map[string]string{"secret_token": telegramToken}}
		}, 201, 403, 403, 403},
		{"get profile", "GET", func(c mctx) string { return "/v1/profiles/" + c.o.prof }, nil, 200, 200, 200, 404},
		{"revoke profile", "POST", func(c mctx) string { return "/v1/profiles/" + c.fresh("profile") + "/revoke" }, nil, 200, 200, 200, 404},
		{"rotate profile secret", "POST", func(c mctx) string { return "/v1/profiles/" + c.o.prof + "/secrets/signing/rotate" }, func(mctx) any {
			return map[string]any{"value": slackSigning2, "previous_valid_until": rotateUntil}
		}, 200, 200, 200, 404},
		{"revoke platform profile", "POST", func(c mctx) string { return "/v1/profiles/" + c.fresh("platform_profile") + "/revoke" }, nil, 200, 403, 403, 403},
		{"rotate platform profile secret", "POST", func(c mctx) string { return "/v1/profiles/" + c.f.platformProf + "/secrets/signing/rotate" }, func(mctx) any {
			return map[string]any{"value": slackSigning, "previous_valid_until": rotateUntil}
		}, 200, 403, 403, 403},
		{"create installation", "POST", static("/v1/installations"), func(c mctx) any {
			return map[string]any{"org_id": c.o.id, "profile_id": c.o.prof, "provider": "slack", "external_id": uniq("T"), "secrets": map[string]string{"signing": slackSigning2}}
		}, 201, 201, 201, 404},
		{"install platform profile", "POST", static("/v1/installations"), func(c mctx) any {
			return map[string]any{"org_id": c.o.id, "profile_id": c.f.platformProf, "external_id": uniq("T")}
		}, 201, 201, 201, 404},
		{"install another org's profile", "POST", static("/v1/installations"), func(c mctx) any {
			return map[string]any{"org_id": c.home.id, "profile_id": c.o.prof, "external_id": uniq("T")}
		}, 400, 201, 201, 404},
		{"opt into platform credentials at creation", "POST", static("/v1/installations"), func(c mctx) any {
			return map[string]any{"org_id": c.o.id, "profile_id": c.f.platformProf, "external_id": uniq("T"), "platform_credentials": true}
		}, 201, 403, 403, 403},
		{"list installations", "GET", func(c mctx) string { return "/v1/installations?org_id=" + c.o.id }, nil, 200, 200, 200, 404},
		{"get installation", "GET", func(c mctx) string { return "/v1/installations/" + c.o.inst }, nil, 200, 200, 200, 404},
		{"revoke installation", "POST", func(c mctx) string { return "/v1/installations/" + c.fresh("installation") + "/revoke" }, nil, 200, 200, 200, 404},
		{"rotate installation secret", "POST", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/secrets/bot_token/rotate" }, func(mctx) any {
			return map[string]any{"value": "xoxb-rotated-value", "previous_valid_until": rotateUntil}
		}, 200, 200, 200, 404},
		{"set platform credentials", "PUT", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/platform-credentials" }, func(mctx) any {
			return map[string]any{"enabled": true, "reason": "shared app"}
		}, pcStatus, 403, 403, 404},
		{"create agent", "POST", static("/v1/agents"), func(c mctx) any {
			return map[string]any{"org_id": c.o.id, "name": uniq("a"), "url": "https://agent.example/x"}
		}, 201, 201, 201, 404},
		{"list agents", "GET", func(c mctx) string { return "/v1/agents?org_id=" + c.o.id }, nil, 200, 200, 200, 404},
		{"get agent", "GET", func(c mctx) string { return "/v1/agents/" + c.o.agent }, nil, 200, 200, 200, 404},
		{"revoke agent", "POST", func(c mctx) string { return "/v1/agents/" + c.fresh("agent") + "/revoke" }, nil, 200, 200, 200, 404},
		{"rotate agent secret", "POST", func(c mctx) string { return "/v1/agents/" + c.o.agent + "/secrets/signing/rotate" }, func(mctx) any {
			return map[string]any{"previous_valid_until": rotateUntil}
		}, 200, 200, 200, 404},
		{"create binding", "POST", static("/v1/bindings"), func(c mctx) any {
			return map[string]any{"installation_id": c.o.inst, "agent_id": c.o.agent, "selector": map[string]string{"peer": uniq("U")}}
		}, 201, 201, 201, 404},
		{"bind to another org's agent", "POST", static("/v1/bindings"), func(c mctx) any {
			return map[string]any{"installation_id": c.home.inst, "agent_id": c.o.agent, "selector": map[string]string{"peer": uniq("U")}}
		}, 400, 201, 201, 404},
		{"bind another org's installation", "POST", static("/v1/bindings"), func(c mctx) any {
			return map[string]any{"installation_id": c.o.inst, "agent_id": c.home.agent, "selector": map[string]string{"peer": uniq("U")}}
		}, 400, 201, 201, 404},
		{"list bindings", "GET", func(c mctx) string { return "/v1/bindings?installation_id=" + c.o.inst }, nil, 200, 200, 200, 404},
		{"get binding", "GET", func(c mctx) string { return "/v1/bindings/" + c.o.bind }, nil, 200, 200, 200, 404},
		{"revoke binding", "POST", func(c mctx) string { return "/v1/bindings/" + c.fresh("binding") + "/revoke" }, nil, 200, 200, 200, 404},
		{"read audit", "GET", func(c mctx) string { return "/v1/audit?org_id=" + c.o.id }, nil, 200, 200, 200, 404},
		{"set stage", "PUT", static("/v1/providers/line/stage"), func(c mctx) any { return map[string]any{"stage": "canary", "canary_orgs": []string{c.o.id}} }, 200, 403, 403, 403},
		{"get stage", "GET", static("/v1/providers/line/stage"), nil, 200, 200, 200, 200},
		{"create org token", "POST", static("/v1/tokens"), func(c mctx) any { return map[string]any{"kind": "org", "subject_id": c.o.id} }, 201, 201, 201, 404},
		{"create agency token", "POST", static("/v1/tokens"), func(c mctx) any { return map[string]any{"kind": "agency", "subject_id": c.o.agency} }, 201, 403, 403, 403},
		{"create platform token", "POST", static("/v1/tokens"), func(c mctx) any { return map[string]any{"kind": "platform"} }, 201, 403, 403, 403},
		{"list tokens", "GET", static("/v1/tokens"), nil, 200, 200, 200, 200},
		{"get an org token", "GET", func(c mctx) string { return "/v1/tokens/" + c.fresh("token") }, nil, 200, 200, 200, 404},
		{"get an agency token", "GET", func(c mctx) string { return "/v1/tokens/" + c.fresh("agency-token") }, nil, 200, 404, 404, 404},
		{"revoke an org token", "POST", func(c mctx) string { return "/v1/tokens/" + c.fresh("token") + "/revoke" }, nil, 200, 200, 200, 404},
		{"revoke an agency token", "POST", func(c mctx) string { return "/v1/tokens/" + c.fresh("agency-token") + "/revoke" }, nil, 200, 404, 404, 404},
		{"rotate an org token", "POST", func(c mctx) string { return "/v1/tokens/" + c.fresh("token") + "/rotate" }, nil, 201, 201, 201, 404},
		{"rotate an agency token", "POST", func(c mctx) string { return "/v1/tokens/" + c.fresh("agency-token") + "/rotate" }, nil, 201, 404, 404, 404},
		{"platform handler", "GET", static("/v1/xds/status"), nil, 200, 403, 403, 403},
		{"installation setup packet", "GET", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/setup" }, nil, 200, 200, 200, 404},
		{"profile setup packet", "GET", func(c mctx) string { return "/v1/profiles/" + c.o.prof + "/setup" }, nil, 200, 200, 200, 404},
		{"platform profile setup packet", "GET", func(c mctx) string { return "/v1/profiles/" + c.f.platformProf + "/setup" }, nil, 200, 403, 403, 403},
		{"put handoff", "PUT", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/handoff" }, func(mctx) any {
			return map[string]any{"owner_account": "owner@example.com", "rotation_owner": "ops", "next_rotation": "2030-03-01"}
		}, 200, 200, 200, 404},
		{"oauth callback without state", "GET", static("/v1/oauth/slack/callback?code=x"), nil, 400, 400, 400, 400},
		{"oauth start", "GET", func(c mctx) string { return "/v1/oauth/slack/start?profile_id=" + c.o.prof + "&org_id=" + c.o.id }, nil, 409, 409, 409, 404},
		{"put oauth client", "PUT", func(c mctx) string { return "/v1/profiles/" + c.o.prof + "/oauth" }, func(mctx) any {
			return map[string]any{"client_id": "1111.2222", "client_secret": "0123456789abcdef"}
		}, 200, 200, 200, 404},
		{"installation health", "GET", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/health" }, nil, 200, 200, 200, 404},
		{"installation quarantine", "GET", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/quarantine" }, nil, 200, 200, 200, 404},
		{"register at the provider", "POST", func(c mctx) string { return "/v1/installations/" + c.o.inst + "/register" }, nil, 409, 409, 409, 404},
		{"simulate", "POST", static("/v1/simulate"), func(c mctx) any {
			return map[string]any{"installation_id": c.o.inst, "event": map[string]any{"channel": "C1", "user": "U1", "text": "hi"}}
		}, 200, 200, 200, 404},
		// Rollout (issue 11): every route is the platform admin's.
		{"rollout status", "GET", static("/v1/rollout"), nil, 200, 403, 403, 403},
		{"rollout of a provider", "GET", static("/v1/rollout/line"), nil, 200, 403, 403, 403},
		{"evidence key", "GET", static("/v1/rollout/evidence-key"), nil, 200, 403, 403, 403},
		{"rollout canary", "POST", func(c mctx) string { return "/v1/rollout/" + c.freshProvider() + "/canary" }, func(c mctx) any {
			return map[string]any{"canary_orgs": []string{c.o.id}}
		}, 200, 403, 403, 403},
		{"rollout promote (no evidence)", "POST", static("/v1/rollout/twilio/promote"), nil, 409, 403, 403, 403},
		{"rollout rollback", "POST", static("/v1/rollout/instagram/rollback"), func(mctx) any { return map[string]any{"reason": "matrix"} }, 200, 403, 403, 403},
		{"record evidence", "POST", static("/v1/rollout/github/evidence"), func(mctx) any {
			return map[string]any{"kind": "load", "report": passingLoad("github", testNow)}
		}, 201, 403, 403, 403},
		{"list evidence", "GET", static("/v1/rollout/github/evidence"), nil, 200, 403, 403, 403},
		{"get evidence", "GET", func(c mctx) string {
			return "/v1/rollout/github/evidence/" + id(c.h.create("/v1/rollout/github/evidence", c.h.admin, map[string]any{"kind": "load", "report": passingLoad("github", testNow)}))
		}, nil, 200, 403, 403, 403},
		{"create probe", "POST", func(c mctx) string { return "/v1/rollout/" + c.canaryProvider() + "/probes" }, func(mctx) any { return map[string]any{"name": "m"} }, 201, 403, 403, 403},
		{"remove probe", "POST", func(c mctx) string {
			p := c.canaryProvider()
			org := c.h.create("/v1/rollout/"+p+"/probes", c.h.admin, map[string]any{"name": "m"})["org_id"].(string)
			c.h.call("POST", "/v1/orgs/"+org+"/revoke", c.h.admin, nil)
			return "/v1/rollout/" + p + "/probes/" + org + "/remove"
		}, nil, 200, 403, 403, 403},
	}

	// Every route the server mounts needs a case above, and every case must
	// reach a route: resolve each case's request with a mux built from the
	// server's own route list (Server.Routes).
	routeOf := http.NewServeMux()
	for _, pattern := range h.api.Routes() {
		if pattern != "/" {
			routeOf.Handle(pattern, http.NotFoundHandler())
		}
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		c := mctx{h: h, f: f, o: f.org["B1"], home: f.org["A1"]}
		_, pattern := routeOf.Handler(httptest.NewRequest(tc.method, tc.path(c), nil))
		if pattern == "" {
			t.Errorf("matrix case %q (%s %s) reaches no route the server mounts: fix or drop it in api/matrix_test.go", tc.name, tc.method, tc.path(c))
		}
		covered[pattern] = true
	}
	for _, pattern := range h.api.Routes() {
		if pattern != "/" && !covered[pattern] {
			t.Errorf("route %q has no case in the cross-tenant matrix: add a tcase for it to the cases table of TestCrossTenantMatrix in api/matrix_test.go "+
				"(method, path, body, and the status for: platform admin on another agency's org, agency on its client org, org on itself, any token out of scope)", pattern)
		}
	}
	cells := []struct {
		who, tok, target string
		want             func(tcase) int
	}{
		{"platform on B1", h.admin, "B1", func(c tcase) int { return c.platform }},
		{"agency A on A1", f.agencyTok, "A1", func(c tcase) int { return c.inAgency }},
		{"org A1 on A1", f.orgTok, "A1", func(c tcase) int { return c.inOrg }},
		{"agency A on B1", f.agencyTok, "B1", func(c tcase) int { return c.out }},
		{"org A1 on B1", f.orgTok, "B1", func(c tcase) int { return c.out }},
		{"org A1 on sibling A2", f.orgTok, "A2", func(c tcase) int { return c.out }},
	}
	for _, tc := range cases {
		for _, cell := range cells {
			t.Run(tc.name+"/"+cell.who, func(t *testing.T) {
				c := mctx{h: h, f: f, o: f.org[cell.target], home: f.org["A1"]}
				path := tc.path(c)
				var body any
				if tc.body != nil {
					body = tc.body(c)
				}
				before := h.generation()
				status, raw := h.callRaw(tc.method, path, cell.tok, body)
				want := cell.want(tc)
				if status != want {
					t.Fatalf("%s %s as %s: status %d, want %d: %s", tc.method, path, cell.who, status, want, raw)
				}
				after := h.generation()
				if status >= 400 {
					if after != before {
						t.Errorf("refused request changed the store (generation %d -> %d)", before, after)
					}
					if !strings.Contains(string(raw), `"error"`) {
						t.Errorf("refusal without JSON error: %s", raw)
					}
					// A refusal of an out-of-scope object names no object of that org.
					if status == 404 || status == 403 {
						o := f.org[cell.target]
						for _, secret := range []string{o.prof + `"`, o.inst + `"`} {
							if strings.Contains(string(raw), secret) && !strings.Contains(path, strings.TrimSuffix(secret, `"`)) {
								t.Errorf("refusal leaks %s: %s", secret, raw)
							}
						}
					}
				} else if readOnlyPosts[tc.name] && after != before {
					t.Errorf("read-only route changed the store (generation %d -> %d)", before, after)
				} else if tc.method != "GET" && !readOnlyPosts[tc.name] && after <= before {
					t.Errorf("mutation wrote no audit event (generation %d -> %d)", before, after)
				}
			})
		}
	}
}

// TestListsAreScoped: collection reads return only what the token may see.
func TestListsAreScoped(t *testing.T) {
	h := newHarness(t, nil)
	f := h.fixture()
	b1 := f.org["B1"]
	a2 := f.org["A2"]
	foreignTo := map[string][]string{
		"agency": {b1.id, b1.prof, b1.inst, b1.agent, b1.bind, f.agencyB},
		"org":    {b1.id, b1.prof, b1.inst, b1.agent, b1.bind, f.agencyB, a2.id, a2.prof, a2.inst, a2.agent, a2.bind},
	}
	routes := []string{"/v1/agencies", "/v1/orgs", "/v1/profiles", "/v1/installations", "/v1/agents", "/v1/bindings", "/v1/audit", "/v1/providers"}
	for _, route := range routes {
		for _, who := range []struct{ kind, tok string }{{"platform", h.admin}, {"agency", f.agencyTok}, {"org", f.orgTok}} {
			t.Run(route+"/"+who.kind, func(t *testing.T) {
				status, raw := h.callRaw("GET", route, who.tok, nil)
				if status != 200 {
					t.Fatalf("status %d: %s", status, raw)
				}
				for _, foreign := range foreignTo[who.kind] {
					if strings.Contains(string(raw), foreign) {
						t.Errorf("%s token sees %s in %s", who.kind, foreign, route)
					}
				}
				own := f.org["A1"]
				if route != "/v1/agencies" && route != "/v1/providers" && !strings.Contains(string(raw), own.id) {
					t.Errorf("%s token does not see its own org's objects in %s: %s", who.kind, route, raw)
				}
				if who.kind == "platform" && route != "/v1/providers" && route != "/v1/agencies" && !strings.Contains(string(raw), b1.id) {
					t.Errorf("platform does not see org B1 in %s", route)
				}
			})
		}
	}
	// Tenants see the platform profile (to install it) but not its shared
	// ingress id or its secrets.
	_, out := h.call("GET", "/v1/profiles/"+f.platformProf, f.orgTok, nil)
	if out["ingress_id"] != nil || out["webhook_path"] != nil || len(out["secrets"].([]any)) != 0 {
		t.Errorf("org token sees platform profile internals: %v", out)
	}
	_, out = h.call("GET", "/v1/profiles/"+f.platformProf, h.admin, nil)
	if out["ingress_id"] == nil || len(out["secrets"].([]any)) != 1 {
		t.Errorf("platform admin does not see platform profile ingress and secrets: %v", out)
	}
}
