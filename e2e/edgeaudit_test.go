package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// edgeAuditKey names one aggregated edge refusal: org, target, provider, reason.
func edgeAuditKey(org, target, provider, reason string) string {
	return org + "|" + target + "|" + provider + "|" + reason
}

// auditAs lists the webhook.reject audit events with source "edge" that the
// bearer of token sees (GET /v1/audit, every page), summed by edgeAuditKey.
func (s *stack) edgeAuditAs(token string) map[string]float64 {
	s.t.Helper()
	out := map[string]float64{}
	after := "0"
	for {
		req, _ := http.NewRequest("GET", s.api+"/v1/audit?limit=1000&after="+after, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatalf("GET /v1/audit: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			s.t.Fatalf("GET /v1/audit: %d %s", resp.StatusCode, raw)
		}
		var page struct {
			Items []struct {
				OrgID  string          `json:"org_id"`
				Action string          `json:"action"`
				Target string          `json:"target"`
				Actor  string          `json:"actor"`
				Detail json.RawMessage `json:"detail"`
			} `json:"items"`
			NextAfter int64 `json:"next_after"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			s.t.Fatalf("GET /v1/audit: %v: %s", err, raw)
		}
		for _, it := range page.Items {
			if it.Action != "webhook.reject" {
				continue
			}
			var d map[string]any
			if err := json.Unmarshal(it.Detail, &d); err != nil {
				// The API may return the detail as a JSON string.
				var str string
				if json.Unmarshal(it.Detail, &str) == nil {
					json.Unmarshal([]byte(str), &d)
				}
			}
			if d["source"] != "edge" {
				continue
			}
			// Ids, counts and times only: never a body, a header or a secret.
			for k := range d {
				switch k {
				case "source", "reason", "provider", "count", "from", "to", "edge", "platform", "profile", "summary":
				default:
					s.t.Errorf("edge audit event has field %q: %s", k, it.Detail)
				}
			}
			if strings.Contains(string(it.Detail), "MUSTNOT") {
				s.t.Errorf("edge audit event carries request content: %s", it.Detail)
			}
			provider, _ := d["provider"].(string)
			reason, _ := d["reason"].(string)
			n, _ := d["count"].(float64)
			out[edgeAuditKey(it.OrgID, it.Target, provider, reason)] += n
		}
		n := strconv.FormatInt(page.NextAfter, 10)
		if page.NextAfter == 0 || len(page.Items) == 0 || n == after {
			return out
		}
		after = n
	}
}

// orgToken creates an org-scoped API token for org.
func (s *stack) orgToken(org string) string {
	s.t.Helper()
	tok, _ := s.call("POST", "/v1/tokens", map[string]any{"kind": "org", "subject_id": org}, 201)["token"].(string)
	if tok == "" {
		s.t.Fatalf("no token created for %s", org)
	}
	s.secret(tok)
	return tok
}

// checkEdgeRefusalsAudited: the refusals of the matrix made at the edge that
// concern a tenant (not unknown_ingress / provider_mismatch: no tenant) are
// reported by the edge to ingest and appear in the tenant's audit log as
// webhook.reject with source "edge" and their counts; the other tenant sees
// none of them. want maps edgeAuditKey (org "" for a platform profile's
// shared ingress, target its profile then) to the exact count; atLeast to a
// minimum (keys where earlier configuration waits may add refusals).
func (s *stack) checkEdgeRefusalsAudited(t *testing.T, orgA, orgB string, want, atLeast map[string]float64) {
	tokA, tokB := s.orgToken(orgA), s.orgToken(orgB)
	// The edge flushes every 5 s (its default): wait up to three windows.
	var got map[string]float64
	deadline := time.Now().Add(16 * time.Second)
	for {
		got = s.edgeAuditAs(s.adminToken)
		missing := 0
		for k, n := range want {
			if got[k] < n {
				missing++
			}
		}
		for k, n := range atLeast {
			if got[k] < n {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("edge refusal %s: audited count %v, want %v", k, got[k], n)
		}
	}
	for k, n := range atLeast {
		if got[k] < n {
			t.Errorf("edge refusal %s: audited count %v, want at least %v", k, got[k], n)
		}
	}
	for k := range got {
		if strings.HasSuffix(k, "|unknown_ingress") || strings.HasSuffix(k, "|provider_mismatch") || strings.HasSuffix(k, "|no_config") {
			t.Errorf("edge refusal that concerns no tenant audited: %s", k)
		}
	}
	// Each tenant sees its own rows, and only those.
	mine := s.edgeAuditAs(tokA)
	for k, n := range want {
		if strings.HasPrefix(k, orgA+"|") && mine[k] != n {
			t.Errorf("org A's audit log: %s counted %v, want %v", k, mine[k], n)
		}
	}
	for k := range mine {
		if !strings.HasPrefix(k, orgA+"|") {
			t.Errorf("org A sees another tenant's edge refusal %s", k)
		}
	}
	theirs := s.edgeAuditAs(tokB)
	if len(theirs) != 0 {
		var ks []string
		for k := range theirs {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		t.Errorf("org B sees edge refusals it has none of: %v", ks)
	}
	t.Logf("edge refusals audited: %d rows for the platform admin, %d for org A, %d for org B", len(got), len(mine), len(theirs))
}
