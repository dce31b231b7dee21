package cli

import (
	"context"
	"errors"
	"flag"

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

	add(noun{name: "orgs", summary: "list, show, create and revoke organisations", verbs: []verb{
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
	}}.command())
}
