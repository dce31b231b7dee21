// Package egress is the policy for outbound connections to addresses a
// tenant chooses (agent URLs): by default they may reach only public
// addresses, so an organisation cannot point its agent at the platform's own
// services (Redis, the binding API, metrics, a cloud metadata endpoint) and
// have the worker POST to them. The check runs when the connection is made,
// on the resolved address, so DNS names that resolve (or later re-resolve)
// to a private address and redirects to one are refused as well.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal of the policy.
var ErrBlocked = errors.New("egress: address not allowed for agent deliveries (loopback, private, link-local or reserved); run the worker with --allow-private-agent-urls only where that is intended")

// blocked lists the ranges a tenant-chosen URL may not reach besides what
// netip's own predicates cover.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Public reports whether a tenant-chosen URL may connect to ip: not
// loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 holds cloud
// metadata endpoints), unspecified, multicast or another reserved range.
// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// judged as the IPv4 address they carry.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// Control is a net.Dialer Control function that refuses a connection to any
// address Public rejects.
func Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrBlocked, address)
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrBlocked, ap.Addr())
	}
	return nil
}

// Transport returns an HTTP transport for tenant-chosen URLs: with
// allowPrivate false every connection goes through Control; with it true (local
// development, tests, agents on a private network you trust) any address is
// reached. Proxy settings from the environment are not used: a proxy would
// make the check judge the proxy's address instead of the agent's.
func Transport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = Control
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	// Connections to an agent are kept for reuse by every concurrent delivery
	// to it (http.DefaultTransport keeps 2 idle per host: a worker with more
	// shards than that delivering to one agent dialled anew nearly every time).
	t.MaxIdleConnsPerHost = MaxIdleConnsPerAgent
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return t
}

// MaxIdleConnsPerAgent is how many idle connections Transport keeps per
// agent host.
const MaxIdleConnsPerAgent = 64

// ErrHostNotAllowed is wrapped by HostAllowed's refusals.
var ErrHostNotAllowed = errors.New("egress: agent URL names a loopback, private, link-local, metadata or reserved address")

// metadataNames are host names that cloud platforms resolve to their
// instance metadata services (judged by name: they resolve only inside the
// cloud, where the connect-time check sees 169.254.169.254 or fd00:ec2::254).
var metadataNames = []string{
	"metadata.google.internal", "metadata.goog", "metadata",
	"instance-data", "instance-data.ec2.internal", "metadata.azure.internal",
}

// HostAllowed is the policy applied to the host of an agent URL when it is
// written (the API, at create and update time): an IP literal must be Public;
// "localhost", its subdomains and the cloud metadata names are refused; a
// name whose last label is numeric (e.g. "127.1", "2130706433", "0x7f.1",
// which some resolvers read as IPv4 addresses) is refused. Names are not
// resolved here: the connect-time check (Control) judges the address a name
// resolves to when the worker delivers.
func HostAllowed(host string) error {
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if h == "" {
		return fmt.Errorf("%w: empty host", ErrHostNotAllowed)
	}
	if zone := strings.IndexByte(h, '%'); zone >= 0 {
		// An IPv6 zone names a local interface: link-local by nature.
		return fmt.Errorf("%w: %s", ErrHostNotAllowed, h)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if !Public(ip) {
			return fmt.Errorf("%w: %s", ErrHostNotAllowed, ip)
		}
		return nil
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%w: %s", ErrHostNotAllowed, h)
	}
	for _, m := range metadataNames {
		if h == m {
			return fmt.Errorf("%w: %s", ErrHostNotAllowed, h)
		}
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if last != "" && (strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x")) {
		return fmt.Errorf("%w: %s is a numeric host not in standard form", ErrHostNotAllowed, h)
	}
	return nil
}
