package github_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
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
