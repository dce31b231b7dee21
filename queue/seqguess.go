package queue

import "sync"

// seqGuessMax bounds the sessions whose last number a Client remembers; past
// it the memory starts afresh (a forgotten session costs one more round trip).
const seqGuessMax = 1 << 16

// seqGuess remembers the last sequence number this process saw taken per
// session tag, to send the next one with the task (enqueueScript checks it).
// A wrong guess costs a round trip, never correctness.
type seqGuess struct {
	mu   sync.Mutex
	last map[string]int64
}

func (g *seqGuess) next(t string) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last[t] + 1
}

func (g *seqGuess) done(t string, seq int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil || len(g.last) >= seqGuessMax {
		g.last = make(map[string]int64)
	}
	if seq > g.last[t] {
		g.last[t] = seq
	}
}
