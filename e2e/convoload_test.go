package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// convoLoad is a bounded load of numbered events on several conversations of
// one installation, sent through the edge in the background: the texts the
// edge answered 200 (ingest had Redis accept them) are the acknowledged
// events a test then expects at the agent, in order per conversation.
type convoLoad struct {
	s       *stack
	mu      sync.Mutex
	acked   []string             // texts acknowledged, in order
	ackedAt map[string]time.Time // when
	stop    chan struct{}
	done    chan struct{}
}

// startConvoLoad sends one event every every (at most max events, 0: no
// limit) on channels conversations, round robin, with texts
// "<tag> <run> cNN nNNNNN" and channel ids "C0<TAG>NN", until stopped.
func (s *stack) startConvoLoad(in install, tag string, channels, max int, every time.Duration) *convoLoad {
	l := &convoLoad{s: s, ackedAt: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
	run := randHex(3)
	go func() {
		defer close(l.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 0; max == 0 || n < max; n++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			ch := n % channels
			text := fmt.Sprintf("%s %s c%02d n%05d", tag, run, ch, n/channels)
			ev := in.event(text)
			ev.Channel = fmt.Sprintf("C0%s%02d", strings.ToUpper(tag), ch)
			ev.EventID = "Ev" + run + strconv.Itoa(n)
			if code, _ := s.send(s.signed(s.edge, in, ev, in.cred)); code == 200 {
				l.mu.Lock()
				l.acked = append(l.acked, text)
				l.ackedAt[text] = time.Now()
				l.mu.Unlock()
			}
		}
	}()
	return l
}

// acknowledged is how many events were acknowledged so far.
func (l *convoLoad) acknowledged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// finish stops the load and returns the acknowledged texts.
func (l *convoLoad) finish() []string {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...)
}

// delivery is what the agent received of a finished load.
type delivery struct {
	acked    int           // events acknowledged (all delivered)
	dups     int           // redeliveries of one of them
	maxStall time.Duration // longest acknowledgement-to-first-delivery time
	channels int           // conversations whose order was checked
}

// waitDeliveredInOrder waits up to within for every event the finished load
// acknowledged to reach the agent, then checks that each conversation's
// first deliveries came in acknowledgement order (a redelivery is the
// documented duplicate, not an error). It polls the agent itself rather
// than s.waitFor, which fails on any exited process (tests kill some).
func (l *convoLoad) waitDeliveredInOrder(t *testing.T, within time.Duration) delivery {
	t.Helper()
	want := l.finish()
	wantSet := map[string]bool{}
	for _, x := range want {
		wantSet[x] = true
	}
	var firsts []string
	var r delivery
	delivered := func() bool {
		seen := map[string]bool{}
		firsts, r = firsts[:0], delivery{acked: len(want)}
		for _, d := range l.s.received() {
			x := d.Envelope.Text
			if !wantSet[x] {
				continue
			}
			if seen[x] {
				r.dups++
				continue
			}
			seen[x] = true
			firsts = append(firsts, x)
			if st := d.At.Sub(l.ackedAt[x]); st > r.maxStall {
				r.maxStall = st
			}
		}
		return len(seen) == len(wantSet)
	}
	waitUntil(t, fmt.Sprintf("all %d acknowledged events delivered", len(wantSet)), within, delivered)
	lastN := map[string]string{}
	for _, x := range firsts {
		f := strings.Fields(x) // tag run cNN nNNNNN
		if prev, ok := lastN[f[2]]; ok && f[3] <= prev {
			t.Errorf("channel %s: %s delivered after %s", f[2], f[3], prev)
		}
		lastN[f[2]] = f[3]
	}
	r.channels = len(lastN)
	return r
}

// waitUntil polls ok every 50 ms for up to d and fails the test after.
func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	for until := time.Now().Add(d); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(until) {
			t.Fatalf("%s: not within %s", what, d)
		}
	}
}
