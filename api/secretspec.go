package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/provider/github"
	"github.com/switchboard-dev/switchboard/provider/twilio"
	"github.com/switchboard-dev/switchboard/store"
)

// Providers the API accepts, in documentation order.
var Providers = []string{"slack", "telegram", "whatsapp", "messenger", "instagram", "discord", "twilio", "line", "standardwebhooks", "github"}

func knownProvider(p string) bool {
	for _, k := range Providers {
		if k == p {
			return true
		}
	}
	return false
}

// secretCheck validates one secret value. It returns a message that never
// quotes the value (a rejected secret may still be a real one).
type secretCheck func(v string) string

// providerSecrets lists, per provider, the secret purposes it takes and how
// each is validated. A purpose absent from a provider's map is refused.
var providerSecrets = map[string]map[string]secretCheck{
	"slack":     {store.PurposeSigning: alnumOfLen(32, "a Slack signing secret"), store.PurposeBotToken: prefixed("a Slack bot token", "xoxb-")},
	"whatsapp":  metaSecrets,
	"messenger": metaSecrets,
	"instagram": metaSecrets,
	"telegram":  {store.PurposeSecretToken: telegramSecretToken, store.PurposeBotToken: telegramBotToken},
	"discord":   {store.PurposePublicKey: hexOfLen(64, "a Discord application public key (Ed25519)"), store.PurposeBotToken: opaque(4096)},
	"twilio":    {store.PurposeSigning: hexOfLen(32, "a Twilio auth token"), store.PurposeBotToken: twilioCredentials},
	"line":      {store.PurposeSigning: hexOfLen(32, "a LINE channel secret"), store.PurposeBotToken: opaque(4096)},
	// A Standard Webhooks installation's bot_token is the whsec_ secret its
	// replies to reply_url are signed with.
	"standardwebhooks": {store.PurposeSigning: whsecSecret, store.PurposeBotToken: whsecSecret},
	"github":           {store.PurposeSigning: opaque(256), store.PurposeBotToken: githubCredentials},
}

var metaSecrets = map[string]secretCheck{
	store.PurposeSigning:     hexOfLen(32, "a Meta app secret"),
	store.PurposeVerifyToken: opaque(256),
	store.PurposeBotToken:    opaque(4096),
}

// requiredVerifySecret is the purpose the edge verifies a provider's requests
// with. An installation of an organisation's own profile must have it (on the
// installation or on the profile): a missing secret would only fail closed at
// the edge, so the API says so at creation time.
var requiredVerifySecret = map[string]string{
	"slack": store.PurposeSigning, "whatsapp": store.PurposeSigning, "messenger": store.PurposeSigning,
	"instagram": store.PurposeSigning, "telegram": store.PurposeSecretToken, "discord": store.PurposePublicKey,
	"twilio": store.PurposeSigning, "line": store.PurposeSigning, "standardwebhooks": store.PurposeSigning,
	"github": store.PurposeSigning,
}

func hexOfLen(n int, what string) secretCheck {
	return func(v string) string {
		if len(v) != n {
			return fmt.Sprintf("must be %s: %d hex characters, got %d characters", what, n, len(v))
		}
		if _, err := hex.DecodeString(v); err != nil {
			return fmt.Sprintf("must be %s: %d hex characters", what, n)
		}
		return ""
	}
}

// alnumOfLen accepts exactly n ASCII letters and digits (Slack's signing
// secrets are hex, but its documented example is not).
func alnumOfLen(n int, what string) secretCheck {
	return func(v string) string {
		if len(v) != n {
			return fmt.Sprintf("must be %s: %d letters and digits, got %d characters", what, n, len(v))
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return fmt.Sprintf("must be %s: %d letters and digits", what, n)
			}
		}
		return ""
	}
}

// opaque accepts 1..max printable ASCII characters without whitespace.
func opaque(max int) secretCheck {
	return func(v string) string {
		if v == "" || len(v) > max {
			return fmt.Sprintf("must be 1 to %d characters", max)
		}
		for i := 0; i < len(v); i++ {
			if v[i] <= ' ' || v[i] > '~' {
				return "must be printable ASCII without whitespace"
			}
		}
		return ""
	}
}

func prefixed(what, prefix string) secretCheck {
	base := opaque(4096)
	return func(v string) string {
		if !strings.HasPrefix(v, prefix) {
			return fmt.Sprintf("must be %s (starting with %q)", what, prefix)
		}
		return base(v)
	}
}

// twilioCredentials is what the Twilio sender authenticates with:
// "<AccountSid>:<AuthToken>" or "<AccountSid>:<ApiKeySid>:<ApiKeySecret>".
func twilioCredentials(v string) string {
	if msg := opaque(512)(v); msg != "" {
		return msg
	}
	if _, err := twilio.ParseCredentials(v); err != nil {
		return `must be "<AccountSid>:<AuthToken>" or "<AccountSid>:<ApiKeySid>:<ApiKeySecret>" (Twilio credentials)`
	}
	return ""
}

// githubCredentials is a token (installation access token, fine-grained
// token) or the GitHub App's private key (PEM, RSA), which the sender
// exchanges for installation tokens.
func githubCredentials(v string) string {
	if !github.IsPrivateKey(v) {
		return opaque(4096)(v)
	}
	if len(v) > 8192 {
		return "must be at most 8192 characters (a GitHub App private key)"
	}
	if _, err := github.ParsePrivateKey(v); err != nil {
		return "must be a token or a GitHub App private key (PEM, RSA)"
	}
	return ""
}

// telegramSecretToken follows setWebhook: 1-256 characters of A-Z a-z 0-9 _ -.
func telegramSecretToken(v string) string {
	if v == "" || len(v) > 256 {
		return "must be 1 to 256 characters (Telegram secret_token)"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "must contain only A-Z, a-z, 0-9, _ and - (Telegram secret_token)"
		}
	}
	return ""
}

// telegramBotToken is "<bot id>:<secret>".
func telegramBotToken(v string) string {
	id, rest, ok := strings.Cut(v, ":")
	if !ok || id == "" || rest == "" || len(v) > 256 {
		return "must be a Telegram bot token (<bot id>:<token>)"
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return "must be a Telegram bot token (<bot id>:<token>)"
		}
	}
	if msg := telegramSecretToken(rest); msg != "" {
		return "must be a Telegram bot token (<bot id>:<token>)"
	}
	return ""
}

// whsecSecret is a Standard Webhooks secret: "whsec_" + base64 of 24 to 64 bytes.
func whsecSecret(v string) string {
	const msg = `must be a Standard Webhooks secret: "whsec_" followed by base64 of 24 to 64 bytes`
	b64, ok := strings.CutPrefix(v, "whsec_")
	if !ok {
		return msg
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) < 24 || len(raw) > 64 {
		return msg
	}
	return ""
}

// validateSecrets checks a write-only secrets object for provider; field is
// the JSON path prefix ("secrets"). It returns the purposes in a stable order.
func validateSecrets(provider string, in map[string]string, field string) ([]string, error) {
	allowed := providerSecrets[provider]
	purposes := make([]string, 0, len(in))
	for k := range in {
		purposes = append(purposes, k)
	}
	sort.Strings(purposes)
	for _, purpose := range purposes {
		check, ok := allowed[purpose]
		if !ok {
			return nil, fieldErr(field+"."+purpose, "%s does not use a %q secret (it takes: %s)", provider, purpose, strings.Join(purposeNames(allowed), ", "))
		}
		if msg := check(in[purpose]); msg != "" {
			return nil, fieldErr(field+"."+purpose, "%s", msg)
		}
	}
	return purposes, nil
}

func purposeNames(m map[string]secretCheck) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// secretValues is the write-only "secrets" object of a request: purpose ->
// value. Decoding names the offending purpose when a value is not a string.
type secretValues map[string]string

func (sv *secretValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fieldErr("secrets", "must be an object of purpose -> string")
	}
	out := make(secretValues, len(raw))
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fieldErr("secrets."+k, "must be a JSON string")
		}
		out[k] = s
	}
	*sv = out
	return nil
}
