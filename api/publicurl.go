package api

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ParsePublicURL checks the edge's public base URL (the --public-url flag of
// serve and up) and returns it without a trailing slash. It must be an
// absolute https URL, or http when the host is loopback (localhost,
// 127.0.0.0/8, ::1) for local development; no user info, query or fragment.
// "" is accepted and returned as "" (no public URL known: answers carry
// webhook_path only).
func ParsePublicURL(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("must be an absolute URL such as https://hooks.example.com")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", errors.New("must not carry user info, a query or a fragment")
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("must be https (providers call it over the internet); http is accepted only for a loopback host, not %q", u.Hostname())
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// IsLoopbackHost reports whether host (without port) names this machine.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// webhookURL is the full URL a provider calls for path ("" without a public URL).
func (s *Server) webhookURL(path string) string {
	if s.publicURL == "" || path == "" {
		return ""
	}
	return s.publicURL + path
}
