package probe

import "testing"

func TestMarker(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"sblt-abc-12", "sblt-abc-12"},
		{"/ask sblt-abc-12", "sblt-abc-12"},
		{"/ask question:sblt-abc-12", "sblt-abc-12"},
		{"sbmatrix-0f1e-oversized xxxxxxxx", "sbmatrix-0f1e-oversized"},
		{"hello sbprobe-ready-1-ab.", "sbprobe-ready-1-ab"},
		{"no marker here", "no marker here"},
		{"", ""},
	} {
		if got := Marker(c.in); got != c.want {
			t.Errorf("Marker(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
