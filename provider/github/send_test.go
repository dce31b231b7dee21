package github_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/github"
	"github.com/switchboard-dev/switchboard/provider/github/kit"
)

// TestComment: issue comments and review-thread replies go to their
// documented paths; bad credentials are permanent.
func TestComment(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit{}.FakeAPI())
	s := github.NewSender(rec.URL, nil)
	if err := s.SendText(ctx, kit.Token, "", github.Conversation(kit.Repo, 42), "", "issue reply"); err != nil {
		t.Fatal(err)
	}
	if err := s.SendText(ctx, kit.Token, "", github.Conversation(kit.Repo, 2), "426899380", "thread reply"); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if reqs[0].Path != "/repos/octo-org/hello-world/issues/42/comments" || reqs[1].Path != "/repos/octo-org/hello-world/pulls/2/comments/426899380/replies" {
		t.Fatalf("paths %s, %s", reqs[0].Path, reqs[1].Path)
	}
	if v := reqs[0].Header.Get("X-GitHub-Api-Version"); v != github.APIVersion {
		t.Fatalf("api version %q", v)
	}
	var se *github.SendError
	if err := s.SendText(ctx, "ghs_wrong", "", github.Conversation(kit.Repo, 1), "", "x"); !errors.As(err, &se) || se.Status != 401 || se.Temporary() {
		t.Fatalf("bad credentials: %v", err)
	}
	if err := s.SendText(ctx, kit.Token, "", "not-a-conversation", "", "x"); err == nil {
		t.Fatal("bad conversation accepted")
	}
}

// TestPrimaryRateLimit: 403 with x-ratelimit-remaining 0 waits until
// x-ratelimit-reset.
func TestPrimaryRateLimit(t *testing.T) {
	reset := time.Now().Add(90 * time.Second).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Limit", "5000")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", strconv.FormatInt(reset, 10))
		w.WriteHeader(403)
		w.Write([]byte(`{"message":"API rate limit exceeded for installation ID 2311213.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}`))
	}))
	defer srv.Close()
	err := github.NewSender(srv.URL, nil).SendText(context.Background(), kit.Token, "", github.Conversation(kit.Repo, 1), "", "x")
	var se *github.SendError
	if !errors.As(err, &se) || !se.Temporary() {
		t.Fatalf("primary rate limit: %v", err)
	}
	if w := se.RetryAfter(); w < 80*time.Second || w > 91*time.Second {
		t.Fatalf("primary rate limit: wait %v, want about 90s (until x-ratelimit-reset)", w)
	}
}

// TestAppPrivateKey: with the App's private key as bot_token, the sender
// mints an installation access token with a JWT (iss the App id) and
// comments with it; the token is reused until near its expiry; a key of
// another App is refused.
func TestAppPrivateKey(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit{}.FakeAPI())
	s := github.NewSender(rec.URL, nil)
	r := kit.Kit{}.GoodReply()
	r.Token, r.AppID, r.Account = kit.PrivateKeyPEM(), kit.AppID, kit.Installation
	for _, text := range []string{"first", "second"} {
		r.Text = text
		if err := s.SendReply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, q := range rec.Requests() {
		paths = append(paths, q.Path)
	}
	want := "/app/installations/2311213/access_tokens /repos/octo-org/hello-world/issues/42/comments /repos/octo-org/hello-world/issues/42/comments"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("requests %s\nwant %s", got, want)
	}
	if strings.Contains(rec.Requests()[1].Header.Get("Authorization"), "PRIVATE") {
		t.Fatal("the private key was sent")
	}
	other := r
	other.AppID = "999"
	if err := github.NewSender(rec.URL, nil).SendReply(ctx, other); err == nil {
		t.Fatal("a JWT for another app was accepted")
	}
	if err := s.SendText(ctx, kit.PrivateKeyPEM(), kit.Installation, github.Conversation(kit.Repo, 1), "", "x"); err == nil {
		t.Fatal("a private key was used as a token")
	}
}
