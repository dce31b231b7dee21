// Package conformance is the provider conformance suite: every registered
// provider (provider.Names) must have a Kit, and every Kit must meet every
// Requirement. A Kit lives in its provider's folder (provider/<p>/kit) and
// registers itself in init; provider/allkits imports them all, as
// provider/all imports the providers. Adding a provider stays one folder:
// its adapter, its sender and its kit.
//
// The built-in requirements: verification vectors that the edge's filter
// core decides as the kit says (Verification), normalisation golden files
// (Normalisation), and the sender against the provider's fake API at and
// over its documented text limit and on its rate-limit answer (Outbound).
// Other parts of the system add theirs with Require: uninstall handling
// (uninstall.go, its own kit interface: a provider whose kit lacks it fails
// the suite) and setup packets (setup.go, through provider/setup's registry).
package conformance

import (
	"sort"
	"sync"
	"testing"
)

// Kit is what one provider brings to the suite. Its other capabilities are
// the interfaces of the requirements (Verification, Normalisation, Outbound, ...).
type Kit interface {
	Provider() string
}

// Requirement is one thing every provider's kit must bring. Check fails t
// when k does not implement the requirement's interface or does not pass.
type Requirement struct {
	Name  string
	Check func(t *testing.T, k Kit)
}

var (
	mu           sync.Mutex
	kits         = map[string]Kit{}
	requirements []Requirement
)

// Register adds a provider's kit (in the kit package's init); twice panics.
func Register(k Kit) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := kits[k.Provider()]; dup {
		panic("conformance: duplicate kit for " + k.Provider())
	}
	kits[k.Provider()] = k
}

// Require adds a requirement every kit must meet (in an init function).
func Require(r Requirement) {
	mu.Lock()
	defer mu.Unlock()
	for _, x := range requirements {
		if x.Name == r.Name {
			panic("conformance: duplicate requirement " + r.Name)
		}
	}
	requirements = append(requirements, r)
}

// Get returns the kit of a provider.
func Get(provider string) (Kit, bool) {
	mu.Lock()
	defer mu.Unlock()
	k, ok := kits[provider]
	return k, ok
}

// Requirements lists the requirements, sorted by name.
func Requirements() []Requirement {
	mu.Lock()
	defer mu.Unlock()
	out := append([]Requirement(nil), requirements...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Missing lists the providers of providers that have no kit.
func Missing(providers []string) []string {
	var out []string
	for _, p := range providers {
		if _, ok := Get(p); !ok {
			out = append(out, p)
		}
	}
	return out
}

// Run checks every provider in providers: each must have a kit that meets
// every requirement (one subtest per provider and requirement).
func Run(t *testing.T, providers []string) {
	if len(providers) == 0 {
		t.Fatal("no providers registered")
	}
	if m := Missing(providers); len(m) > 0 {
		t.Errorf("registered providers without a conformance kit (provider/<p>/kit, imported by provider/allkits): %v", m)
	}
	reqs := Requirements()
	for _, p := range providers {
		t.Run(p, func(t *testing.T) {
			k, ok := Get(p)
			if !ok {
				t.Fatalf("provider %s is registered but has no conformance kit (provider/%s/kit, imported by provider/allkits)", p, p)
			}
			for _, r := range reqs {
				t.Run(r.Name, func(t *testing.T) { r.Check(t, k) })
			}
		})
	}
}

// lacks fails t for a kit without the interface a requirement needs.
func lacks(t *testing.T, k Kit, what string) {
	t.Helper()
	t.Fatalf("kit of %s does not implement %s", k.Provider(), what)
}

func init() {
	Require(Requirement{Name: "verification", Check: checkVerification})
	Require(Requirement{Name: "normalisation", Check: checkNormalisation})
	Require(Requirement{Name: "outbound", Check: checkOutbound})
}
