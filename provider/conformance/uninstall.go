package conformance

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

// Uninstall is the kit interface of requirement "uninstall": the provider's
// uninstall, revoked-access and blocked-bot notifications (docs/revocation.md).
type Uninstall interface {
	UninstallCase() UninstallCase
}

// UninstallCase names the golden inputs (in the kit's GoldenDir, by name
// without extension) whose parse must yield a revocation; or, for a
// provider whose platform posts no such notification to the webhook, None
// says why (documented, and logged by the suite).
type UninstallCase struct {
	Inputs []string
	None   string
}

func init() { Require(Requirement{Name: "uninstall", Check: checkUninstall}) }

func checkUninstall(t *testing.T, k Kit) {
	u, ok := k.(Uninstall)
	if !ok {
		lacks(t, k, "conformance.Uninstall (uninstall and revocation notifications)")
	}
	c := u.UninstallCase()
	if len(c.Inputs) == 0 {
		if c.None == "" {
			t.Fatalf("%s: no uninstall inputs and no reason why the provider has none", k.Provider())
		}
		t.Logf("%s: no uninstall notification: %s", k.Provider(), c.None)
		return
	}
	n, ok := k.(Normalisation)
	if !ok {
		lacks(t, k, "conformance.Normalisation (the golden folder the uninstall inputs are in)")
	}
	p, ok := provider.Get(k.Provider())
	if !ok {
		t.Fatalf("%s has a kit but no registered inbound adapter", k.Provider())
	}
	for _, name := range c.Inputs {
		var in string
		for _, ext := range []string{".json", ".form"} {
			if _, err := os.Stat(filepath.Join(n.GoldenDir(), name+ext)); err == nil {
				in = filepath.Join(n.GoldenDir(), name+ext)
			}
		}
		if in == "" {
			t.Errorf("%s: uninstall input %s not in %s", k.Provider(), name, n.GoldenDir())
			continue
		}
		req := providertest.Request(t, in)
		res, err := provider.Parse(p, req)
		switch {
		case err != nil:
			t.Errorf("%s/%s: %v", k.Provider(), name, err)
			continue
		case len(res.Revocations) == 0:
			t.Errorf("%s/%s: no revocation (ignored: %q)", k.Provider(), name, res.Ignored)
			continue
		case len(res.Events) > 0:
			t.Errorf("%s/%s: a revocation with %d events beside it", k.Provider(), name, len(res.Events))
		}
		if err := provider.Check(res); err != nil {
			t.Errorf("%s/%s: %v", k.Provider(), name, err)
		}
		again, err := provider.Parse(p, req)
		if err != nil || string(providertest.Render(again, nil)) != string(providertest.Render(res, nil)) {
			t.Errorf("%s/%s: parsing the same input twice differs", k.Provider(), name)
		}
	}
}
