package servicetest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// InfoInt is the integer field of a Redis INFO section (e.g. "memory",
// "used_memory"; "persistence", "aof_current_size"); the test fails when
// the server does not answer it.
func InfoInt(t testing.TB, rc redis.UniversalClient, section, field string) int64 {
	t.Helper()
	info, err := rc.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s %s: %q is not an integer", section, field, v)
			}
			return n
		}
	}
	t.Fatalf("no %s in INFO %s", field, section)
	return 0
}
