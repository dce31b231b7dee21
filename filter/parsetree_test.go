package filter

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
)

// decodeConfigTree is the decoder decodeConfig replaced: parse the whole
// document into a value tree, then map the tree. Kept as a test oracle:
// FuzzStreamDecoder requires both to give the same Config or the same error.
func decodeConfigTree(data []byte) (*Config, error) {
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
				inst, err := decodeInstallationTree(iv, func() string { return "installations[" + strconv.Itoa(i) + "]" })
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
func decodeInstallationTree(v jsonValue, path func() string) (Installation, error) {
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
				s, err := decodeSecretTree(sv, func() string { return f() + "[" + strconv.Itoa(i) + "]" })
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

func decodeSecretTree(v jsonValue, path func() string) (Secret, error) {
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

// FuzzStreamDecoder: the streaming decoder gives exactly what the value-tree
// decoder gave, the same Config or the same error (message, field, offset).
func FuzzStreamDecoder(f *testing.F) {
	f.Add(configJSON(f, inst(f, ingSlackA, "slack", SchemeSlackV0, "org_a", secretSpec{id: "s", purpose: PurposeSigning, plain: "x"})))
	f.Add([]byte(`{"version":"m","manifest":true,"shards":1024}`))
	f.Add([]byte(`{"version":"s","shard":39,"shards":64,"installations":[{"ingress_id":1,"x":[[[[]]]]}]}`))
	f.Add([]byte(`{"installations":[{"secrets":[{"id":"a","id":"b"}]}]}`))
	f.Add([]byte(`{"installations":[{"secrets":{}}],"version":`))
	f.Add([]byte(`{"versions":"1"} x`))
	f.Add([]byte(`{"version":1.5e3,"shards":-1}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"installations":[1,{"revoked":"no"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, aerr := decodeConfig(data)
		b, berr := decodeConfigTree(data)
		if (aerr == nil) != (berr == nil) {
			t.Fatalf("stream err %v, tree err %v on %q", aerr, berr, data)
		}
		if aerr != nil {
			if aerr.Error() != berr.Error() {
				t.Fatalf("errors differ on %q:\nstream: %v\ntree:   %v", data, aerr, berr)
			}
			return
		}
		norm := func(c *Config) {
			for i := range c.Installations {
				if len(c.Installations[i].Secrets) == 0 {
					c.Installations[i].Secrets = nil
				}
			}
			if len(c.Installations) == 0 {
				c.Installations = nil
			}
		}
		norm(a)
		norm(b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decoders disagree on %q:\nstream: %+v\ntree:   %+v", data, a, b)
		}
	})
}
