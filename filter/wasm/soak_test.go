package main

import (
	"os"
	"strconv"
	"testing"
)

// soakRequests is how many requests TestSoakOneVM sends through one VM
// (SWITCHBOARD_SOAK_REQUESTS overrides it).
const soakRequests = 50_000

// TestSoakOneVM sends 50k requests (accepted and refused, every third one
// forged) through one compiled VM, completing each context as Envoy does
// (proxy_on_log, then the guest's proxy_on_delete), and checks the guest's
// linear memory stops growing: after a warm-up it may grow by at most
// soakGrowthBound while 40k more requests pass. A leak of even 100 bytes per
// request would grow it by 4 MB. Linear memory never shrinks, so its size is
// the high-water mark Envoy would see.
func TestSoakOneVM(t *testing.T) {
	const soakGrowthBound = 1 << 20
	vm := loadWasm(t)
	if testing.Short() {
		t.Skip("soak: not in -short")
	}
	n := soakRequests
	if v := os.Getenv("SWITCHBOARD_SOAK_REQUESTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 20_000 {
			t.Fatalf("SWITCHBOARD_SOAK_REQUESTS=%q: want an integer >= 20000", v)
		}
	}
	// The clock is pinned and a third of the requests are forged to one
	// ingress id: the quarantine is set out of reach so that every request
	// is verified (this test measures the verifier's memory).
	vmConfig := append(keyLines(edgeKey, attKey), EnvQuarantineThreshold+"=1000000000\n"...)
	h := &harness{vm: vm, guest: guestModule(t, vm), vmConfig: vmConfig, now: now0}
	cfg, _ := fixture(t)
	r := h.mustStart(t, marshal(t, cfg))
	body := slackEvent2KiB()
	good := slackReq(inSlackA, slackNew, now0, body)
	bad := slackReq(inSlackA, "not-the-secret", now0, body)
	warm := n / 5
	var warmSize uint32
	for i := 1; i <= n; i++ {
		q := good
		if i%3 == 0 {
			q = bad
		}
		o := r.send(q)
		if forged := i%3 == 0; o.forwarded == forged {
			t.Fatalf("request %d: forwarded=%v, forged=%v", i, o.forwarded, forged)
		}
		if i == warm {
			warmSize = h.guest.Memory().Size()
		}
	}
	end := h.guest.Memory().Size()
	t.Logf("guest linear memory: %d KiB after %d requests, %d KiB after %d", warmSize>>10, warm, end>>10, n)
	if end > warmSize+soakGrowthBound {
		t.Fatalf("guest memory grew from %d to %d bytes over %d requests: the VM leaks", warmSize, end, n-warm)
	}
}
