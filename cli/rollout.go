package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/switchboard-dev/switchboard/client"
)

var rolloutHeader = []string{"PROVIDER", "STAGE", "PREVIOUS", "CANARY ORGS", "PROMOTION", "CHANGED", "ANALYSIS"}

func rolloutRow(r client.Rollout) []string {
	stage := r.Stage
	if r.Unset {
		stage = "off (unset: not served)"
	}
	gate := "allowed"
	if !r.Gate.Allowed {
		gate = "missing: " + strings.Join(r.Gate.Missing, "; ")
	}
	changed := "-"
	if r.ChangedAt != nil {
		changed = ts(*r.ChangedAt)
	}
	analysis := "-"
	if a := r.Analysis; a != nil {
		analysis = fmt.Sprintf("every %s, %d/%d failed", a.Interval, a.ConsecutiveFailures, a.FailureLimit)
	}
	return []string{r.Provider, stage, dash(r.PreviousStage), dash(strings.Join(r.CanaryOrgs, ",")), gate, changed, analysis}
}

func init() {
	add(noun{name: "rollout", summary: "canary-first provider rollout: status, canary, promote (gated on evidence), rollback (platform admin)", verbs: []verb{
		{name: "status", summary: "every provider's stage and what its promotion still needs (--provider for one)", setup: func(fs *flag.FlagSet, env *Env) action {
			provider := fs.String("provider", "", "only this provider")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *provider != "" {
					v, err := c.GetRollout(ctx, *provider)
					return result{value: v, table: one(rolloutHeader, v, rolloutRow)}, err
				}
				l, err := c.ListRollout(ctx)
				return result{value: l, table: rows(rolloutHeader, l, rolloutRow)}, err
			}
		}},
		{name: "canary", summary: "put a provider at canary with the named organisations", args: "PROVIDER", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			orgs := fs.String("orgs", "", "comma-separated organisation ids of the canary (required)")
			reason := fs.String("reason", "", "why (audited)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				var list []string
				for _, o := range strings.Split(*orgs, ",") {
					if o = strings.TrimSpace(o); o != "" {
						list = append(list, o)
					}
				}
				if len(list) == 0 {
					return result{}, errors.New("--orgs is required (the canary's organisation ids)")
				}
				v, err := c.Canary(ctx, a[0], client.CanaryRequest{CanaryOrgs: list, Reason: *reason})
				return result{value: v, table: one(rolloutHeader, v, rolloutRow),
					notes: []string{"next: `switchboard matrix run --provider " + a[0] + "` and `switchboard loadtest run --scenario FILE`, then `switchboard rollout promote " + a[0] + "`"}}, err
			}
		}},
		{name: "promote", summary: "canary → on; refused (naming what is missing) without a green matrix report and a passing load result", args: "PROVIDER", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			reason := fs.String("reason", "", "why (audited)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.Promote(ctx, a[0], client.PromoteRequest{Reason: *reason})
				return result{value: v, table: one(rolloutHeader, v, rolloutRow)}, err
			}
		}},
		{name: "rollback", summary: "back to the previous stage (or --to off); always allowed, takes effect at the next configuration push", args: "PROVIDER", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			reason := fs.String("reason", "", "why (required, audited)")
			to := fs.String("to", "", "off, or canary (from on); default: the previous stage")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				if *reason == "" {
					return result{}, errors.New("--reason is required (it is audited)")
				}
				v, err := c.Rollback(ctx, a[0], client.RollbackRequest{Reason: *reason, To: *to})
				return result{value: v, table: one(rolloutHeader, v, rolloutRow)}, err
			}
		}},
	}}.command())
}
