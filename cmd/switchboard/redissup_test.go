package main

import (
	"testing"
	"time"
)

func TestRedisRestartDelay(t *testing.T) {
	for _, c := range []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{6, 6400 * time.Millisecond},
		{7, 10 * time.Second},
		{8, 10 * time.Second},
		{1000, 10 * time.Second},
	} {
		if got := redisRestartDelay(c.attempt); got != c.want {
			t.Errorf("redisRestartDelay(%d) = %s, want %s", c.attempt, got, c.want)
		}
	}
}
