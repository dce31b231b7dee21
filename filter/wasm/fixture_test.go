package main

import (
	"crypto/ed25519"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
)

// Ingress numbers of the fixture's installations.
const (
	inSlackA = iota + 1
	inSlackB
	inSlackPlatform
	inSlackRevoked
	inSlackExpired
	inWhatsApp
	inTelegram
	inDiscord
	inTwilio
	inLINE
	inStandard
	inGitHub
)

// Plaintext secrets (only the tests know them; the configuration is sealed).
const (
	slackOld      = "slack-a-old-signing-secret"
	slackNew      = "slack-a-new-signing-secret"
	slackB        = "slack-b-signing-secret"
	slackPlatform = "slack-platform-signing-secret"
	metaSecret    = "meta-app-secret"
	verifyToken   = "meta-verify-token"
	telegramToken = "tg_secret-token-1"
	twilioToken   = "twilio-auth-token"
	lineSecret    = "line-channel-secret"
	githubSecret  = "github-webhook-secret"
	maxBodyA      = 2048
)

// A fixed Ed25519 key so the configuration is deterministic.
var discordKey = ed25519.NewKeyFromSeed([]byte("switchboard-discord-test-seed-32"))

var standardSecret = "whsec_" + "c3dpdGNoYm9hcmQtc3RhbmRhcmQtd2ViaG9va3MtMQ==" // base64("switchboard-standard-webhooks-1")

// allSecrets are the plaintexts that must never appear in a log line.
var allSecrets = []string{slackOld, slackNew, slackB, slackPlatform, metaSecret, verifyToken, telegramToken, twilioToken, lineSecret, githubSecret, standardSecret}

func orgInst(n int, provider string, scheme filter.Scheme, org string) filter.Installation {
	return filter.Installation{
		IngressID: ingress(n), Provider: provider, Scheme: scheme,
		OrgID: org, InstallationID: "inst_" + ingress(n)[26:], ProfileID: "prof_" + org,
	}
}

func identity(in filter.Installation) filter.Identity {
	return filter.Identity{Org: in.OrgID, Installation: in.InstallationID, Profile: in.ProfileID,
		Provider: in.Provider, IngressID: in.IngressID, Platform: in.Platform}
}

func signing(t testing.TB, in *filter.Installation, id, plaintext string, notBefore, notAfter int64) {
	in.Secrets = append(in.Secrets, filter.Secret{ID: id, Purpose: "signing",
		Sealed: sealed(t, in.IngressID, id, plaintext), NotBefore: notBefore, NotAfter: notAfter})
}

// fixture builds the edge configuration of the failure-path matrix.
func fixture(t testing.TB, mutate ...func(*filter.Config)) (filter.Config, map[int]filter.Installation) {
	t.Helper()
	byN := map[int]filter.Installation{}
	add := func(n int, in filter.Installation) { byN[n] = in }

	a := orgInst(inSlackA, "slack", filter.SchemeSlackV0, "org_a")
	a.MaxBodyBytes = maxBodyA
	signing(t, &a, "sec_old", slackOld, 0, now0-60) // rotated out a minute ago
	signing(t, &a, "sec_new", slackNew, now0-3600, 0)
	add(inSlackA, a)

	b := orgInst(inSlackB, "slack", filter.SchemeSlackV0, "org_b")
	signing(t, &b, "sec_b", slackB, 0, 0)
	add(inSlackB, b)

	p := filter.Installation{IngressID: ingress(inSlackPlatform), Provider: "slack", Scheme: filter.SchemeSlackV0,
		ProfileID: "prof_platform_slack", Platform: true}
	signing(t, &p, "sec_platform", slackPlatform, 0, 0)
	add(inSlackPlatform, p)

	r := orgInst(inSlackRevoked, "slack", filter.SchemeSlackV0, "org_a")
	r.Revoked = true
	signing(t, &r, "sec_r", slackB, 0, 0)
	add(inSlackRevoked, r)

	x := orgInst(inSlackExpired, "slack", filter.SchemeSlackV0, "org_a")
	signing(t, &x, "sec_x", slackOld, 0, now0-1)
	add(inSlackExpired, x)

	w := orgInst(inWhatsApp, "whatsapp", filter.SchemeMetaSHA256, "org_a")
	signing(t, &w, "sec_meta", metaSecret, 0, 0)
	w.Secrets = append(w.Secrets, filter.Secret{ID: "sec_verify", Purpose: "verify_token", Fingerprint: filter.Fingerprint(edgeKey, verifyToken)})
	add(inWhatsApp, w)

	tg := orgInst(inTelegram, "telegram", filter.SchemeTelegramToken, "org_a")
	tg.Secrets = []filter.Secret{{ID: "sec_tg", Purpose: "secret_token", Fingerprint: filter.Fingerprint(edgeKey, telegramToken)}}
	add(inTelegram, tg)

	d := orgInst(inDiscord, "discord", filter.SchemeDiscordEd25519, "org_a")
	d.Secrets = []filter.Secret{{ID: "sec_pub", Purpose: "public_key",
		Sealed: sealed(t, d.IngressID, "sec_pub", hexKey(discordKey.Public().(ed25519.PublicKey)))}}
	add(inDiscord, d)

	tw := orgInst(inTwilio, "twilio", filter.SchemeTwilioSHA1, "org_a")
	tw.PublicURL = "https://public.example.com" + hookPath("twilio", inTwilio)
	signing(t, &tw, "sec_tw", twilioToken, 0, 0)
	add(inTwilio, tw)

	l := orgInst(inLINE, "line", filter.SchemeLINE, "org_a")
	signing(t, &l, "sec_line", lineSecret, 0, 0)
	add(inLINE, l)

	s := orgInst(inStandard, "standardwebhooks", filter.SchemeStandardWebhooks, "org_a")
	signing(t, &s, "sec_std", standardSecret, 0, 0)
	add(inStandard, s)

	g := orgInst(inGitHub, "github", filter.SchemeGitHubSHA256, "org_a")
	signing(t, &g, "sec_gh", githubSecret, 0, 0)
	add(inGitHub, g)

	cfg := filter.Config{Version: "v-test-1"}
	for n := inSlackA; n <= inGitHub; n++ {
		cfg.Installations = append(cfg.Installations, byN[n])
	}
	for _, m := range mutate {
		m(&cfg)
	}
	return cfg, byN
}
