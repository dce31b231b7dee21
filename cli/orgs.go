package cli

import (
	"context"
	"errors"
	"flag"
	"strconv"

	"github.com/switchboard-dev/switchboard/client"
)

var agencyHeader = []string{"ID", "NAME", "CREATED", "STATUS"}

func agencyRow(a client.Agency) []string {
	return []string{a.ID, a.Name, ts(a.CreatedAt), status(a.RevokedAt)}
}

var orgHeader = []string{"ID", "NAME", "AGENCY", "CREATED", "STATUS"}

func orgRow(o client.Org) []string {
	return []string{o.ID, o.Name, dash(o.AgencyID), ts(o.CreatedAt), status(o.RevokedAt)}
}

var limitsHeader = []string{"ORG", "RATE/S", "BURST", "MAX IN FLIGHT", "UPDATED"}

func limitsRow(l client.OrgLimits) []string {
	n := func(v int) string {
		if v == 0 {
			return "default"
		}
		return strconv.Itoa(v)
	}
	return []string{l.OrgID, n(l.RatePerSec), n(l.Burst), n(l.MaxInFlight), tsp(l.UpdatedAt)}
}

func init() {
	add(noun{name: "agencies", summary: "list, show, create and revoke agencies (platform admin)", verbs: []verb{
		{name: "list", summary: "list the agencies the token sees", setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListAgencies(ctx)
				return result{value: l, table: rows(agencyHeader, l, agencyRow)}, err
			}
		}},
		{name: "get", summary: "show one agency", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetAgency(ctx, a[0])
				return result{value: v, table: one(agencyHeader, v, agencyRow)}, err
			}
		}},
		{name: "create", summary: "create an agency", setup: func(fs *flag.FlagSet, env *Env) action {
			name := fs.String("name", "", "the agency's name (required)")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *name == "" {
					return result{}, errors.New("--name is required")
				}
				v, err := c.CreateAgency(ctx, client.CreateAgencyRequest{Name: *name})
				return result{value: v, table: one(agencyHeader, v, agencyRow)}, err
			}
		}},
		{name: "revoke", summary: "revoke an agency (locks out its tokens; client organisations stay)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeAgency(ctx, a[0])
				return result{value: v, table: one(agencyHeader, v, agencyRow)}, err
			}
		}},
	}}.command())

	add(noun{name: "orgs", summary: "list, show, create and revoke organisations; show and set their limits", verbs: []verb{
		{name: "list", summary: "list the organisations the token sees", setup: func(fs *flag.FlagSet, env *Env) action {
			agency := fs.String("agency", "", "only the client organisations of this agency id")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListOrgs(ctx, *agency)
				return result{value: l, table: rows(orgHeader, l, orgRow)}, err
			}
		}},
		{name: "get", summary: "show one organisation", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetOrg(ctx, a[0])
				return result{value: v, table: one(orgHeader, v, orgRow)}, err
			}
		}},
		{name: "create", summary: "create an organisation", setup: func(fs *flag.FlagSet, env *Env) action {
			name := fs.String("name", "", "the organisation's name (required)")
			agency := fs.String("agency", "", "the agency it is a client of (an agency token: itself)")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *name == "" {
					return result{}, errors.New("--name is required")
				}
				v, err := c.CreateOrg(ctx, client.CreateOrgRequest{Name: *name, AgencyID: *agency})
				return result{value: v, table: one(orgHeader, v, orgRow)}, err
			}
		}},
		{name: "revoke", summary: "revoke an organisation and everything in it", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeOrg(ctx, a[0])
				return result{value: v, table: one(orgHeader, v, orgRow)}, err
			}
		}},
		{name: "limits", summary: "show an organisation's limits (0: not set, the deployment's default)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetOrgLimits(ctx, a[0])
				return result{value: v, table: one(limitsHeader, v, limitsRow)}, err
			}
		}},
		{name: "set-limits", summary: "set an organisation's limits (platform admin; flags not given keep their value)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			rate := fs.Int("rate", 0, "webhooks per second the edge accepts for the organisation, per edge (0: not set)")
			burst := fs.Int("burst", 0, "token-bucket size of --rate (0: the rate)")
			inFlight := fs.Int("max-in-flight", 0, "deliveries to the organisation's agents in flight per worker (0: not set)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				given := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
				if !given["rate"] && !given["burst"] && !given["max-in-flight"] {
					return result{}, errors.New("give at least one of --rate, --burst, --max-in-flight")
				}
				cur, err := c.GetOrgLimits(ctx, a[0])
				if err != nil {
					return result{}, err
				}
				req := client.SetOrgLimitsRequest{RatePerSec: cur.RatePerSec, Burst: cur.Burst, MaxInFlight: cur.MaxInFlight}
				if given["rate"] {
					req.RatePerSec = *rate
				}
				if given["burst"] {
					req.Burst = *burst
				}
				if given["max-in-flight"] {
					req.MaxInFlight = *inFlight
				}
				if req.RatePerSec == 0 && !given["burst"] {
					req.Burst = 0 // unsetting the rate unsets its burst
				}
				v, err := c.SetOrgLimits(ctx, a[0], req)
				return result{value: v, table: one(limitsHeader, v, limitsRow)}, err
			}
		}},
	}}.command())
}
