package cli

import (
	"context"
	"errors"
	"flag"
	"strconv"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
)

var agentHeader = []string{"ID", "ORG", "NAME", "URL", "SECRETS", "STATUS"}

func agentRow(a client.Agent) []string {
	return []string{a.ID, a.OrgID, a.Name, a.URL, secretsCell(a.Secrets), status(a.RevokedAt)}
}

var bindingHeader = []string{"ID", "INSTALLATION", "SELECTOR", "AGENT", "PERSONA", "PRIORITY", "STATUS"}

func bindingRow(b client.Binding) []string {
	return []string{b.ID, b.InstallationID, selectorCell(b.Selector), b.AgentID, dash(b.Persona), strconv.Itoa(b.Priority), status(b.RevokedAt)}
}

func selectorCell(s client.Selector) string {
	out := ""
	for _, kv := range [][2]string{{"account", s.Account}, {"channel", s.Channel}, {"peer", s.Peer}, {"mention", s.Mention}} {
		if kv[1] != "" {
			if out != "" {
				out += " "
			}
			out += kv[0] + "=" + kv[1]
		}
	}
	if out == "" {
		return "*"
	}
	return out
}

func init() {
	add(noun{name: "agents", summary: "list, show, create and revoke agents (the HTTP endpoints events are delivered to)", verbs: []verb{
		{name: "list", summary: "list agents", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "only this organisation's agents")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListAgents(ctx, *org)
				return result{value: l, table: rows(agentHeader, l, agentRow)}, err
			}
		}},
		{name: "get", summary: "show one agent", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetAgent(ctx, a[0])
				return result{value: v, table: one(agentHeader, v, agentRow)}, err
			}
		}},
		{name: "create", summary: "create an agent (its signing secret is shown once, or kept in --secret-file)", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "the organisation (required)")
			name := fs.String("name", "", "a name for the agent (required)")
			url := fs.String("url", "", "where deliveries are POSTed (required)")
			secretFile := fs.String("secret-file", "", "the agent's whsec_ signing secret: read from this file, or generated into it (0600) when it does not exist; without it the API generates one and prints it once")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *org == "" || *name == "" || *url == "" {
					return result{}, errors.New("--org, --name and --url are required")
				}
				req := client.CreateAgentRequest{OrgID: *org, Name: *name, URL: *url}
				if *secretFile != "" {
					s, _, err := datadir.LoadOrCreateAgentSecret(*secretFile)
					if err != nil {
						return result{}, err
					}
					req.SigningSecret = s
				}
				v, err := c.CreateAgent(ctx, req)
				res := result{value: v, table: one(agentHeader, v, agentRow)}
				if err == nil {
					if *secretFile != "" {
						res.notes = []string{"signing secret in " + *secretFile + " (give it to the agent)"}
					} else if v.SigningSecret != "" {
						res.notes = []string{"signing secret (shown this once): " + v.SigningSecret}
					}
				}
				return res, err
			}
		}},
		{name: "revoke", summary: "revoke an agent and its bindings", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeAgent(ctx, a[0])
				return result{value: v, table: one(agentHeader, v, agentRow)}, err
			}
		}},
	}}.command())

	add(noun{name: "bindings", summary: "list, show, create and revoke channel bindings (which agent gets which traffic)", verbs: []verb{
		{name: "list", summary: "list bindings", setup: func(fs *flag.FlagSet, env *Env) action {
			inst := fs.String("installation", "", "only this installation's bindings")
			org := fs.String("org", "", "only this organisation's bindings")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListBindings(ctx, client.BindingFilter{InstallationID: *inst, OrgID: *org})
				return result{value: l, table: rows(bindingHeader, l, bindingRow)}, err
			}
		}},
		{name: "get", summary: "show one binding", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetBinding(ctx, a[0])
				return result{value: v, table: one(bindingHeader, v, bindingRow)}, err
			}
		}},
		{name: "create", summary: "bind an installation's traffic (all of it, or what the selector names) to an agent", setup: func(fs *flag.FlagSet, env *Env) action {
			inst := fs.String("installation", "", "the installation (required)")
			agent := fs.String("agent", "", "the agent (required)")
			var sel client.Selector
			fs.StringVar(&sel.Account, "account", "", "selector: team / workspace / business account / guild id")
			fs.StringVar(&sel.Channel, "channel", "", "selector: channel / conversation / chat id")
			fs.StringVar(&sel.Peer, "peer", "", "selector: sender / user id")
			fs.StringVar(&sel.Mention, "mention", "", "selector: mention keyword, e.g. @support")
			persona := fs.String("persona", "", "persona the agent answers as")
			prio := fs.Int("priority", 0, "priority among equally specific bindings (higher wins)")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *inst == "" || *agent == "" {
					return result{}, errors.New("--installation and --agent are required")
				}
				v, err := c.CreateBinding(ctx, client.CreateBindingRequest{InstallationID: *inst, AgentID: *agent, Selector: sel, Persona: *persona, Priority: *prio})
				return result{value: v, table: one(bindingHeader, v, bindingRow)}, err
			}
		}},
		{name: "revoke", summary: "revoke a binding", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeBinding(ctx, a[0])
				return result{value: v, table: one(bindingHeader, v, bindingRow)}, err
			}
		}},
	}}.command())

	tokenHeader := []string{"ID", "KIND", "SUBJECT", "CREATED"}
	tokenRow := func(t client.Token) []string { return []string{t.ID, t.Kind, dash(t.SubjectID), tsp(t.CreatedAt)} }
	infoHeader := []string{"ID", "KIND", "SUBJECT", "CREATED", "EXPIRES", "REVOKED", "ROTATED", "REPLACED BY", "REPLACES"}
	infoRow := func(t client.TokenInfo) []string {
		return []string{t.ID, t.Kind, dash(t.SubjectID), ts(t.CreatedAt), tsp(t.ExpiresAt), tsp(t.RevokedAt), tsp(t.RotatedAt), dash(t.ReplacedBy), dash(t.Replaces)}
	}
	add(noun{name: "tokens", summary: "list, show, create and revoke API tokens; show the calling one", verbs: []verb{
		{name: "whoami", summary: "show the calling token (kind and subject)", setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				v, err := c.Whoami(ctx)
				return result{value: v, table: one(tokenHeader, v, tokenRow)}, err
			}
		}},
		{name: "list", summary: "list the tokens you may see (metadata only: never a token or its hash)", setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListTokens(ctx)
				return result{value: l, table: rows(infoHeader, l, infoRow)}, err
			}
		}},
		{name: "get", summary: "show one token's metadata", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetToken(ctx, a[0])
				return result{value: v, table: one(infoHeader, v, infoRow)}, err
			}
		}},
		{name: "create", summary: "create a token (its value is printed once)", setup: func(fs *flag.FlagSet, env *Env) action {
			kind := fs.String("kind", client.TokenOrg, "platform, agency or org")
			subject := fs.String("subject", "", "the agency or organisation id the token acts for (required for agency and org)")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				v, err := c.CreateToken(ctx, client.CreateTokenRequest{Kind: *kind, SubjectID: *subject})
				res := result{value: v, table: one(tokenHeader, v, tokenRow)}
				if err == nil {
					res.notes = []string{"token (shown this once): " + v.Token}
				}
				return res, err
			}
		}},
		{name: "revoke", summary: "revoke a token", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeToken(ctx, a[0])
				return result{value: v, table: table{header: []string{"ID", "REVOKED"}, rows: [][]string{{v.ID, strconv.FormatBool(v.Revoked)}}}}, err
			}
		}},
	}}.command())
}
