package filter

import (
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
// differential fuzz tests compare with encoding/json and with the value-tree
// decoder it replaced). It reads the document once, decoding each member
// straight into its field: no value tree is built, so a configuration costs
// its installations' allocations only (what a Wasm VM pays per push, under
// TinyGo's collector). Errors are those of the tree decoder: a syntax error
// anywhere in the document first (the tree parsed the whole document before
// mapping it), else the first mapping error in document order.
func decodeConfig(data []byte) (*Config, error) {
	d := &decoder{r: jsonReader{data: data}}
	cfg := &Config{}
	d.r.skipSpace()
	if err := d.top(cfg); err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	d.r.skipSpace()
	if d.r.pos != len(d.r.data) {
		return nil, &ConfigError{Msg: d.r.fail("unexpected data after the top-level value").Error()}
	}
	if d.err != nil {
		return nil, d.err
	}
	return cfg, nil
}

// decoder is decodeConfig's state: a syntax error ends the read at once
// (returned); a mapping error is kept (the first) while the rest of the
// document is still read for syntax.
type decoder struct {
	r   jsonReader
	err error
}

func (d *decoder) mapping(field, msg string) {
	if d.err == nil {
		d.err = cfgErr(field, msg)
	}
}

// kind is the kind of the value at the read position (ok false when no
// value can start there: value() then reports the syntax error).
func (d *decoder) kind() (jsonKind, bool) {
	if d.r.pos >= len(d.r.data) {
		return 0, false
	}
	switch c := d.r.data[d.r.pos]; {
	case c == '{':
		return jsonObject, true
	case c == '[':
		return jsonArray, true
	case c == '"':
		return jsonString, true
	case c == 't' || c == 'f':
		return jsonBool, true
	case c == 'n':
		return jsonNull, true
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonNumber, true
	}
	return 0, false
}

// skip reads a value of the wrong kind (or of an unknown field) for its
// syntax only.
func (d *decoder) skip(depth int) error {
	_, err := d.r.value(depth)
	return err
}

// members reads an object's members, calling member for each key with the
// read position at its value; member must read the value. Duplicate keys
// are syntax errors, as in the tree reader.
func (d *decoder) members(depth int, member func(key string) error) error {
	if depth > maxJSONDepth {
		return d.r.fail("nesting too deep")
	}
	r := &d.r
	r.pos++ // {
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == '}' {
		r.pos++
		return nil
	}
	var seen [8]string // keys so far (an object of the configuration has at most 14)
	keys := seen[:0]
	for {
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != '"' {
			return r.fail("expected a string key")
		}
		key, err := r.key()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k == key {
				return r.fail("duplicate key " + strconv.Quote(key))
			}
		}
		keys = append(keys, key)
		r.skipSpace()
		if r.pos >= len(r.data) || r.data[r.pos] != ':' {
			return r.fail("expected ':'")
		}
		r.pos++
		r.skipSpace()
		if err := member(key); err != nil {
			return err
		}
		r.skipSpace()
		if r.pos >= len(r.data) {
			return r.fail("unexpected end of input in object")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return nil
		default:
			return r.fail("expected ',' or '}'")
		}
	}
}

// elements reads an array's elements, calling element(i) with the read
// position at each.
func (d *decoder) elements(depth int, element func(i int) error) error {
	if depth > maxJSONDepth {
		return d.r.fail("nesting too deep")
	}
	r := &d.r
	r.pos++ // [
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == ']' {
		r.pos++
		return nil
	}
	for i := 0; ; i++ {
		r.skipSpace()
		if err := element(i); err != nil {
			return err
		}
		r.skipSpace()
		if r.pos >= len(r.data) {
			return r.fail("unexpected end of input in array")
		}
		switch r.data[r.pos] {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return nil
		default:
			return r.fail("expected ',' or ']'")
		}
	}
}

// str reads a string value into *dst, or records that field must be one.
func (d *decoder) str(depth int, field func() string, dst *string) error {
	k, ok := d.kind()
	if !ok || k != jsonString {
		if err := d.skip(depth); err != nil {
			return err
		}
		d.mapping(field(), "must be a string, not "+k.String())
		return nil
	}
	s, err := d.r.str()
	if err != nil {
		return err
	}
	*dst = s
	return nil
}

func (d *decoder) boolean(depth int, field func() string, dst *bool) error {
	k, ok := d.kind()
	if !ok || k != jsonBool {
		if err := d.skip(depth); err != nil {
			return err
		}
		d.mapping(field(), "must be a boolean, not "+k.String())
		return nil
	}
	if d.r.data[d.r.pos] == 't' {
		*dst = true
		return d.r.literal("true")
	}
	*dst = false
	return d.r.literal("false")
}

// integer reads a plain integer; mapped is false (and the mapping error
// recorded) when the value is not one.
func (d *decoder) integer(depth int, field func() string, dst *int64) (mapped bool, err error) {
	k, ok := d.kind()
	if !ok || k != jsonNumber {
		if err := d.skip(depth); err != nil {
			return false, err
		}
		d.mapping(field(), "must be a number, not "+k.String())
		return false, nil
	}
	v, err := d.r.number()
	if err != nil {
		return false, err
	}
	n, perr := strconv.ParseInt(v.s, 10, 64)
	if perr != nil {
		d.mapping(field(), errNotInteger.Error())
		return false, nil
	}
	*dst = n
	return true, nil
}

func (d *decoder) top(cfg *Config) error {
	if k, ok := d.kind(); !ok || k != jsonObject {
		if err := d.skip(0); err != nil {
			return err
		}
		d.mapping("", "must be a JSON object, not "+k.String())
		return nil
	}
	return d.members(0, func(key string) error {
		const depth = 1
		field := func() string { return key }
		switch key {
		case "version":
			return d.str(depth, field, &cfg.Version)
		case "manifest":
			return d.boolean(depth, field, &cfg.Manifest)
		case "shard", "shards":
			var n int64
			ok, err := d.integer(depth, field, &n)
			if err != nil || !ok {
				return err
			}
			if n < 0 || n > MaxShards {
				d.mapping(key, "must be between 0 and "+strconv.Itoa(MaxShards))
			}
			if key == "shard" {
				cfg.Shard = int(n)
			} else {
				cfg.Shards = int(n)
			}
			return nil
		case "installations":
			if k, ok := d.kind(); !ok || k != jsonArray {
				if err := d.skip(depth); err != nil {
					return err
				}
				d.mapping("installations", "must be an array, not "+k.String())
				return nil
			}
			cfg.Installations = make([]Installation, 0, 16)
			return d.elements(depth, func(i int) error {
				cfg.Installations = append(cfg.Installations, Installation{})
				in := &cfg.Installations[len(cfg.Installations)-1]
				return d.installation(depth+1, in, func() string { return "installations[" + strconv.Itoa(i) + "]" })
			})
		default:
			if err := d.skip(depth); err != nil {
				return err
			}
			d.mapping(key, "unknown field")
			return nil
		}
	})
}

// The decoders take the path of what they decode as a function: it is built
// only for an error, not for every field of every installation (a pushed
// configuration can hold 100k installations, parsed on every Wasm VM).
func (d *decoder) installation(depth int, in *Installation, path func() string) error {
	if k, ok := d.kind(); !ok || k != jsonObject {
		if err := d.skip(depth); err != nil {
			return err
		}
		d.mapping(path(), "must be an object, not "+k.String())
		return nil
	}
	return d.members(depth, func(key string) error {
		vd := depth + 1
		f := func() string { return path() + "." + key }
		switch key {
		case "ingress_id":
			return d.str(vd, f, &in.IngressID)
		case "provider":
			return d.str(vd, f, &in.Provider)
		case "scheme":
			var s string
			err := d.str(vd, f, &s)
			in.Scheme = Scheme(s)
			return err
		case "org_id":
			return d.str(vd, f, &in.OrgID)
		case "installation_id":
			return d.str(vd, f, &in.InstallationID)
		case "profile_id":
			return d.str(vd, f, &in.ProfileID)
		case "platform":
			return d.boolean(vd, f, &in.Platform)
		case "revoked":
			return d.boolean(vd, f, &in.Revoked)
		case "max_body_bytes":
			var n int64
			ok, err := d.integer(vd, f, &n)
			if err != nil || !ok {
				return err
			}
			if n < 0 || n > MaxConfiguredBodyBytes {
				d.mapping(f(), "must be between 0 and "+strconv.Itoa(MaxConfiguredBodyBytes))
			}
			in.MaxBodyBytes = int(n)
			return nil
		case "tolerance_seconds":
			_, err := d.integer(vd, f, &in.ToleranceSeconds)
			return err
		case "public_url":
			return d.str(vd, f, &in.PublicURL)
		case "secrets":
			if k, ok := d.kind(); !ok || k != jsonArray {
				if err := d.skip(vd); err != nil {
					return err
				}
				d.mapping(f(), "must be an array, not "+k.String())
				return nil
			}
			in.Secrets = make([]Secret, 0, 1)
			return d.elements(vd, func(i int) error {
				in.Secrets = append(in.Secrets, Secret{})
				return d.secret(vd+1, &in.Secrets[len(in.Secrets)-1], func() string { return f() + "[" + strconv.Itoa(i) + "]" })
			})
		default:
			if err := d.skip(vd); err != nil {
				return err
			}
			d.mapping(f(), "unknown field")
			return nil
		}
	})
}

func (d *decoder) secret(depth int, s *Secret, path func() string) error {
	if k, ok := d.kind(); !ok || k != jsonObject {
		if err := d.skip(depth); err != nil {
			return err
		}
		d.mapping(path(), "must be an object, not "+k.String())
		return nil
	}
	return d.members(depth, func(key string) error {
		vd := depth + 1
		f := func() string { return path() + "." + key }
		switch key {
		case "id":
			return d.str(vd, f, &s.ID)
		case "purpose":
			return d.str(vd, f, &s.Purpose)
		case "sealed":
			return d.str(vd, f, &s.Sealed)
		case "fingerprint":
			return d.str(vd, f, &s.Fingerprint)
		case "not_before":
			_, err := d.integer(vd, f, &s.NotBefore)
			return err
		case "not_after":
			_, err := d.integer(vd, f, &s.NotAfter)
			return err
		default:
			if err := d.skip(vd); err != nil {
				return err
			}
			d.mapping(path()+"."+key, "unknown field")
			return nil
		}
	})
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
