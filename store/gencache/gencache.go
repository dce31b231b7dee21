// Package gencache keeps reads of the binding store for one store
// generation. Every committed change bumps the generation (store.Store's
// Generation), so a reader that reads the generation first (one small
// prepared query) and then answers from the cache of that generation sees
// every change at once: the first read of a new generation starts a fresh
// cache. Ingest and the worker use it for configuration reads (stages,
// installations, profiles, orgs, bindings, agents, secrets' ciphertexts);
// what does not bump the generation (conversation revocations, audit,
// activity) must not be cached here.
//
// A reader keeps the cache of the generation it read even when a newer one
// has started: what it stores there is never newer than that generation's
// successor, and no later reader uses it.
package gencache

import (
	"errors"
	"sync"

	"github.com/switchboard-dev/switchboard/store"
)

// Max bounds the entries of one generation's cache; past it the reads of
// that generation go to the store uncached.
const Max = 1 << 17

// Cache holds the cache of the latest generation seen.
type Cache struct {
	mu  sync.Mutex
	cur *Gen
}

// Gen is the cache of one generation.
type Gen struct {
	gen int64
	mu  sync.Mutex
	m   map[string]entry
}

type entry struct {
	v   any
	err error // nil or store.ErrNotFound
}

// At returns the cache of generation gen, starting it when gen is new.
func (c *Cache) At(gen int64) *Gen {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.cur.gen != gen {
		c.cur = &Gen{gen: gen, m: make(map[string]entry)}
	}
	return c.cur
}

// Generation is the generation g caches.
func (g *Gen) Generation() int64 { return g.gen }

// Memo answers key from g, or calls load and keeps what it returned when it
// is a value or "not found" (other errors are not kept). Values are shared
// between readers: slices and maps must not be modified. A nil g (no cache)
// always loads.
func Memo[T any](g *Gen, key string, load func() (T, error)) (T, error) {
	if g == nil {
		return load()
	}
	g.mu.Lock()
	e, ok := g.m[key]
	g.mu.Unlock()
	if ok {
		v, _ := e.v.(T)
		return v, e.err
	}
	v, err := load()
	if err == nil || errors.Is(err, store.ErrNotFound) {
		g.mu.Lock()
		if len(g.m) < Max {
			g.m[key] = entry{v: v, err: err}
		}
		g.mu.Unlock()
	}
	return v, err
}
