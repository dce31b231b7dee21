package main

import (
	"fmt"
	"sync"
	"time"
)

// redisSupervisor keeps up's private redis-server running: when it exits on
// its own (killed, crashed, out of memory) it is started again with the same
// data directory (its append-only file brings the queues back), after a
// backoff that grows while it keeps dying and resets once it has stayed up.
// Ingest and the workers reconnect by themselves (go-redis); the workers'
// leases survive in the append-only file or are retaken.
type redisSupervisor struct {
	start func() (*redisServer, error)
	logs  *lineMux
	now   func() time.Time

	mu       sync.Mutex
	cur      *redisServer
	restarts int
	running  bool
	stopc    chan struct{}
	done     chan struct{}
	once     sync.Once
}

// redisStableAfter is how long a redis-server must have run for its next exit
// to restart it after the shortest delay again.
const redisStableAfter = 30 * time.Second

// redisRestartDelay is the wait before the restart that follows attempt
// consecutive quick exits (attempt 0: the first): 100 ms doubling up to 10 s.
func redisRestartDelay(attempt int) time.Duration {
	const first, max = 100 * time.Millisecond, 10 * time.Second
	if attempt < 0 {
		attempt = 0
	}
	if attempt > 7 { // 100ms<<7 = 12.8 s > max
		return max
	}
	d := first << attempt
	if d > max {
		return max
	}
	return d
}

func newRedisSupervisor(first *redisServer, start func() (*redisServer, error), logs *lineMux) *redisSupervisor {
	return &redisSupervisor{start: start, logs: logs, now: time.Now, cur: first,
		stopc: make(chan struct{}), done: make(chan struct{})}
}

func (s *redisSupervisor) current() *redisServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Restarts is how many times redis-server was started again.
func (s *redisSupervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// run supervises until stop.
func (s *redisSupervisor) run() {
	s.mu.Lock()
	select {
	case <-s.stopc:
		s.mu.Unlock()
		return
	default:
	}
	s.running = true
	s.mu.Unlock()
	defer close(s.done)
	attempt := 0
	for {
		cur := s.current()
		started := s.now()
		select {
		case <-s.stopc:
			return
		case <-cur.done:
		}
		if s.now().Sub(started) >= redisStableAfter {
			attempt = 0
		}
		for {
			d := redisRestartDelay(attempt)
			attempt++
			s.logs.line("up", fmt.Sprintf("redis-server exited unexpectedly (%v); restarting in %s%s", cur.err, d, cur.logTail()))
			select {
			case <-s.stopc:
				return
			case <-time.After(d):
			}
			rs, err := s.start()
			if err != nil {
				s.logs.line("up", fmt.Sprintf("restart redis-server: %v", err))
				continue
			}
			s.mu.Lock()
			s.cur = rs
			s.restarts++
			n := s.restarts
			s.mu.Unlock()
			s.logs.line("up", fmt.Sprintf("redis-server restarted (pid %d, restart %d)", rs.cmd.Process.Pid, n))
			break
		}
	}
}

// stop ends supervision, then stops the current redis-server.
func (s *redisSupervisor) stop() {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.stopc)
		running := s.running
		s.mu.Unlock()
		if running {
			<-s.done
		}
		s.current().stop(s.logs)
	})
}
