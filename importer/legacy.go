package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/switchboard-dev/switchboard/api"
	"github.com/switchboard-dev/switchboard/store"
)

// LegacyFormat is the value of "format" in a legacy file (docs/import.md).
const LegacyFormat = "switchboard-legacy/v1"

type legacyFile struct {
	Format    string                    `json:"format"`
	Providers map[string]legacyProvider `json:"providers"`
	Agents    map[string]legacyAgent    `json:"agents"`
	Bindings  []legacyBinding           `json:"bindings"`
}

type legacyProvider struct {
	Identity      string            `json:"identity"`
	ProfileID     string            `json:"profile_id"`
	Name          string            `json:"name"`
	ExternalAppID string            `json:"external_app_id"`
	Secrets       map[string]string `json:"secrets"`
}

type legacyAgent struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	SigningSecret string `json:"signing_secret"`
}

type legacyBinding struct {
	Provider string `json:"provider"`
	Account  string `json:"account"`
	Channel  string `json:"channel"`
	Peer     string `json:"peer"`
	Mention  string `json:"mention"`
	Agent    string `json:"agent"`
	Persona  string `json:"persona"`
	Priority int    `json:"priority"`
}

// maxFileSize bounds an input file.
const maxFileSize = 64 << 20

// FieldError names the file, row and field of a bad input value. Its text
// never quotes a secret.
type FieldError struct {
	File  string
	Field string // JSON path, e.g. bindings[3].agent
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// decodeError turns an encoding/json error into a FieldError.
func decodeError(file string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &FieldError{File: file, Field: te.Field, Msg: "must be " + jsonKind(te.Type.Kind().String())}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{File: file, Msg: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)}
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &FieldError{File: file, Msg: "unknown field " + msg}
	}
	return &FieldError{File: file, Msg: err.Error()}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + k
}

func readAll(file string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(b) > maxFileSize {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	return b, nil
}

func keyPart(s string) string { return url.PathEscape(s) }

// ParseLegacy reads a legacy file (strict JSON, unknown fields refused).
func ParseLegacy(file string, r io.Reader) (*Source, error) {
	b, err := readAll(file, r)
	if err != nil {
		return nil, err
	}
	var lf legacyFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lf); err != nil {
		return nil, decodeError(file, err)
	}
	if dec.More() {
		return nil, &FieldError{File: file, Msg: "more than one JSON document"}
	}
	if lf.Format != LegacyFormat {
		return nil, &FieldError{File: file, Field: "format", Msg: fmt.Sprintf("must be %q", LegacyFormat)}
	}
	src := &Source{Format: "legacy", File: file}
	providers := make([]string, 0, len(lf.Providers))
	for p := range lf.Providers {
		providers = append(providers, p)
	}
	sort.Strings(providers)
	for _, p := range providers {
		lp := lf.Providers[p]
		where := "providers." + p
		if !api.KnownProvider(p) {
			return nil, &FieldError{File: file, Field: where, Msg: fmt.Sprintf("unknown provider (want one of %v)", api.Providers)}
		}
		switch lp.Identity {
		case "", IdentityPlatform, IdentityOrg:
		default:
			return nil, &FieldError{File: file, Field: where + ".identity", Msg: `must be "platform", "org" or absent`}
		}
		if lp.ProfileID != "" && lp.Identity == IdentityOrg {
			return nil, &FieldError{File: file, Field: where + ".profile_id", Msg: `names a platform profile: only with identity "platform"`}
		}
		if err := api.ValidateSecrets(p, lp.Secrets); err != nil {
			return nil, &FieldError{File: file, Field: where, Msg: err.Error()}
		}
		name := lp.Name
		if name == "" {
			name = "legacy " + p
		}
		if tok := lp.Secrets[store.PurposeBotToken]; p == "telegram" && lp.ExternalAppID == "" && tok != "" {
			lp.ExternalAppID, _, _ = strings.Cut(tok, ":") // the bot id
		}
		src.Accounts = append(src.Accounts, Account{Key: p, Where: where, Provider: p, Name: name, Identity: lp.Identity,
			ProfileID: lp.ProfileID, ExternalAppID: lp.ExternalAppID, Secrets: lp.Secrets,
			MissingSecret: fmt.Sprintf("give %s.secrets.%s", where, api.VerifyPurpose(p))})
	}
	agents := make([]string, 0, len(lf.Agents))
	for a := range lf.Agents {
		agents = append(agents, a)
	}
	sort.Strings(agents)
	for _, id := range agents {
		la := lf.Agents[id]
		where := "agents." + id
		if la.URL != "" {
			if err := api.CheckAgentURL(la.URL); err != nil {
				return nil, &FieldError{File: file, Field: where, Msg: err.Error()}
			}
		}
		if la.SigningSecret != "" {
			if err := api.CheckAgentSecret(la.SigningSecret); err != nil {
				return nil, &FieldError{File: file, Field: where, Msg: err.Error()}
			}
		}
		name := la.Name
		if name == "" {
			name = id
		}
		src.Agents = append(src.Agents, Agent{Key: "agent/" + keyPart(id), Where: where, Name: name, URL: la.URL,
			Secret: la.SigningSecret, NoURL: where + ".url is missing"})
	}
	seen := map[string]string{}
	dups := map[string]bool{}
	for i, lb := range lf.Bindings {
		where := fmt.Sprintf("bindings[%d]", i)
		if lb.Provider == "" {
			return nil, &FieldError{File: file, Field: where + ".provider", Msg: "required"}
		}
		if _, ok := lf.Providers[lb.Provider]; !ok {
			return nil, &FieldError{File: file, Field: where + ".provider", Msg: fmt.Sprintf("%q has no entry under providers", lb.Provider)}
		}
		if lb.Agent == "" {
			return nil, &FieldError{File: file, Field: where + ".agent", Msg: "required"}
		}
		sel := store.Selector{Account: lb.Account, Channel: lb.Channel, Peer: lb.Peer, Mention: lb.Mention}
		if err := api.CheckSelector(sel); err != nil {
			return nil, &FieldError{File: file, Field: where, Msg: err.Error()}
		}
		if lb.Priority < -api.MaxPriority || lb.Priority > api.MaxPriority {
			return nil, &FieldError{File: file, Field: where + ".priority", Msg: fmt.Sprintf("must be between %d and %d", -api.MaxPriority, api.MaxPriority)}
		}
		if len(lb.Persona) > 128 {
			return nil, &FieldError{File: file, Field: where + ".persona", Msg: "must be at most 128 characters"}
		}
		key := strings.Join([]string{"binding", lb.Provider, keyPart(lb.Account), keyPart(lb.Channel), keyPart(lb.Peer), keyPart(lb.Mention)}, "/")
		if first, dup := seen[key]; dup {
			src.Refused = append(src.Refused, Item{Kind: "binding", Key: key, Where: where, Reason: ReasonDuplicate,
				Detail: fmt.Sprintf("same provider, account, channel, peer and mention as %s: which agent is meant is ambiguous", first)})
			dups[key] = true
			continue
		}
		seen[key] = where
		src.Bindings = append(src.Bindings, Binding{Key: key, Where: where, Account: lb.Provider, Tenant: lb.Account,
			Selector: sel, Agent: "agent/" + keyPart(lb.Agent), Persona: lb.Persona, Priority: lb.Priority})
	}
	if len(dups) > 0 { // neither of two rows with one key is imported
		kept := src.Bindings[:0]
		for _, b := range src.Bindings {
			if dups[b.Key] {
				src.Refused = append(src.Refused, Item{Kind: "binding", Key: b.Key, Where: b.Where, Reason: ReasonDuplicate,
					Detail: "another row has the same provider, account, channel, peer and mention: which agent is meant is ambiguous"})
				continue
			}
			kept = append(kept, b)
		}
		src.Bindings = kept
	}
	return src, nil
}
