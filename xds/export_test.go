package xds

// CacheStats exposes the controller's cache counters to the external tests:
// real opens through the keyring, real seals and fingerprints under the edge
// key, and how many entries each cache holds.
type CacheStats struct{ Opens, Seals, Fingerprints, Opened, Sealed int }

func (c *Controller) CacheStats() CacheStats {
	s := CacheStats{Opened: c.opened.len(), Sealed: c.sealer.len()}
	c.opened.mu.Lock()
	s.Opens = c.opened.opens
	c.opened.mu.Unlock()
	c.sealer.mu.Lock()
	s.Seals, s.Fingerprints = c.sealer.seals, c.sealer.fings
	c.sealer.mu.Unlock()
	return s
}
