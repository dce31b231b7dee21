package gencache

import (
	"errors"
	"fmt"
	"testing"

	"github.com/switchboard-dev/switchboard/store"
)

// TestMemo: a value and "not found" are kept for their generation, other
// errors are not; a new generation starts empty; a nil cache always loads.
func TestMemo(t *testing.T) {
	var c Cache
	loads := 0
	load := func(v string, err error) func() (string, error) {
		return func() (string, error) { loads++; return v, err }
	}
	cases := []struct {
		gen       int64
		key       string
		v         string
		err       error
		want      string
		wantErr   error
		wantLoads int
	}{
		{1, "a", "A1", nil, "A1", nil, 1},
		{1, "a", "other", nil, "A1", nil, 1},                       // kept
		{1, "nf", "", store.ErrNotFound, "", store.ErrNotFound, 2}, // not found is kept
		{1, "nf", "late", nil, "", store.ErrNotFound, 2},
		{1, "down", "", errors.New("db down"), "", nil, 3}, // not kept
		{1, "down", "D", nil, "D", nil, 4},
		{2, "a", "A2", nil, "A2", nil, 5}, // new generation: empty
		{2, "a", "x", nil, "A2", nil, 5},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := Memo(c.At(tc.gen), tc.key, load(tc.v, tc.err))
			if got != tc.want || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || (tc.wantErr == nil && tc.err == nil && err != nil) {
				t.Fatalf("Memo = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if loads != tc.wantLoads {
				t.Fatalf("%d loads, want %d", loads, tc.wantLoads)
			}
		})
	}
	if c.At(2).Generation() != 2 {
		t.Fatal("generation not kept")
	}
	n := loads
	Memo(nil, "a", load("x", nil))
	Memo(nil, "a", load("x", nil))
	if loads != n+2 {
		t.Fatal("a nil cache must always load")
	}
}
