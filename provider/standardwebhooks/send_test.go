package standardwebhooks_test

import (
	"context"
	"errors"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/standardwebhooks"
	"github.com/switchboard-dev/switchboard/provider/standardwebhooks/kit"
)

// TestReply: a reply verifies at a Standard Webhooks receiver, a retry of it
// carries the same webhook-id, another text another id; without reply_url or
// with a wrong secret the reply is refused for good.
func TestReply(t *testing.T) {
	ctx := context.Background()
	k := kit.Kit{}
	rec := conformance.Serve(t, k.FakeAPI())
	s := k.NewSender(rec.URL).(*standardwebhooks.Sender)
	r := k.GoodReply()
	r.Text = "one"
	for i := 0; i < 2; i++ {
		if err := s.SendReply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	r.Text = "two"
	if err := s.SendReply(ctx, r); err != nil {
		t.Fatal(err)
	}
	got := rec.Requests()
	if got[0].Header.Get("webhook-id") != got[1].Header.Get("webhook-id") || got[0].Header.Get("webhook-id") == got[2].Header.Get("webhook-id") {
		t.Fatalf("webhook-ids %q %q %q", got[0].Header.Get("webhook-id"), got[1].Header.Get("webhook-id"), got[2].Header.Get("webhook-id"))
	}
	var se *standardwebhooks.SendError
	bad := k.GoodReply()
	bad.Text, bad.Token = "x", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // not the receiver's
	if err := s.SendReply(ctx, bad); !errors.As(err, &se) || se.Status != 400 || se.Temporary() {
		t.Fatalf("wrong secret: %v", err)
	}
	none := k.GoodReply()
	none.Text, none.Settings = "x", nil
	if err := s.SendReply(ctx, none); !errors.As(err, &se) || se.Temporary() {
		t.Fatalf("no reply_url: %v", err)
	}
}
