package api

import "github.com/switchboard-dev/switchboard/store"

// ValidateSecrets checks a provider's secrets (purpose -> value) as the API
// does; the error names the purpose (secrets.<purpose>) and never quotes a
// value.
func ValidateSecrets(provider string, values map[string]string) error {
	_, err := validateSecrets(provider, values, "secrets")
	return err
}

// VerifyPurpose is the secret purpose the edge verifies a provider's requests
// with ("" for an unknown provider).
func VerifyPurpose(provider string) string { return requiredVerifySecret[provider] }

// KnownProvider reports a provider the API accepts.
func KnownProvider(provider string) bool { return knownProvider(provider) }

// CheckAgentURL checks an agent URL as the API does by default: its form,
// and that it names no loopback, private, link-local, metadata or reserved
// address (egress.HostAllowed). CheckAgentURLAllowPrivate is the check of a
// deployment that allows private agent URLs (form only).
func CheckAgentURL(raw string) error { return (&Server{}).checkAgentURL("url", raw) }

// CheckAgentURLAllowPrivate checks an agent URL's form only, as the API does
// with Config.AllowPrivateAgentURLs.
func CheckAgentURLAllowPrivate(raw string) error {
	return (&Server{allowPrivateAgentURLs: true}).checkAgentURL("url", raw)
}

// CheckAgentSecret checks a given agent signing secret (a Standard Webhooks
// whsec_ secret); the message never quotes it.
func CheckAgentSecret(v string) error {
	if msg := whsecSecret(v); msg != "" {
		return fieldErr("signing_secret", "%s", msg)
	}
	return nil
}

// CheckSelector checks a binding selector as the API does.
func CheckSelector(sel store.Selector) error { return checkSelector(sel) }

// MaxPriority bounds a binding's priority (both signs).
const MaxPriority = maxPriority
