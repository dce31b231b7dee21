package console

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestColourContrast: every foreground/background pair console.css puts text
// in meets WCAG 2.1 AA (4.5:1 for body text). The colours are read from the
// stylesheet itself, so changing one that breaks contrast fails here. The
// pairs are the rules that set a text colour on a background (see the
// selector named with each).
func TestColourContrast(t *testing.T) {
	css, err := os.ReadFile("static/console.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`--([a-z]+):\s*(#[0-9a-fA-F]{3,6})`).FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = m[2]
	}
	colour := func(s string) string {
		if strings.HasPrefix(s, "--") {
			v, ok := vars[s[2:]]
			if !ok {
				t.Fatalf("console.css defines no %s", s)
			}
			return v
		}
		if !strings.Contains(string(css), s) {
			t.Fatalf("console.css no longer uses %s: update this test's pairs", s)
		}
		return s
	}
	pairs := []struct{ rule, fg, bg string }{
		{"body", "--fg", "--bg"},
		{"body on .card", "--fg", "--card"},
		{"a", "--accent", "--bg"},
		{"a on .card", "--accent", "--card"},
		{".hint, .crumb, .small", "--muted", "--bg"},
		{".hint on .card", "--muted", "--card"},
		{"header.top", "#fff", "#13233d"},
		{".who", "#dfe6f0", "#13233d"},
		{"button", "#fff", "--accent"},
		{"button.bad", "#fff", "--bad"},
		{"button.oauth", "#fff", "#4a154b"},
		{"button.copy", "--accent", "#fff"},
		{".flash.ok", "#0a3d1c", "--okbg"},
		{".flash.error", "#5c0707", "--badbg"},
		{".badge.ok, .live.ok", "--ok", "--okbg"},
		{".badge.bad", "--bad", "--badbg"},
		{".badge.warn, .live", "--warn", "--warnbg"},
		{"tr.won", "--fg", "--okbg"},
	}
	for _, p := range pairs {
		fg, bg := colour(p.fg), colour(p.bg)
		if r := contrast(t, fg, bg); r < 4.5 {
			t.Errorf("%s: %s on %s has contrast %.2f:1, want at least 4.5:1 (WCAG AA)", p.rule, fg, bg, r)
		}
	}
	// The function itself: black on white is 21:1, a colour on itself 1:1.
	if r := contrast(t, "#000", "#fff"); math.Abs(r-21) > 0.01 {
		t.Fatalf("contrast(#000, #fff) = %.3f", r)
	}
	if r := contrast(t, "#777777", "#777777"); math.Abs(r-1) > 0.001 {
		t.Fatalf("contrast of a colour on itself = %.3f", r)
	}
}

// contrast is the WCAG 2.1 contrast ratio of two #rgb / #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		t.Fatalf("colour %q is not #rgb or #rrggbb", hex)
	}
	var ch [3]float64
	for i := range ch {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}
