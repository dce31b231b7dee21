package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
)

var profileHeader = []string{"ID", "OWNER", "ORG", "PROVIDER", "NAME", "APP ID", "WEBHOOK", "SECRETS", "STATUS"}

func profileRow(p client.Profile) []string {
	return []string{p.ID, p.Owner, dash(p.OrgID), p.Provider, p.Name, dash(p.ExternalAppID), webhook(p.WebhookURL, p.WebhookPath),
		secretsCell(p.Secrets), status(p.RevokedAt)}
}

var installationHeader = []string{"ID", "ORG", "PROFILE", "PROVIDER", "EXTERNAL ID", "WEBHOOK", "SECRETS", "STATUS"}

func installationRow(i client.Installation) []string {
	return []string{i.ID, i.OrgID, i.ProfileID, i.Provider, i.ExternalID, webhook(i.WebhookURL, i.WebhookPath), secretsCell(i.Secrets), status(i.RevokedAt)}
}

func webhook(u, path string) string {
	if u != "" {
		return u
	}
	return dash(path)
}

func init() {
	add(noun{name: "profiles", summary: "list, show, create and revoke provider app profiles", verbs: []verb{
		{name: "list", summary: "list app profiles (an organisation's own and the platform's)", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "only this organisation's profiles, or \"platform\" for the platform's")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListProfiles(ctx, *org)
				return result{value: l, table: rows(profileHeader, l, profileRow)}, err
			}
		}},
		{name: "get", summary: "show one app profile", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetProfile(ctx, a[0])
				return result{value: v, table: one(profileHeader, v, profileRow)}, err
			}
		}},
		{name: "create", summary: "create an app profile (an organisation's own app, or without --org a platform app)", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "the organisation whose app it is (none: a platform profile, platform admin only)")
			prov := fs.String("provider", "", "provider: slack, telegram, whatsapp, messenger, instagram, discord, twilio, line, github, standardwebhooks (required)")
			name := fs.String("name", "", "a name for the app (required)")
			appID := fs.String("app-id", "", "the provider's id of the app (Slack api_app_id, Discord application id, …)")
			secrets := secretFlags(fs)
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *prov == "" || *name == "" {
					return result{}, errors.New("--provider and --name are required")
				}
				s, err := secrets()
				if err != nil {
					return result{}, err
				}
				v, err := c.CreateProfile(ctx, client.CreateProfileRequest{OrgID: *org, Provider: *prov, Name: *name, ExternalAppID: *appID, Secrets: s})
				return result{value: v, table: one(profileHeader, v, profileRow)}, err
			}
		}},
		{name: "setup", summary: "print the app profile's setup packet (Markdown; --json: the packet)", args: "ID", nargs: 1, setup: setupVerb(func(c *client.Client) (func(context.Context, string) (client.SetupPacket, error), func(context.Context, string) (string, error)) {
			return c.ProfileSetup, c.ProfileSetupMarkdown
		})},
		{name: "oauth", summary: "store the app's OAuth client (Slack, Discord) for \"Add to Slack\" / bot authorisation installs", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			id := fs.String("client-id", "", "the app's OAuth client id (required)")
			secretFile := fs.String("client-secret-file", "", "read the app's OAuth client secret from this file (required)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				if *id == "" || *secretFile == "" {
					return result{}, errors.New("--client-id and --client-secret-file are required")
				}
				sec, err := readValue("", *secretFile, "--client-secret-file")
				if err != nil {
					return result{}, err
				}
				v, err := c.SetOAuthClient(ctx, a[0], client.OAuthClientRequest{ClientID: *id, ClientSecret: sec})
				res := result{value: v, table: one([]string{"PROFILE", "CLIENT ID", "CLIENT SECRET", "REDIRECT URL"}, v, func(o client.OAuthClient) []string {
					return []string{o.ProfileID, o.ClientID, o.ClientSecretFingerprint, o.RedirectURL}
				})}
				if err == nil {
					res.notes = []string{"enter the redirect URL at the provider (Slack: OAuth & Permissions → Redirect URLs; Discord: OAuth2 → Redirects)"}
				}
				return res, err
			}
		}},
		{name: "install-link", summary: "the link that installs the app for an organisation (\"Add to Slack\", Discord bot authorisation)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "the organisation the installation is for (an org token: its own)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				p, err := c.GetProfile(ctx, a[0])
				if err != nil {
					return result{}, err
				}
				o, err := c.StartOAuth(ctx, p.Provider, p.ID, *org)
				if err != nil {
					return result{}, err
				}
				return result{value: o, notes: []string{
					"open this link (valid until " + ts(o.ExpiresAt) + ", once) and approve the install; the installation appears in `switchboard installations list`:",
					o.AuthorizeURL}}, nil
			}
		}},
		{name: "revoke", summary: "revoke an app profile and its installations", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeProfile(ctx, a[0])
				return result{value: v, table: one(profileHeader, v, profileRow)}, err
			}
		}},
	}}.command())

	add(noun{name: "installations", summary: "list, show, create and revoke installations (a workspace, bot, number or guild of an app)", verbs: []verb{
		{name: "list", summary: "list installations", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "only this organisation's installations")
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				l, err := c.ListInstallations(ctx, *org)
				return result{value: l, table: rows(installationHeader, l, installationRow)}, err
			}
		}},
		{name: "get", summary: "show one installation", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.GetInstallation(ctx, a[0])
				return result{value: v, table: one(installationHeader, v, installationRow)}, err
			}
		}},
		{name: "create", summary: "create an installation of an app profile", setup: func(fs *flag.FlagSet, env *Env) action {
			org := fs.String("org", "", "the organisation (required)")
			prof := fs.String("profile", "", "the app profile (required)")
			ext := fs.String("external-id", "", "the provider's id of the installation: Slack team id, Telegram bot id, WhatsApp phone_number_id, Discord guild id (required)")
			prov := fs.String("provider", "", "the provider (default: the profile's)")
			platform := fs.Bool("platform-credentials", false, "use the platform's credentials (platform admin only)")
			secrets := secretFlags(fs)
			return func(ctx context.Context, c *client.Client, _ []string) (result, error) {
				if *org == "" || *prof == "" || *ext == "" {
					return result{}, errors.New("--org, --profile and --external-id are required")
				}
				s, err := secrets()
				if err != nil {
					return result{}, err
				}
				v, err := c.CreateInstallation(ctx, client.CreateInstallationRequest{OrgID: *org, ProfileID: *prof, Provider: *prov,
					ExternalID: *ext, Secrets: s, PlatformCredentials: *platform})
				return result{value: v, table: one(installationHeader, v, installationRow)}, err
			}
		}},
		{name: "revoke", summary: "revoke an installation (the edge refuses its webhooks after the next configuration push)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				v, err := c.RevokeInstallation(ctx, a[0])
				return result{value: v, table: one(installationHeader, v, installationRow)}, err
			}
		}},
		{name: "setup", summary: "print the installation's setup packet (Markdown; --json: the packet)", args: "ID", nargs: 1, setup: setupVerb(func(c *client.Client) (func(context.Context, string) (client.SetupPacket, error), func(context.Context, string) (string, error)) {
			return c.InstallationSetup, c.InstallationSetupMarkdown
		})},
		{name: "handoff", summary: "record the agency handoff of an installation (audited; shown in its packet)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			var h client.Handoff
			var urls, scopes, validated string
			fs.StringVar(&h.OwnerAccount, "owner-account", "", "the provider account that owns the app")
			fs.StringVar(&urls, "urls", "", "comma-separated URLs configured at the provider")
			fs.StringVar(&scopes, "scopes", "", "comma-separated scopes the owner approved")
			fs.StringVar(&validated, "canary-validated-at", "", "when the canary validation passed (RFC 3339, or \"now\")")
			fs.StringVar(&h.CanaryChannel, "canary-channel", "", "the canary channel")
			fs.StringVar(&h.RotationOwner, "rotation-owner", "", "who rotates the secrets")
			fs.StringVar(&h.NextRotation, "next-rotation", "", "next rotation date (YYYY-MM-DD)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				h.URLsConfigured, h.ScopesApproved = splitList(urls), splitList(scopes)
				if validated != "" {
					t := env.now().UTC().Truncate(time.Second)
					if validated != "now" {
						var err error
						if t, err = time.Parse(time.RFC3339, validated); err != nil {
							return result{}, fmt.Errorf("--canary-validated-at: want RFC 3339 or now")
						}
					}
					h.CanaryValidatedAt = &t
				}
				v, err := c.SetHandoff(ctx, a[0], h)
				return result{value: v, table: one([]string{"OWNER", "CANARY", "VALIDATED", "ROTATION OWNER", "NEXT ROTATION", "UPDATED"}, v, func(h client.Handoff) []string {
					return []string{dash(h.OwnerAccount), dash(h.CanaryChannel), tsp(h.CanaryValidatedAt), dash(h.RotationOwner), dash(h.NextRotation), tsp(h.UpdatedAt)}
				})}, err
			}
		}},
		{name: "quarantine", summary: "show whether an edge quarantines the installation's ingress id (a forged flood: answered 429 without verifying)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				q, err := c.Quarantine(ctx, a[0])
				if err != nil {
					return result{}, err
				}
				since, until := q.Since, q.Until
				if !q.Quarantined {
					since, until = q.LastSince, q.LastUntil
				}
				notes := []string{q.Detail}
				if q.Fix != "" {
					notes = append(notes, "fix: "+q.Fix)
				}
				return result{value: q, notes: notes, table: one([]string{"INGRESS", "QUARANTINED", "SINCE", "UNTIL", "REFUSED/MIN", "24H", "EDGES"}, q, func(q client.Quarantine) []string {
					return []string{q.IngressID, fmt.Sprint(q.Quarantined), tsp(since), tsp(until), fmt.Sprint(q.RefusedPerMinute), fmt.Sprint(q.Quarantines), dash(strings.Join(q.Edges, ","))}
				})}, nil
			}
		}},
		{name: "platform-credentials", summary: "opt an installation in or out of the platform's credentials (platform admin)", args: "ID", nargs: 1, setup: func(fs *flag.FlagSet, env *Env) action {
			enabled := fs.Bool("enabled", true, "true: use the platform's credentials; false: the installation's own")
			reason := fs.String("reason", "", "why (required, audited)")
			return func(ctx context.Context, c *client.Client, a []string) (result, error) {
				if strings.TrimSpace(*reason) == "" {
					return result{}, errors.New("--reason is required")
				}
				v, err := c.SetPlatformCredentials(ctx, a[0], client.PlatformCredentialsRequest{Enabled: *enabled, Reason: *reason})
				return result{value: v, table: one(installationHeader, v, installationRow)}, err
			}
		}},
	}}.command())
}

// setupVerb prints a setup packet: Markdown, or with --json the packet.
func setupVerb(get func(c *client.Client) (func(context.Context, string) (client.SetupPacket, error), func(context.Context, string) (string, error))) func(fs *flag.FlagSet, env *Env) action {
	return func(fs *flag.FlagSet, env *Env) action {
		return func(ctx context.Context, c *client.Client, a []string) (result, error) {
			js, md := get(c)
			p, err := js(ctx, a[0])
			if err != nil {
				return result{}, err
			}
			text, err := md(ctx, a[0])
			return result{value: p, notes: []string{strings.TrimRight(text, "\n")}}, err
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
