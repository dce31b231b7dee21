package console_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/console"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// client is a cookie-keeping HTTP client that does not follow redirects.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getPage(t *testing.T, c *http.Client, u string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func postForm(t *testing.T, c *http.Client, u string, f url.Values) (int, http.Header, string) {
	t.Helper()
	resp, err := c.PostForm(u, f)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// signIn signs c in with token and returns the session's CSRF token.
func signIn(t *testing.T, c *http.Client, base, token string) string {
	t.Helper()
	_, _, body := getPage(t, c, base+"/signin")
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in form has no CSRF field:\n%s", body)
	}
	code, h, body := postForm(t, c, base+"/signin", url.Values{"csrf": {m[1]}, "token": {token}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign in: %d %s", code, body)
	}
	_, _, body = getPage(t, c, base+h.Get("Location"))
	m = csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("signed-in page has no CSRF field:\n%s", body)
	}
	return m[1]
}

func TestSignInNeedsItsCSRFToken(t *testing.T) {
	e := newEnv(t, console.Config{})
	for name, f := range map[string]url.Values{
		"missing": {"token": {e.tokA}},
		"wrong":   {"token": {e.tokA}, "csrf": {"forged"}},
	} {
		c := client(t)
		getPage(t, c, e.url+"/signin") // gets the cookie half
		code, h, _ := postForm(t, c, e.url+"/signin", f)
		if code != http.StatusForbidden || strings.Contains(strings.Join(h.Values("Set-Cookie"), "\n"), "sb_session=") {
			t.Errorf("%s CSRF token: sign-in answered %d, %q; want 403 and no session", name, code, h.Values("Set-Cookie"))
		}
	}
	// A form from another session's page does not work either.
	c1, c2 := client(t), client(t)
	_, _, body := getPage(t, c1, e.url+"/signin")
	getPage(t, c2, e.url+"/signin")
	tok := csrfField.FindStringSubmatch(body)[1]
	if code, _, _ := postForm(t, c2, e.url+"/signin", url.Values{"token": {e.tokA}, "csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("another browser's sign-in CSRF token accepted: %d", code)
	}
}

func TestSessionExpiresOnTheServer(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, console.Config{Now: clock, SessionTTL: time.Hour})
	c := client(t)
	signIn(t, c, e.url, e.tokA)
	if code, _, _ := getPage(t, c, e.url+"/orgs/"+e.orgA); code != 200 {
		t.Fatalf("signed in: %d", code)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	// The browser still sends the cookie; the server no longer honours it.
	code, h, _ := getPage(t, c, e.url+"/orgs/"+e.orgA)
	if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/signin") {
		t.Fatalf("after the session's TTL: %d %s, want a redirect to /signin", code, h.Get("Location"))
	}
}

func TestRevokedTokenEndsTheSession(t *testing.T) {
	e := newEnv(t, console.Config{})
	c := client(t)
	signIn(t, c, e.url, e.tokB)
	who := e.must(e.tokB, "GET", "/v1/whoami", nil, 200)
	e.must(e.admin, "POST", "/v1/tokens/"+who["id"].(string)+"/revoke", nil, 200)
	if code, _, body := getPage(t, c, e.url+"/orgs/"+e.orgB); code != http.StatusUnauthorized || !strings.Contains(body, "unauthorized") {
		t.Fatalf("with a revoked token: %d", code)
	}
	if code, _, _ := getPage(t, c, e.url+"/orgs/"+e.orgB); code != http.StatusSeeOther {
		t.Fatalf("the session outlived its revoked token: %d", code)
	}
}

func TestCookiesAreSecureOverTLS(t *testing.T) {
	// A console served over TLS: every cookie it sets is Secure.
	c, err := console.New(console.Config{API: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(c.Handler())
	defer srv.Close()
	hc := srv.Client()
	hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	resp, err := hc.Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if len(cs) == 0 {
		t.Fatal("no cookie set by the sign-in page")
	}
	for _, ck := range cs {
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s over https: Secure=%v HttpOnly=%v SameSite=%v", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
		}
	}
}

func TestPagesCarrySecurityHeadersAndCSRFOnEveryForm(t *testing.T) {
	e := newEnv(t, console.Config{})
	c := client(t)
	signIn(t, c, e.url, e.admin)
	form := regexp.MustCompile(`(?s)<form[^>]*method="post".*?</form>`)
	for _, p := range []string{"/orgs", "/orgs/" + e.orgA, "/orgs/" + e.orgA + "/connect/telegram", "/orgs/" + e.orgA + "/agents",
		"/orgs/" + e.orgA + "/bindings", "/orgs/" + e.orgB + "/installations/" + e.instB, "/stages"} {
		code, h, body := getPage(t, c, e.url+p)
		if code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", p, h)
		}
		forms := form.FindAllString(body, -1)
		if len(forms) == 0 {
			t.Errorf("%s: no form", p)
		}
		for _, f := range forms {
			if !csrfField.MatchString(f) {
				t.Errorf("%s: a form without the CSRF field:\n%s", p, f)
			}
		}
		// Links to a provider's pages are fine; nothing is loaded from elsewhere.
		for _, bad := range []string{`src="http`, `src="//`, `<link rel="stylesheet" href="http`, `url(http`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s loads something from another origin (%s)", p, bad)
			}
		}
	}
}

// TestRefusalBackLinkStaysOnTheConsole: a refused form's "Back" link is the
// form's back field only when it is a path of this console (not //host, not
// /\host, which browsers read as another host, nor a header-breaking value).
func TestRefusalBackLinkStaysOnTheConsole(t *testing.T) {
	e := newEnv(t, console.Config{})
	c := client(t)
	csrf := signIn(t, c, e.url, e.tokA)
	form := "/orgs/" + e.orgA + "/connect/slack"
	for _, tc := range []struct{ back, want string }{
		{"/orgs/" + e.orgA + "/agents", `href="/orgs/` + e.orgA + `/agents"`},
		{"//evil.example/x", `href="` + form + `"`},
		{`/\evil.example/x`, `href="` + form + `"`},
		{"/\r\nevil.example", `href="` + form + `"`},
		{"https://evil.example/", `href="` + form + `"`},
	} {
		code, _, body := postForm(t, c, e.url+form, url.Values{"csrf": {csrf}, "mode": {"bogus"}, "back": {tc.back}})
		if code != http.StatusBadRequest || !strings.Contains(body, tc.want) || strings.Contains(body, "evil.example") {
			t.Errorf("back %q: status %d, want a refusal with %s and no evil.example:\n%s", tc.back, code, tc.want, body)
		}
	}
}

// TestStagesPageNamesUnsetStage: a provider whose stage was never set is
// shown as not served, from the API's "unset" (the console once read a
// field the API never sends, so the note never showed).
func TestStagesPageNamesUnsetStage(t *testing.T) {
	e := newEnvStages(t, console.Config{}, nil, map[string]bool{"github": true})
	c := client(t)
	signIn(t, c, e.url, e.admin)
	code, _, body := getPage(t, c, e.url+"/stages")
	if code != 200 {
		t.Fatalf("/stages: %d", code)
	}
	row := regexp.MustCompile(`(?s)<tr>\s*<td>([^<]*)</td>\s*<td>(.*?)</td>`)
	seen := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(body, -1) {
		seen[m[1]] = m[2]
	}
	if len(seen) < 2 {
		t.Fatalf("stages table rows not found in:\n%s", body)
	}
	for title, cell := range seen {
		unset := strings.Contains(cell, "never set: not served")
		if want := title == "GitHub"; unset != want {
			t.Errorf("%s: stage cell %q: shows unset %v, want %v", title, cell, unset, want)
		}
	}
	if _, ok := seen["GitHub"]; !ok {
		t.Errorf("no GitHub row: %v", seen)
	}
}
