package oauthbinding

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestBinding(t *testing.T) {
	v, d := New()
	v2, d2 := New()
	if v == v2 || d == d2 || Digest(v) != d {
		t.Fatalf("New: %q %q / %q %q", v, d, v2, d2)
	}
	if err := Valid(d); err != nil {
		t.Fatalf("Valid(own digest): %v", err)
	}
	ck := Cookie(v, true, 10*time.Minute)
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != Path || ck.MaxAge != 600 || ck.Name != CookieName(d) {
		t.Fatalf("cookie %+v", ck)
	}
	req := func(cks ...*http.Cookie) *http.Request {
		r := httptest.NewRequest("GET", Path+"slack/callback", nil)
		for _, c := range cks {
			r.AddCookie(c)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"its own cookie", req(ck), true},
		{"no cookie", req(), false},
		{"another flow's cookie", req(Cookie(v2, true, time.Minute)), false},
		{"right name, wrong value", req(&http.Cookie{Name: CookieName(d), Value: v2}), false},
		{"right name, empty value", req(&http.Cookie{Name: CookieName(d), Value: ""}), false},
		{"both flows' cookies", req(Cookie(v2, true, time.Minute), ck), true},
	} {
		if got := Check(tc.r, d); got != tc.want {
			t.Errorf("%s: Check = %v, want %v", tc.name, got, tc.want)
		}
	}
	if c := Clear(d, false); c.MaxAge != -1 || c.Name != ck.Name || c.Path != Path {
		t.Errorf("Clear: %+v", c)
	}
}

func TestValid(t *testing.T) {
	_, d := New()
	for _, tc := range []struct{ in, wantErr string }{
		{d, ""},
		{"", "43 characters"},
		{d[:42], "43 characters"},
		{d + "A", "43 characters"},
		{strings.Repeat("=", 43), "base64url"},
		{strings.Repeat("+", 43), "base64url"},
	} {
		err := Valid(tc.in)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("Valid(%q) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}
