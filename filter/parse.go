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
// document is still read for syntax. No closures: under TinyGo every one
// would be a heap allocation per member.
type decoder struct {
	r   jsonReader
	err error
}

// loc names a field for an error, built only when one is recorded:
// installations[inst].secrets[sec].key (inst, sec < 0: not that deep).
type loc struct {
	inst, sec int
	key       string
	member    bool // key names a member (it may be "")
	secrets   bool // the secrets array itself (or its element sec)
}

func (l loc) String() string {
	if l.inst < 0 {
		return l.key
	}
	s := "installations[" + strconv.Itoa(l.inst) + "]"
	if l.secrets {
		s += ".secrets"
		if l.sec < 0 {
			return s
		}
		s += "[" + strconv.Itoa(l.sec) + "]"
	}
	if l.member {
		s += "." + l.key
	}
	return s
}

func (d *decoder) mapping(at loc, msg string) {
	if d.err == nil {
		d.err = cfgErr(at.String(), msg)
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

// want checks the value at the read position is of kind k; if not, it reads
// the value for its syntax and records "must be <k>, not <kind>" at at.
func (d *decoder) want(k jsonKind, what string, depth int, at loc) (bool, error) {
	got, ok := d.kind()
	if ok && got == k {
		return true, nil
	}
	if _, err := d.r.value(depth); err != nil {
		return false, err
	}
	d.mapping(at, "must be "+what+", not "+got.String())
	return false, nil
}

// skipUnknown reads an unknown field's value for its syntax and records it.
func (d *decoder) skipUnknown(depth int, at loc) error {
	if _, err := d.r.value(depth); err != nil {
		return err
	}
	d.mapping(at, "unknown field")
	return nil
}

// open consumes an object's or array's opening byte; empty reports that it
// closed at once.
func (d *decoder) open(depth int, closer byte) (empty bool, err error) {
	if depth > maxJSONDepth {
		return false, d.r.fail("nesting too deep")
	}
	r := &d.r
	r.pos++
	r.skipSpace()
	if r.pos < len(r.data) && r.data[r.pos] == closer {
		r.pos++
		return true, nil
	}
	return false, nil
}

// key reads a member's key and the colon; keys are the object's keys so far
// (a duplicate is a syntax error, as in the tree reader). The caller
// appends key to keys (a slice passed by value does not escape).
func (d *decoder) key(keys []string) (string, error) {
	r := &d.r
	r.skipSpace()
	if r.pos >= len(r.data) || r.data[r.pos] != '"' {
		return "", r.fail("expected a string key")
	}
	key, err := r.key()
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k == key {
			return "", r.fail("duplicate key " + strconv.Quote(key))
		}
	}
	r.skipSpace()
	if r.pos >= len(r.data) || r.data[r.pos] != ':' {
		return "", r.fail("expected ':'")
	}
	r.pos++
	r.skipSpace()
	return key, nil
}

// next reads what follows a member or element: more is true after a comma,
// false after the closer.
func (d *decoder) next(closer byte) (more bool, err error) {
	r := &d.r
	r.skipSpace()
	if r.pos >= len(r.data) {
		if closer == '}' {
			return false, r.fail("unexpected end of input in object")
		}
		return false, r.fail("unexpected end of input in array")
	}
	switch r.data[r.pos] {
	case ',':
		r.pos++
		r.skipSpace()
		return true, nil
	case closer:
		r.pos++
		return false, nil
	}
	if closer == '}' {
		return false, r.fail("expected ',' or '}'")
	}
	return false, r.fail("expected ',' or ']'")
}

func (d *decoder) str(depth int, at loc, dst *string) error {
	if ok, err := d.want(jsonString, "a string", depth, at); !ok {
		return err
	}
	s, err := d.r.str()
	*dst = s
	return err
}

func (d *decoder) boolean(depth int, at loc, dst *bool) error {
	if ok, err := d.want(jsonBool, "a boolean", depth, at); !ok {
		return err
	}
	if d.r.data[d.r.pos] == 't' {
		*dst = true
		return d.r.literal("true")
	}
	*dst = false
	return d.r.literal("false")
}

// integer reads a plain integer; mapped is false (the mapping error
// recorded) when the value is not one.
func (d *decoder) integer(depth int, at loc, dst *int64) (mapped bool, err error) {
	if ok, err := d.want(jsonNumber, "a number", depth, at); !ok {
		return false, err
	}
	v, err := d.r.number()
	if err != nil {
		return false, err
	}
	n, perr := strconv.ParseInt(v.s, 10, 64)
	if perr != nil {
		d.mapping(at, errNotInteger.Error())
		return false, nil
	}
	*dst = n
	return true, nil
}

func (d *decoder) top(cfg *Config) error {
	if ok, err := d.want(jsonObject, "a JSON object", 0, loc{inst: -1}); !ok {
		return err
	}
	empty, err := d.open(0, '}')
	if err != nil || empty {
		return err
	}
	var seen [8]string
	keys := seen[:0]
	for more := true; more; {
		key, err := d.key(keys)
		if err != nil {
			return err
		}
		keys = append(keys, key)
		const depth = 1
		at := loc{inst: -1, key: key}
		switch key {
		case "version":
			err = d.str(depth, at, &cfg.Version)
		case "manifest":
			err = d.boolean(depth, at, &cfg.Manifest)
		case "shard", "shards":
			var n int64
			var ok bool
			if ok, err = d.integer(depth, at, &n); ok {
				if n < 0 || n > MaxShards {
					d.mapping(at, "must be between 0 and "+strconv.Itoa(MaxShards))
				}
				if key == "shard" {
					cfg.Shard = int(n)
				} else {
					cfg.Shards = int(n)
				}
			}
		case "installations":
			err = d.installations(depth, cfg)
		default:
			err = d.skipUnknown(depth, at)
		}
		if err != nil {
			return err
		}
		if more, err = d.next('}'); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) installations(depth int, cfg *Config) error {
	if ok, err := d.want(jsonArray, "an array", depth, loc{inst: -1, key: "installations"}); !ok {
		return err
	}
	empty, err := d.open(depth, ']')
	cfg.Installations = make([]Installation, 0, 16)
	if err != nil || empty {
		return err
	}
	for i, more := 0, true; more; i++ {
		cfg.Installations = append(cfg.Installations, Installation{})
		if err := d.installation(depth+1, &cfg.Installations[i], i); err != nil {
			return err
		}
		if more, err = d.next(']'); err != nil {
			return err
		}
	}
	return nil
}

// installation decodes installations[i]. Paths are built only for an error
// (a pushed configuration can hold 100k installations, parsed on every Wasm
// VM).
func (d *decoder) installation(depth int, in *Installation, i int) error {
	if ok, err := d.want(jsonObject, "an object", depth, loc{inst: i, sec: -1}); !ok {
		return err
	}
	empty, err := d.open(depth, '}')
	if err != nil || empty {
		return err
	}
	var seen [16]string
	keys := seen[:0]
	for more := true; more; {
		key, err := d.key(keys)
		if err != nil {
			return err
		}
		keys = append(keys, key)
		vd := depth + 1
		at := loc{inst: i, sec: -1, key: key, member: true}
		switch key {
		case "ingress_id":
			err = d.str(vd, at, &in.IngressID)
		case "provider":
			err = d.str(vd, at, &in.Provider)
		case "scheme":
			var s string
			err = d.str(vd, at, &s)
			in.Scheme = Scheme(s)
		case "org_id":
			err = d.str(vd, at, &in.OrgID)
		case "installation_id":
			err = d.str(vd, at, &in.InstallationID)
		case "profile_id":
			err = d.str(vd, at, &in.ProfileID)
		case "platform":
			err = d.boolean(vd, at, &in.Platform)
		case "revoked":
			err = d.boolean(vd, at, &in.Revoked)
		case "max_body_bytes":
			var n int64
			var ok bool
			if ok, err = d.integer(vd, at, &n); ok {
				if n < 0 || n > MaxConfiguredBodyBytes {
					d.mapping(at, "must be between 0 and "+strconv.Itoa(MaxConfiguredBodyBytes))
				}
				in.MaxBodyBytes = int(n)
			}
		case "tolerance_seconds":
			_, err = d.integer(vd, at, &in.ToleranceSeconds)
		case "public_url":
			err = d.str(vd, at, &in.PublicURL)
		case "secrets":
			err = d.secrets(vd, in, i)
		default:
			err = d.skipUnknown(vd, at)
		}
		if err != nil {
			return err
		}
		if more, err = d.next('}'); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) secrets(depth int, in *Installation, i int) error {
	if ok, err := d.want(jsonArray, "an array", depth, loc{inst: i, sec: -1, secrets: true}); !ok {
		return err
	}
	empty, err := d.open(depth, ']')
	in.Secrets = make([]Secret, 0, 1)
	if err != nil || empty {
		return err
	}
	for j, more := 0, true; more; j++ {
		in.Secrets = append(in.Secrets, Secret{})
		if err := d.secret(depth+1, &in.Secrets[j], i, j); err != nil {
			return err
		}
		if more, err = d.next(']'); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) secret(depth int, s *Secret, i, j int) error {
	if ok, err := d.want(jsonObject, "an object", depth, loc{inst: i, sec: j, secrets: true}); !ok {
		return err
	}
	empty, err := d.open(depth, '}')
	if err != nil || empty {
		return err
	}
	var seen [8]string
	keys := seen[:0]
	for more := true; more; {
		key, err := d.key(keys)
		if err != nil {
			return err
		}
		keys = append(keys, key)
		vd := depth + 1
		at := loc{inst: i, sec: j, secrets: true, key: key, member: true}
		switch key {
		case "id":
			err = d.str(vd, at, &s.ID)
		case "purpose":
			err = d.str(vd, at, &s.Purpose)
		case "sealed":
			err = d.str(vd, at, &s.Sealed)
		case "fingerprint":
			err = d.str(vd, at, &s.Fingerprint)
		case "not_before":
			_, err = d.integer(vd, at, &s.NotBefore)
		case "not_after":
			_, err = d.integer(vd, at, &s.NotAfter)
		default:
			err = d.skipUnknown(vd, at)
		}
		if err != nil {
			return err
		}
		if more, err = d.next('}'); err != nil {
			return err
		}
	}
	return nil
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
