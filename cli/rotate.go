package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
)

const rotateSummary = "rotate a secret of a profile, installation or agent (the previous one stays valid for a while)"

func init() {
	add(Command{Name: "rotate", Summary: rotateSummary, Run: runRotate})
}

func rotateHelp(w io.Writer) {
	fmt.Fprintln(w, rotateSummary+`

usage: switchboard rotate profile|installation|agent ID PURPOSE [flags]

PURPOSE is the secret's purpose: signing, bot_token, secret_token, public_key,
verify_token (an agent's is signing; its new value is generated when none is given).

flags:`)
}

func runRotate(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("rotate", env)
	value := fs.String("value", "", "the new secret (visible in process listings: prefer --value-file)")
	valueFile := fs.String("value-file", "", "read the new secret from this file")
	keep := fs.Duration("keep-previous", 24*time.Hour, "how long the current secrets stay valid (0: end them now; at most 720h)")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		rotateHelp(env.Stdout)
		printFlags(env.Stdout, fs)
		return nil
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 3 {
		return usageErr(env, "rotate", "want profile|installation|agent ID PURPOSE, got %d argument(s)", len(pos))
	}
	kind, id, purpose := pos[0], pos[1], pos[2]
	var rot func(context.Context, string, string, client.RotateRequest) (client.Rotation, error)
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	switch kind {
	case "profile":
		rot = cl.RotateProfileSecret
	case "installation":
		rot = cl.RotateInstallationSecret
	case "agent":
		rot = cl.RotateAgentSecret
	default:
		msg := fmt.Sprintf("unknown kind %q: want profile, installation or agent", kind)
		if s := Suggest(kind, []string{"profile", "installation", "agent"}); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return usageErr(env, "rotate", "%s", msg)
	}
	v := *value
	if *valueFile != "" {
		fv, ok, err := datadir.ReadSecretFile(*valueFile)
		if err == nil && !ok {
			err = fmt.Errorf("no such file")
		}
		if err != nil {
			return fmt.Errorf("--value-file: %w", err)
		}
		v = fv
	}
	if v == "" && kind != "agent" {
		return usageErr(env, "rotate", "give the new secret with --value-file FILE (or --value)")
	}
	// A second of slack: "now" must not be in the past when it arrives.
	until := env.now().Add(*keep)
	if *keep == 0 {
		until = env.now().Add(time.Second)
	}
	r, err := rot(ctx, id, purpose, client.RotateRequest{Value: v, PreviousValidUntil: until})
	if err != nil {
		return err
	}
	res := result{value: r, table: rows([]string{"PURPOSE", "SECRET", "FINGERPRINT", "VALID FROM", "VALID UNTIL"}, r.Secrets, func(s client.Secret) []string {
		return []string{s.Purpose, s.ID, s.Fingerprint, ts(s.NotBefore), tsp(s.NotAfter)}
	})}
	res.notes = append(res.notes, fmt.Sprintf("rotated %s of %s %s; the previous %s stays valid until %s", purpose, r.OwnerKind, r.OwnerID, purpose, ts(r.PreviousValidUntil)))
	if r.Value != "" {
		res.notes = append(res.notes, "new secret (shown this once): "+r.Value)
	}
	return printResult(env, cn.json, res)
}
