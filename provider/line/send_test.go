package line_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/line"
	"github.com/switchboard-dev/switchboard/provider/line/kit"
)

// TestReplyThenPush: the first reply to an event spends its reply token, the
// second (LINE: "Invalid reply token") and any after the token's minute go
// out as pushes; a retried push carries the same retry key and LINE's 409
// for it counts as sent.
func TestReplyThenPush(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit{}.FakeAPI())
	s := line.NewSender(rec.URL, nil)
	r := kit.Kit{}.GoodReply()
	r.Text = "first"
	if err := s.SendReply(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Text = "second"
	if err := s.SendReply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.SendReply(ctx, r); err != nil { // a worker retry of "second": 409, accepted
		t.Fatalf("retried push: %v", err)
	}
	late := kit.Kit{}.GoodReply()
	late.EventID, late.Text, late.ReceivedAt = "01FZ74A0TDDPYRVKNK77XKC3ZZ", "late", time.Now().Add(-2*line.ReplyTokenTTL)
	if err := s.SendReply(ctx, late); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, q := range rec.Requests() {
		paths = append(paths, q.Path)
	}
	// first: reply; second: reply refused, push; its retry: the same; late: push.
	want := "/v2/bot/message/reply /v2/bot/message/reply /v2/bot/message/push /v2/bot/message/reply /v2/bot/message/push /v2/bot/message/push"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("requests %s\nwant     %s", got, want)
	}
	reqs := rec.Requests()
	if k1, k2 := reqs[2].Header.Get("X-Line-Retry-Key"), reqs[4].Header.Get("X-Line-Retry-Key"); k1 == "" || k1 != k2 || k1 == reqs[5].Header.Get("X-Line-Retry-Key") {
		t.Fatalf("retry keys %q %q %q", k1, k2, reqs[5].Header.Get("X-Line-Retry-Key"))
	}
}

func TestSendErrors(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit{}.FakeAPI())
	s := line.NewSender(rec.URL, nil)
	var se *line.SendError
	err := s.SendText(ctx, "wrong-token", "", kit.User, "", "x")
	if !errors.As(err, &se) || se.Status != 401 || se.Temporary() {
		t.Fatalf("bad token: %v", err)
	}
	if err := s.SendText(ctx, kit.AccessToken, "", kit.User, "", strings.Repeat("a", line.MaxText*line.MaxMessages+1)); !errors.As(err, new(*provider.TextTooLongError)) {
		t.Fatalf("over 25,000: %v", err)
	}
	if err := s.SendText(ctx, kit.AccessToken, "", kit.User, "", strings.Repeat("😀", line.MaxText*line.MaxMessages/2)); err != nil {
		t.Fatalf("25,000 UTF-16 units of emoji: %v", err)
	}
}
