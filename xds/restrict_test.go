package xds_test

import (
	"reflect"
	"testing"

	"github.com/switchboard-dev/switchboard/filter"
	"github.com/switchboard-dev/switchboard/xds"
)

func TestRestrict(t *testing.T) {
	sec := func(id string, nb, na int64) filter.Secret {
		return filter.Secret{ID: id, Purpose: "signing", Sealed: "sb1:" + id, NotBefore: nb, NotAfter: na}
	}
	inst := func(ingress string, revoked bool, secrets ...filter.Secret) filter.Installation {
		return filter.Installation{IngressID: ingress, Provider: "slack", Scheme: filter.SchemeSlackV0, OrgID: "org_a",
			InstallationID: "inst_" + ingress, ProfileID: "prof_a", Revoked: revoked, Secrets: secrets}
	}
	cfg := func(in ...filter.Installation) filter.Config { return filter.Config{Version: "v", Installations: in} }
	a, b := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	for _, tc := range []struct {
		name         string
		held, latest filter.Config
		want         []filter.Installation
	}{
		{"unchanged", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, false, sec("s1", 0, 0))),
			[]filter.Installation{inst(a, false, sec("s1", 0, 0))}},
		{"addition waits", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, false, sec("s1", 0, 0)), inst(b, false, sec("s2", 0, 0))),
			[]filter.Installation{inst(a, false, sec("s1", 0, 0))}},
		{"new secret waits", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, false, sec("s1", 0, 0), sec("s2", 0, 0))),
			[]filter.Installation{inst(a, false, sec("s1", 0, 0))}},
		{"revocation applies", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, true, sec("s1", 0, 0))),
			[]filter.Installation{inst(a, true, sec("s1", 0, 0))}},
		{"removal applies", cfg(inst(a, false, sec("s1", 0, 0)), inst(b, false, sec("s2", 0, 0))), cfg(inst(b, false, sec("s2", 0, 0))),
			[]filter.Installation{inst(b, false, sec("s2", 0, 0))}},
		{"rotation end applies", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, false, sec("s1", 0, 500), sec("s2", 0, 0))),
			[]filter.Installation{inst(a, false, sec("s1", 0, 500))}},
		{"ended secret drops", cfg(inst(a, false, sec("s1", 0, 0))), cfg(inst(a, false, sec("s2", 0, 0))),
			[]filter.Installation{inst(a, false)}},
		{"narrower window wins", cfg(inst(a, false, sec("s1", 100, 400))), cfg(inst(a, false, sec("s1", 50, 900))),
			[]filter.Installation{inst(a, false, sec("s1", 100, 400))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := xds.Restrict(tc.held, tc.latest)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			for i := range want {
				if want[i].Secrets == nil && len(tc.held.Installations) > 0 {
					want[i].Secrets = []filter.Secret{}
				}
			}
			if !reflect.DeepEqual(got.Installations, want) {
				t.Fatalf("Restrict:\n got %+v\nwant %+v", got.Installations, want)
			}
			wantVersion, err := xds.ConfigVersion(filter.Config{Installations: want})
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != wantVersion {
				t.Fatalf("version %s, want the content digest %s", got.Version, wantVersion)
			}
		})
	}
}
