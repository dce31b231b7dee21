// Package registration registers an installation's webhook at its provider
// with the installation's own credentials (Telegram setWebhook, Discord's
// interactions endpoint, Meta's webhook subscriptions) and checks what the
// provider has (Telegram getWebhookInfo, Slack auth.test). Each provider's
// folder registers its functions; the API opens the secrets at that
// boundary only and passes them in a Request.
//
// A provider's refusal is reported in full (its own description) in the
// Step that failed; no Step, error or Info value carries a secret: every
// text taken from a provider's answer goes through Request.Redact.
package registration

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// Request is one registration (or check) of an installation.
type Request struct {
	InstallationID string
	WebhookURL     string
	ExternalAppID  string // the profile's app id (Meta app id, Discord application id)
	ExternalID     string // the installation's account id (WhatsApp phone number id, Page id, guild id)
	// Secrets holds the opened secrets the provider needs, purpose -> value.
	Secrets map[string]string
	// Params are the request's own parameters (e.g. waba_id).
	Params map[string]string
	// Base is the provider API's origin ("" = the provider's default).
	Base string
	HTTP *http.Client
}

// Redact replaces every secret value of r in s.
func (r Request) Redact(s string) string {
	for _, v := range r.Secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "<redacted>")
		}
	}
	return s
}

// Step is one call at the provider and what came of it.
type Step struct {
	Name   string `json:"name"` // e.g. "setWebhook"
	OK     bool   `json:"ok"`
	Detail string `json:"detail"` // the provider's own description on failure
}

// Result is what a registration or check found.
type Result struct {
	Provider string         `json:"provider"`
	OK       bool           `json:"ok"`
	Steps    []Step         `json:"steps"`
	Info     map[string]any `json:"info"`
	// Fix says what to do when !OK.
	Fix string `json:"fix,omitempty"`
}

// Add appends a step and keeps OK as the conjunction of the steps.
func (r *Result) Add(name string, ok bool, detail string) {
	r.Steps = append(r.Steps, Step{Name: name, OK: ok, Detail: detail})
	r.OK = len(r.Steps) > 0
	for _, s := range r.Steps {
		r.OK = r.OK && s.OK
	}
}

// MissingSecretError: the installation (and its profile) lack a secret the
// provider call needs.
type MissingSecretError struct{ Purpose, Why string }

func (e *MissingSecretError) Error() string {
	return "no " + e.Purpose + " secret: " + e.Why
}

// MissingParamError: the request lacks a parameter (e.g. waba_id).
type MissingParamError struct{ Param, Why string }

func (e *MissingParamError) Error() string { return e.Param + " is required: " + e.Why }

// Provider is a provider's registration side.
type Provider struct {
	// Needs are the secret purposes Register (and Check) use.
	Needs []string
	// Register registers the webhook at the provider. nil: the provider has
	// no registration API (the packet says what to enter by hand).
	Register func(ctx context.Context, r Request) (Result, error)
	// Check reads back what the provider has (health); nil: nothing to read.
	Check func(ctx context.Context, r Request) (Result, error)
}

var (
	mu        sync.RWMutex
	providers = map[string]Provider{}
)

// Add registers a provider's registration side; twice panics.
func Add(name string, p Provider) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := providers[name]; dup {
		panic("registration: duplicate registration of " + name)
	}
	providers[name] = p
}

// Get returns a provider's registration side.
func Get(name string) (Provider, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := providers[name]
	return p, ok
}

// Names lists the providers with a registration side, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(providers))
	for n := range providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Need returns r's secret of purpose or a *MissingSecretError.
func (r Request) Need(purpose, why string) (string, error) {
	if v := r.Secrets[purpose]; v != "" {
		return v, nil
	}
	return "", &MissingSecretError{Purpose: purpose, Why: why}
}
