package filter

import (
	"errors"
	"strconv"
	"strings"
)

// ProviderSchemes maps the providers Switchboard knows to their scheme. A
// configuration may name other providers (any service speaking one of the
// schemes, e.g. Standard Webhooks); a known provider must use its scheme.
var ProviderSchemes = map[string]Scheme{
	"slack":            SchemeSlackV0,
	"whatsapp":         SchemeMetaSHA256,
	"messenger":        SchemeMetaSHA256,
	"instagram":        SchemeMetaSHA256,
	"telegram":         SchemeTelegramToken,
	"discord":          SchemeDiscordEd25519,
	"twilio":           SchemeTwilioSHA1,
	"line":             SchemeLINE,
	"standardwebhooks": SchemeStandardWebhooks,
	"github":           SchemeGitHubSHA256,
}

// Secret purposes.
const (
	PurposeSigning     = "signing"      // HMAC key, sealed
	PurposePublicKey   = "public_key"   // Ed25519 public key (hex), sealed
	PurposeVerifyToken = "verify_token" // Meta GET handshake token, fingerprint
	PurposeSecretToken = "secret_token" // Telegram secret_token, fingerprint
)

// schemePurposes lists the secret purposes each scheme uses.
var schemePurposes = map[Scheme][]string{
	SchemeSlackV0:          {PurposeSigning},
	SchemeMetaSHA256:       {PurposeSigning, PurposeVerifyToken},
	SchemeTelegramToken:    {PurposeSecretToken},
	SchemeDiscordEd25519:   {PurposePublicKey},
	SchemeTwilioSHA1:       {PurposeSigning},
	SchemeLINE:             {PurposeSigning},
	SchemeStandardWebhooks: {PurposeSigning},
	SchemeGitHubSHA256:     {PurposeSigning},
}

// Limits on configured values (configuration errors beyond them).
const (
	MaxConfiguredBodyBytes    = 64 << 20
	MaxToleranceSeconds       = 3600
	ingressIDLen              = 32
	maxIDLen                  = 128
	fingerprintPrefix         = "hmac-sha256:"
	fingerprintHexLen         = 64
	maxSecretsPerInstallation = 16
)

// ConfigError names the field of the configuration that is wrong.
type ConfigError struct {
	Field string // e.g. installations[2].secrets[0].purpose
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "edge config: " + e.Msg
	}
	return "edge config: " + e.Field + ": " + e.Msg
}

func cfgErr(field, msg string) error { return &ConfigError{Field: field, Msg: msg} }

// ParseConfig reads an edge configuration strictly: unknown fields, unknown
// schemes, duplicate ingress ids and bad secret entries are errors naming the
// field. It does not unseal secrets (see Load).
func ParseConfig(data []byte) (*Config, error) {
	cfg, err := decodeConfig(data)
	if err != nil {
		return nil, err
	}
	if err := validateConfig(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeConfig maps JSON onto Config without semantic checks (the part the
// differential fuzz test compares with encoding/json).
func decodeConfig(data []byte) (*Config, error) {
	root, err := parseJSON(data)
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	if root.kind != jsonObject {
		return nil, cfgErr("", "must be a JSON object, not "+root.kind.String())
	}
	cfg := &Config{}
	for _, m := range root.obj {
		switch m.key {
		case "version":
			if cfg.Version, err = stringField(m.val); err != nil {
				return nil, cfgErr("version", err.Error())
			}
		case "manifest":
			if cfg.Manifest, err = boolField(m.val); err != nil {
				return nil, cfgErr("manifest", err.Error())
			}
		case "shard", "shards":
			n, err := m.val.int64Value()
			if err == nil && (n < 0 || n > MaxShards) {
				err = errors.New("must be between 0 and " + strconv.Itoa(MaxShards))
			}
			if err != nil {
				return nil, cfgErr(m.key, err.Error())
			}
			if m.key == "shard" {
				cfg.Shard = int(n)
			} else {
				cfg.Shards = int(n)
			}
		case "installations":
			if m.val.kind != jsonArray {
				return nil, cfgErr("installations", "must be an array, not "+m.val.kind.String())
			}
			cfg.Installations = make([]Installation, 0, len(m.val.arr))
			for i, iv := range m.val.arr {
				inst, err := decodeInstallation(iv, func() string { return "installations[" + strconv.Itoa(i) + "]" })
				if err != nil {
					return nil, err
				}
				cfg.Installations = append(cfg.Installations, inst)
			}
		default:
			return nil, cfgErr(m.key, "unknown field")
		}
	}
	return cfg, nil
}

func stringField(v jsonValue) (string, error) {
	if v.kind != jsonString {
		return "", errors.New("must be a string, not " + v.kind.String())
	}
	return v.s, nil
}

func boolField(v jsonValue) (bool, error) {
	if v.kind != jsonBool {
		return false, errors.New("must be a boolean, not " + v.kind.String())
	}
	return v.b, nil
}

// The decoders take the path of what they decode as a function: it is built
// only for an error, not for every field of every installation (a pushed
// configuration can hold 100k installations, parsed on every Wasm VM).
func decodeInstallation(v jsonValue, path func() string) (Installation, error) {
	var in Installation
	if v.kind != jsonObject {
		return in, cfgErr(path(), "must be an object, not "+v.kind.String())
	}
	for _, m := range v.obj {
		f := func() string { return path() + "." + m.key }
		var err error
		switch m.key {
		case "ingress_id":
			in.IngressID, err = stringField(m.val)
		case "provider":
			in.Provider, err = stringField(m.val)
		case "scheme":
			var s string
			s, err = stringField(m.val)
			in.Scheme = Scheme(s)
		case "org_id":
			in.OrgID, err = stringField(m.val)
		case "installation_id":
			in.InstallationID, err = stringField(m.val)
		case "profile_id":
			in.ProfileID, err = stringField(m.val)
		case "platform":
			in.Platform, err = boolField(m.val)
		case "revoked":
			in.Revoked, err = boolField(m.val)
		case "max_body_bytes":
			var n int64
			n, err = m.val.int64Value()
			if err == nil && (n < 0 || n > MaxConfiguredBodyBytes) {
				err = errors.New("must be between 0 and " + strconv.Itoa(MaxConfiguredBodyBytes))
			}
			in.MaxBodyBytes = int(n)
		case "tolerance_seconds":
			in.ToleranceSeconds, err = m.val.int64Value()
		case "public_url":
			in.PublicURL, err = stringField(m.val)
		case "secrets":
			if m.val.kind != jsonArray {
				return in, cfgErr(f(), "must be an array, not "+m.val.kind.String())
			}
			in.Secrets = make([]Secret, 0, len(m.val.arr))
			for i, sv := range m.val.arr {
				s, err := decodeSecret(sv, func() string { return f() + "[" + strconv.Itoa(i) + "]" })
				if err != nil {
					return in, err
				}
				in.Secrets = append(in.Secrets, s)
			}
		default:
			return in, cfgErr(f(), "unknown field")
		}
		if err != nil {
			return in, cfgErr(f(), err.Error())
		}
	}
	return in, nil
}

func decodeSecret(v jsonValue, path func() string) (Secret, error) {
	var s Secret
	if v.kind != jsonObject {
		return s, cfgErr(path(), "must be an object, not "+v.kind.String())
	}
	for _, m := range v.obj {
		var err error
		switch m.key {
		case "id":
			s.ID, err = stringField(m.val)
		case "purpose":
			s.Purpose, err = stringField(m.val)
		case "sealed":
			s.Sealed, err = stringField(m.val)
		case "fingerprint":
			s.Fingerprint, err = stringField(m.val)
		case "not_before":
			s.NotBefore, err = m.val.int64Value()
		case "not_after":
			s.NotAfter, err = m.val.int64Value()
		default:
			return s, cfgErr(path()+"."+m.key, "unknown field")
		}
		if err != nil {
			return s, cfgErr(path()+"."+m.key, err.Error())
		}
	}
	return s, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isWord reports whether s is 1..max bytes of ASCII letters, digits and the
// bytes in extra: the one character-class check behind ids, tokens and
// challenges.
func isWord(s string, max int, extra string) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// isToken reports whether s is 1..max chars of A-Z a-z 0-9 _ - . : (ids).
func isToken(s string, max int) bool { return isWord(s, max, "_-.:") }

func isProviderName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validateConfig(cfg *Config) error {
	switch {
	case cfg.Shards == 0 && (cfg.Manifest || cfg.Shard != 0):
		return cfgErr("shards", "required (1-"+strconv.Itoa(MaxShards)+") for a shard or a manifest")
	case cfg.Shards > 0 && cfg.Shard >= cfg.Shards:
		return cfgErr("shard", "must be below shards ("+strconv.Itoa(cfg.Shards)+")")
	case cfg.Manifest && cfg.Shard != 0:
		return cfgErr("shard", "a manifest is not a shard")
	case cfg.Manifest && len(cfg.Installations) > 0:
		return cfgErr("installations", "a manifest holds no installation")
	}
	seen := make(map[string]int, len(cfg.Installations))
	for i := range cfg.Installations {
		in := &cfg.Installations[i]
		p := func() string { return "installations[" + strconv.Itoa(i) + "]" } // built only for an error
		if len(in.IngressID) != ingressIDLen || !isLowerHex(in.IngressID) {
			return cfgErr(p()+".ingress_id", "must be 32 lowercase hex characters")
		}
		if j, dup := seen[in.IngressID]; dup {
			return cfgErr(p()+".ingress_id", "duplicate ingress id (also installations["+strconv.Itoa(j)+"])")
		}
		seen[in.IngressID] = i
		if cfg.Shards > 0 {
			if j := ShardOf(in.IngressID, cfg.Shards); j != cfg.Shard {
				return cfgErr(p()+".ingress_id", "belongs to shard "+strconv.Itoa(j)+" of "+strconv.Itoa(cfg.Shards)+", not "+strconv.Itoa(cfg.Shard))
			}
		}
		if !isProviderName(in.Provider) {
			return cfgErr(p()+".provider", "must be 1-64 characters of a-z 0-9 - _")
		}
		purposes, ok := schemePurposes[in.Scheme]
		if !ok {
			return cfgErr(p()+".scheme", "unknown scheme "+strconv.Quote(string(in.Scheme)))
		}
		if want, known := ProviderSchemes[in.Provider]; known && want != in.Scheme {
			return cfgErr(p()+".scheme", "provider "+in.Provider+" uses scheme "+string(want)+", not "+string(in.Scheme))
		}
		if !isToken(in.ProfileID, maxIDLen) {
			return cfgErr(p()+".profile_id", "required (1-128 characters of A-Z a-z 0-9 _ - . :)")
		}
		if in.Platform {
			if in.OrgID != "" {
				return cfgErr(p()+".org_id", "must be empty for a platform ingress")
			}
			if in.InstallationID != "" && !isToken(in.InstallationID, maxIDLen) {
				return cfgErr(p()+".installation_id", "must be 1-128 characters of A-Z a-z 0-9 _ - . :")
			}
		} else {
			if !isToken(in.OrgID, maxIDLen) {
				return cfgErr(p()+".org_id", "required for an org installation (1-128 characters of A-Z a-z 0-9 _ - . :)")
			}
			if !isToken(in.InstallationID, maxIDLen) {
				return cfgErr(p()+".installation_id", "required for an org installation (1-128 characters of A-Z a-z 0-9 _ - . :)")
			}
		}
		if in.ToleranceSeconds < 0 || in.ToleranceSeconds > MaxToleranceSeconds {
			return cfgErr(p()+".tolerance_seconds", "must be between 0 and "+strconv.Itoa(MaxToleranceSeconds))
		}
		if in.PublicURL != "" {
			if _, _, _, err := splitURL(in.PublicURL); err != nil {
				return cfgErr(p()+".public_url", err.Error())
			}
			if strings.IndexByte(in.PublicURL, '?') >= 0 || strings.IndexByte(in.PublicURL, '#') >= 0 {
				return cfgErr(p()+".public_url", "must not carry a query or fragment (the request's query is appended)")
			}
		}
		if len(in.Secrets) > maxSecretsPerInstallation {
			return cfgErr(p()+".secrets", "at most "+strconv.Itoa(maxSecretsPerInstallation)+" secrets per installation")
		}
		for k := range in.Secrets {
			s := &in.Secrets[k]
			sp := func() string { return p() + ".secrets[" + strconv.Itoa(k) + "]" }
			if !isToken(s.ID, maxIDLen) {
				return cfgErr(sp()+".id", "required (1-128 characters of A-Z a-z 0-9 _ - . :)")
			}
			for j := 0; j < k; j++ { // at most maxSecretsPerInstallation: no map needed
				if in.Secrets[j].ID == s.ID {
					return cfgErr(sp()+".id", "duplicate secret id "+strconv.Quote(s.ID))
				}
			}
			allowed := false
			for _, pp := range purposes {
				if pp == s.Purpose {
					allowed = true
				}
			}
			if !allowed {
				return cfgErr(sp()+".purpose", strconv.Quote(s.Purpose)+" is not used by scheme "+string(in.Scheme)+" (want one of "+strings.Join(purposes, ", ")+")")
			}
			switch s.Purpose {
			case PurposeSigning, PurposePublicKey:
				if s.Sealed == "" || s.Fingerprint != "" {
					return cfgErr(sp(), "a "+s.Purpose+" secret carries sealed and no fingerprint")
				}
			default:
				if s.Fingerprint == "" || s.Sealed != "" {
					return cfgErr(sp(), "a "+s.Purpose+" secret carries fingerprint and no sealed")
				}
				if !validFingerprint(s.Fingerprint) {
					return cfgErr(sp()+".fingerprint", "must be "+fingerprintPrefix+" followed by 64 lowercase hex characters")
				}
			}
			if s.NotBefore < 0 || s.NotAfter < 0 {
				return cfgErr(sp(), "not_before and not_after must not be negative")
			}
			if s.NotAfter != 0 && s.NotAfter <= s.NotBefore {
				return cfgErr(sp()+".not_after", "must be after not_before")
			}
		}
	}
	return nil
}

func validFingerprint(fp string) bool {
	return strings.HasPrefix(fp, fingerprintPrefix) &&
		len(fp) == len(fingerprintPrefix)+fingerprintHexLen &&
		isLowerHex(fp[len(fingerprintPrefix):])
}
