package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
	"github.com/switchboard-dev/switchboard/datadir"
	"github.com/switchboard-dev/switchboard/probe"
	"github.com/switchboard-dev/switchboard/rollout"
	"github.com/switchboard-dev/switchboard/testevent"
)

const matrixSummary = "run the security failure-path matrix against a live deployment (records signed evidence), or show a report"

// Version is the binary's version, set by the main package (written into
// matrix reports).
var Version = "devel"

func init() {
	add(Command{Name: "matrix", Summary: matrixSummary, Run: runMatrix})
}

func matrixHelp(w io.Writer) {
	fmt.Fprintln(w, matrixSummary+`

usage: switchboard matrix run --provider P --edge URL --ingest URL [flags]
       switchboard matrix show --provider P [--id EVIDENCE] [flags]

run creates probe organisations (no tenant sees them; admitted while P is at
canary), their installations and a probe agent in this process, sends forged,
missing-signature, stale, future, replayed, cross-tenant, rotated-out, revoked,
platform-secret-on-BYOA (and the reverse), header-spoofing,
unattested-straight-to-ingest, oversized and malformed requests plus valid
controls, checks with the probe agent that nothing forged arrived and every
control did, records the report (signed by the control plane) with
POST /v1/rollout/P/evidence, and cleans up. Exit status 1 when not green.

flags:`)
}

func runMatrix(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || isHelp(args[:1]) {
		w := env.Stderr
		if len(args) > 0 {
			w = env.Stdout
		}
		matrixHelp(w)
		if len(args) == 0 {
			return ExitError{Code: 2}
		}
		return nil
	}
	switch args[0] {
	case "run":
		return matrixRun(ctx, env, args[1:])
	case "show":
		return matrixShow(ctx, env, args[1:])
	}
	return usageErr(env, "matrix", "unknown verb %q (verbs: run, show)", args[0])
}

// probeFlags are the flags a live probe run needs.
type probeFlags struct {
	provider, edge, ingest, agentListen, agentURL string
	ready                                         time.Duration
}

func (p *probeFlags) add(fs interface {
	StringVar(*string, string, string, string)
	DurationVar(*time.Duration, string, time.Duration, string)
}) {
	fs.StringVar(&p.provider, "provider", "", "provider to probe (required): "+strings.Join(probe.Providers, ", "))
	fs.StringVar(&p.edge, "edge", "http://127.0.0.1:8443", "base URL of the edge providers POST to")
	fs.StringVar(&p.ingest, "ingest", "", "base URL of ingest (the unattested-straight-to-ingest case; without it the matrix is not green)")
	fs.StringVar(&p.agentListen, "agent-listen", "127.0.0.1:0", "where the probe agent listens")
	fs.StringVar(&p.agentURL, "agent-url", "", "URL the workers reach the probe agent at (default: http://<agent-listen>/)")
	fs.DurationVar(&p.ready, "ready-timeout", 30*time.Second, "how long to wait for the probe installations to reach the edge")
}

func matrixRun(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("matrix run", env)
	var pf probeFlags
	pf.add(fs)
	platProfile := fs.String("platform-profile", "", "a platform profile of the provider, for the platform-secret-on-BYOA cases")
	platSecret := fs.String("platform-secret-file", "", "file with that platform profile's signing secret (Discord: its Ed25519 private key, hex)")
	record := fs.Bool("record", true, "record the report as evidence (POST /v1/rollout/P/evidence)")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		matrixHelp(env.Stdout)
		printFlags(env.Stdout, fs)
		return nil
	}
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagErr(err)
	}
	if pf.provider == "" {
		return usageErr(env, "matrix run", "--provider is required")
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	opts := probe.MatrixOptions{Ingest: pf.ingest}
	// The provider's platform profiles make the platform-secret cases
	// required: without them the report cannot be green, so say what to pass
	// before probing.
	var mreq rollout.MatrixRequirements
	plats, err := cl.ListProfiles(ctx, client.ProfilesOfPlatform)
	if err != nil {
		return fmt.Errorf("list the platform profiles of %s: %w", pf.provider, err)
	}
	for _, p := range plats {
		if p.Provider == pf.provider && p.RevokedAt == nil {
			mreq.PlatformProfiles = append(mreq.PlatformProfiles, p.ID)
		}
	}
	if len(mreq.PlatformProfiles) > 0 && (*platProfile == "" || *platSecret == "") {
		return usageErr(env, "matrix run", "%s has the platform profile %s: the platform-secret-on-BYOA and BYOA-secret-on-platform cases are required; pass --platform-profile %s --platform-secret-file FILE (that profile's signing secret)",
			pf.provider, strings.Join(mreq.PlatformProfiles, ", "), mreq.PlatformProfiles[0])
	}
	if *platProfile != "" {
		p, err := cl.GetProfile(ctx, *platProfile)
		if err != nil {
			return fmt.Errorf("--platform-profile: %w", err)
		}
		if p.IngressID == "" || p.Provider != pf.provider {
			return fmt.Errorf("--platform-profile %s is not a platform profile of %s", *platProfile, pf.provider)
		}
		if *platSecret == "" {
			return errors.New("--platform-profile needs --platform-secret-file")
		}
		v, ok, err := datadir.ReadSecretFile(*platSecret)
		if err == nil && !ok {
			err = errors.New("no such file")
		}
		if err != nil {
			return fmt.Errorf("--platform-secret-file: %w", err)
		}
		cred := testevent.Credentials{Secret: v}
		if pf.provider == "discord" {
			k, err := testevent.ParsePrivateKey(v)
			if err != nil {
				return fmt.Errorf("--platform-secret-file: %w", err)
			}
			cred = testevent.Credentials{PrivateKey: k}
		}
		opts.PlatformIngress, opts.PlatformCred = p.IngressID, &cred
	}
	h, err := probe.Setup(ctx, probe.Config{API: cl, Provider: pf.provider, Edge: pf.edge, AgentListen: pf.agentListen, AgentURL: pf.agentURL,
		Tenants: 2, Name: "matrix", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer func() {
		if h != nil {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if cerr := h.Cleanup(cctx); cerr != nil {
				fmt.Fprintf(env.Stderr, "matrix: cleanup: %v\n", cerr)
			} else {
				fmt.Fprintln(env.Stderr, "matrix: probe organisations revoked and removed")
			}
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "matrix: probe organisations %s, probe agent at %s\n", strings.Join(h.Orgs, ", "), h.AgentURL())
	if err := h.WaitReady(ctx, pf.ready); err != nil {
		return err
	}
	rep, err := probe.RunMatrix(ctx, h, opts)
	if err != nil {
		return err
	}
	rep.BinaryVersion = Version
	rep.EdgeConfigVersion = probe.EdgeConfigVersion(ctx, h)
	green, problems := rollout.CheckMatrix(&rep, mreq)
	var ev *client.Evidence
	if *record {
		e, err := cl.RecordEvidence(ctx, pf.provider, client.EvidenceRequest{Kind: rollout.KindMatrix, Report: rep})
		if err != nil {
			return fmt.Errorf("record the matrix report: %w", err)
		}
		ev = &e
		green, problems = e.Passed, e.Problems
	}
	if cn.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"report": rep, "green": green, "problems": problems, "evidence": ev})
	} else {
		printMatrix(env.Stdout, rep)
		if ev != nil {
			fmt.Fprintf(env.Stdout, "recorded as evidence %s (signed %s)\n", ev.ID, ev.KeyID)
		}
		if green {
			fmt.Fprintln(env.Stdout, "GREEN: every case as expected")
		} else {
			fmt.Fprintf(env.Stdout, "RED: %s\n", strings.Join(problems, "; "))
		}
	}
	if !green {
		return ExitError{Code: 1}
	}
	return nil
}

func printMatrix(w io.Writer, rep rollout.MatrixReport) {
	t := table{header: []string{"CASE", "EXPECTED", "OBSERVED", "STATUS", "REASON", "PASS"}}
	for _, c := range rep.Cases {
		st := "-"
		if c.Status != 0 {
			st = strconv.Itoa(c.Status)
		}
		pass := "ok"
		if !c.Pass {
			pass = "FAIL"
		}
		t.rows = append(t.rows, []string{c.Name, c.Expected, c.Observed, st, dash(c.Reason), pass})
	}
	t.write(w)
	fmt.Fprintf(w, "provider %s; edge configuration %s; binary %s; %s .. %s\n", rep.Provider, dash(rep.EdgeConfigVersion), dash(rep.BinaryVersion),
		rep.StartedAt.Format(time.RFC3339), rep.FinishedAt.Format(time.RFC3339))
}

func matrixShow(ctx context.Context, env *Env, args []string) error {
	fs := flagSet("matrix show", env)
	provider := fs.String("provider", "", "provider (required)")
	id := fs.String("id", "", "evidence id (default: the newest matrix report)")
	var cn conn
	cn.flags(fs, env)
	if isHelp(args) {
		matrixHelp(env.Stdout)
		printFlags(env.Stdout, fs)
		return nil
	}
	if _, err := parseInterleaved(fs, args); err != nil {
		return flagErr(err)
	}
	if *provider == "" {
		return usageErr(env, "matrix show", "--provider is required")
	}
	cl, err := cn.client(env)
	if err != nil {
		return err
	}
	if *id == "" {
		l, err := cl.ListEvidence(ctx, *provider)
		if err != nil {
			return err
		}
		for _, e := range l {
			if e.Kind == rollout.KindMatrix {
				*id = e.ID
				break
			}
		}
		if *id == "" {
			return fmt.Errorf("no matrix report recorded for %s: run `switchboard matrix run --provider %s`", *provider, *provider)
		}
	}
	e, err := cl.GetEvidence(ctx, *provider, *id)
	if err != nil {
		return err
	}
	key, err := cl.GetEvidenceKey(ctx)
	if err != nil {
		return err
	}
	verified := verifyEvidence(key, e)
	var doc struct {
		Passed   bool                 `json:"passed"`
		Problems []string             `json:"problems"`
		Stage    string               `json:"stage"`
		Report   rollout.MatrixReport `json:"report"`
	}
	if err := json.Unmarshal([]byte(e.Document), &doc); err != nil {
		return fmt.Errorf("evidence %s: %w", e.ID, err)
	}
	if cn.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"evidence": e, "signature_verified": verified})
	}
	printMatrix(env.Stdout, doc.Report)
	sig := "signature verified with " + key.KeyID
	if !verified {
		sig = "SIGNATURE DOES NOT VERIFY with the control plane's current key " + key.KeyID + " (signed " + e.KeyID + ")"
	}
	verdict := "GREEN"
	if !doc.Passed {
		verdict = "RED: " + strings.Join(doc.Problems, "; ")
	}
	fmt.Fprintf(env.Stdout, "evidence %s recorded %s at stage %s by %s; %s\n%s\n", e.ID, ts(e.RecordedAt), doc.Stage, e.Actor, sig, verdict)
	return nil
}

func verifyEvidence(k client.EvidenceKey, e client.Evidence) bool {
	pub, err := base64.StdEncoding.DecodeString(k.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize || k.KeyID != e.KeyID {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	return err == nil && ed25519.Verify(pub, []byte(e.Document), sig)
}
