package egress

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", false}, {"127.255.0.9", false}, {"::1", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fd00:ec2::254", false},   // AWS metadata over IPv6 (unique local)
		{"fe80::1", false}, {"0.0.0.0", false}, {"::", false}, {"0.1.2.3", false},
		{"100.64.0.1", false}, {"224.0.0.1", false}, {"ff02::1", false},
		{"255.255.255.255", false}, {"240.0.0.1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:10.1.2.3", false},
		{"64:ff9b::7f00:1", false}, {"64:ff9b::a00:1", false}, // NAT64 of 127.0.0.1, 10.0.0.1
		{"2002:7f00:1::", false}, {"2002:a9fe:a9fe::", false}, // 6to4 of 127.0.0.1, 169.254.169.254
		{"8.8.8.8", true}, {"1.1.1.1", true}, {"2606:4700:4700::1111", true},
		{"::ffff:8.8.8.8", true}, {"64:ff9b::808:808", true}, {"2002:808:808::", true},
	} {
		if got := Public(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Public(%s) = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// An agent URL naming a loopback service, by address or by a name that
// resolves to one, is refused when the connection is made; with
// allowPrivate it is reached.
func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	for _, u := range []string{srv.URL, "http://localhost" + port, "http://[::ffff:127.0.0.1]" + port} {
		_, err := (&http.Client{Transport: Transport(false)}).Post(u, "application/json", nil)
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("POST %s with the default policy: err = %v, want ErrBlocked", u, err)
		}
	}
	resp, err := (&http.Client{Transport: Transport(true)}).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatalf("allowPrivate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("allowPrivate: status %d", resp.StatusCode)
	}
}

// A public agent that redirects to a private address does not get the
// delivery through: the redirect's connection is checked like the first.
func TestRedirectToPrivateRefused(t *testing.T) {
	hit := false
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer internal.Close()
	// The first hop is allowed through a transport that permits loopback
	// only for this server's address, standing in for a public agent.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost"+internal.URL[strings.LastIndexByte(internal.URL, ':'):], http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	tr := Transport(false)
	frontAddr := strings.TrimPrefix(front.URL, "http://")
	open := Transport(true)
	c := &http.Client{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host == frontAddr {
			return open.RoundTrip(r)
		}
		return tr.RoundTrip(r)
	})}
	_, err := c.Post(front.URL, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, ErrBlocked) || hit {
		t.Fatalf("redirect to loopback: err = %v, internal hit = %v", err, hit)
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHostAllowed(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"agent.example", true}, {"8.8.8.8", true}, {"[2606:4700:4700::1111]", true}, {"api.example.com.", true},
		{"127.0.0.1", false}, {"[::1]", false}, {"::1", false}, {"10.1.2.3", false}, {"192.168.0.10", false},
		{"169.254.169.254", false}, {"[fd00:ec2::254]", false}, {"[fe80::1%25eth0]", false}, {"fe80::1%eth0", false},
		{"[::ffff:169.254.169.254]", false}, {"0.0.0.0", false},
		{"localhost", false}, {"LOCALHOST.", false}, {"api.localhost", false},
		{"metadata.google.internal", false}, {"Metadata.Google.Internal.", false}, {"metadata", false}, {"instance-data", false},
		{"127.1", false}, {"2130706433", false}, {"0x7f.1", false}, {"0x7f000001", false}, {"", false},
	} {
		err := HostAllowed(tc.host)
		if (err == nil) != tc.ok {
			t.Errorf("HostAllowed(%q) = %v, want ok=%v", tc.host, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrHostNotAllowed) {
			t.Errorf("HostAllowed(%q): %v does not wrap ErrHostNotAllowed", tc.host, err)
		}
	}
}

func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "agent.example", "[::1]", "0x7f.1", "metadata."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		err := HostAllowed(host)
		// Whatever passes and parses as an address is public.
		if ip, perr := netip.ParseAddr(strings.Trim(host, "[]")); perr == nil && err == nil && !Public(ip) {
			t.Fatalf("HostAllowed(%q) passed a non-public address", host)
		}
	})
}

// TestTransportReusesConnections: three rounds of 8 concurrent requests to
// one host go over at most 8 connections (http.DefaultTransport keeps only 2
// idle per host, so each later round would dial 6 anew).
func TestTransportReusesConnections(t *testing.T) {
	const n = 8
	var mu sync.Mutex
	conns, in := 0, 0
	gate := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		g := gate
		if in++; in == n {
			close(gate)
			in, gate = 0, make(chan struct{})
		}
		mu.Unlock()
		<-g
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c := &http.Client{Transport: Transport(true)}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	if conns > n {
		t.Fatalf("%d connections for 3 rounds of %d concurrent requests, want at most %d", conns, n, n)
	}
}
