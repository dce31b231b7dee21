package xds_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/xds"
	"github.com/switchboard-dev/switchboard/xds/xdstest"
)

// TestSyncCaches: through Sync on a real store and keyring, a store change
// that touches no secret opens and seals nothing; a rotation opens and seals
// only the new secret; a revocation drops the installation's sealed values.
func TestSyncCaches(t *testing.T) {
	env := xdstest.NewEnv(t)
	org := env.Org(t)
	inst := env.Installation(t, org, "slack", store.PurposeSigning, []byte("first-signing-secret"))
	env.Installation(t, org, "telegram", store.PurposeSecretToken, []byte("tg-token"))
	c, err := xds.NewController(xds.ControllerConfig{Store: env.Store, Keyring: env.Keyring, EdgeKey: xdstest.Key(),
		Resources: xds.ResourceOptions{IngestAddress: "127.0.0.1:8081"}})
	if err != nil {
		t.Fatal(err)
	}
	sync := func(what string) xds.CacheStats {
		t.Helper()
		if err := c.Sync(context.Background()); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return c.CacheStats()
	}
	first := sync("first sync")
	if first.Opens != 2 || first.Seals != 1 || first.Fingerprints != 1 || first.Opened != 2 || first.Sealed != 2 {
		t.Fatalf("first sync: %+v", first)
	}
	v1 := c.LatestVersion()

	env.Touch(t, "org.update", org) // new generation, same secrets
	if s := sync("unchanged secrets"); s != first {
		t.Fatalf("unchanged secrets: %+v, want %+v (zero opens, zero seals)", s, first)
	}
	if c.LatestVersion() != v1 {
		t.Fatalf("version changed without a change: %s -> %s", v1, c.LatestVersion())
	}

	env.Rotate(t, inst.ID, store.PurposeSigning, []byte("second-signing-secret"), time.Now().Add(time.Hour))
	rot := sync("rotation")
	if rot.Opens != first.Opens+1 || rot.Seals != first.Seals+1 || rot.Fingerprints != first.Fingerprints || rot.Opened != 3 || rot.Sealed != 3 {
		t.Fatalf("rotation: %+v after %+v (want one open and one seal more)", rot, first)
	}

	env.Revoke(t, inst.ID)
	rev := sync("revocation")
	if rev.Opens != rot.Opens || rev.Seals != rot.Seals || rev.Sealed != 1 {
		t.Fatalf("revocation: %+v after %+v (want no work, 1 sealed value left)", rev, rot)
	}
}
