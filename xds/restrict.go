package xds

import (
	"github.com/switchboard-dev/switchboard/filter"
)

// Restrict is what a node group held at an older configuration is served
// while newer builds exist: the held configuration, tightened by everything
// the latest one takes away. Canary-first protects against changes that let
// more through (a new installation, a new secret, a loosened limit); changes
// that only refuse more (a revocation, a removed installation, a secret ended
// by rotation, a provider set off) must never wait for a promotion.
//
// Per installation of held: gone from latest → gone; revoked in latest →
// revoked; secrets kept only when latest still carries the same secret id,
// with the narrower validity window of the two. Nothing of latest that held
// lacks is added.
func Restrict(held, latest filter.Config) (filter.Config, error) {
	byIngress := make(map[string]*filter.Installation, len(latest.Installations))
	for i := range latest.Installations {
		byIngress[latest.Installations[i].IngressID] = &latest.Installations[i]
	}
	out := filter.Config{Installations: make([]filter.Installation, 0, len(held.Installations))}
	for _, h := range held.Installations {
		l := byIngress[h.IngressID]
		if l == nil || l.Provider != h.Provider || l.OrgID != h.OrgID || l.Platform != h.Platform {
			continue
		}
		in := h
		in.Revoked = h.Revoked || l.Revoked
		if l.MaxBodyBytes != 0 && (in.MaxBodyBytes == 0 || l.MaxBodyBytes < in.MaxBodyBytes) {
			in.MaxBodyBytes = l.MaxBodyBytes
		}
		if l.ToleranceSeconds != 0 && (in.ToleranceSeconds == 0 || l.ToleranceSeconds < in.ToleranceSeconds) {
			in.ToleranceSeconds = l.ToleranceSeconds
		}
		live := make(map[string]filter.Secret, len(l.Secrets))
		for _, s := range l.Secrets {
			live[s.ID] = s
		}
		in.Secrets = h.Secrets[:0:0] // nil stays nil, so an unchanged config keeps its version
		for _, s := range h.Secrets {
			ls, ok := live[s.ID]
			if !ok {
				continue
			}
			if ls.NotBefore > s.NotBefore {
				s.NotBefore = ls.NotBefore
			}
			if ls.NotAfter != 0 && (s.NotAfter == 0 || ls.NotAfter < s.NotAfter) {
				s.NotAfter = ls.NotAfter
			}
			in.Secrets = append(in.Secrets, s)
		}
		out.Installations = append(out.Installations, in)
	}
	v, err := ConfigVersion(out)
	if err != nil {
		return filter.Config{}, err
	}
	out.Version = v
	return out, nil
}
