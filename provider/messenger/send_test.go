package messenger_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/internal/metamsg"
	"github.com/switchboard-dev/switchboard/provider/messenger"
	"github.com/switchboard-dev/switchboard/provider/messenger/kit"
)

// TestSend: the Send API gets the token in the Authorization header, never
// in the URL; an invalid token is permanent, Graph's rate-limit code 613 temporary.
func TestSend(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit.FakeAPI())
	s := messenger.NewSender(rec.URL, "", nil)
	if _, err := s.Send(ctx, kit.AccessToken, kit.Account, kit.User, "Olá 👋"); err != nil {
		t.Fatal(err)
	}
	r := rec.Requests()[0]
	if strings.Contains(r.Path, kit.AccessToken) || r.Header.Get("Authorization") != "Bearer "+kit.AccessToken || !strings.Contains(string(r.Body), `"messaging_type":"RESPONSE"`) {
		t.Fatalf("request %s %q %s", r.Path, r.Header.Get("Authorization"), r.Body)
	}
	var se *metamsg.SendError
	if _, err := s.Send(ctx, "EAAG-wrong", kit.Account, kit.User, "x"); !errors.As(err, &se) || se.Code != 190 || se.Temporary() {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := s.Send(ctx, kit.AccessToken, kit.Account, "6543210987650429", "x"); !errors.As(err, &se) || se.Code != 613 || !se.Temporary() {
		t.Fatalf("rate limited: %v", err)
	}
}
