package twilio_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/conformance"
	"github.com/switchboard-dev/switchboard/provider/twilio"
	"github.com/switchboard-dev/switchboard/provider/twilio/kit"
)

func TestParseCredentials(t *testing.T) {
	c, err := twilio.ParseCredentials("AC123:tok")
	if err != nil || c.AccountSid != "AC123" || c.User != "AC123" || c.Pass != "tok" {
		t.Fatalf("auth token form: %+v %v", c, err)
	}
	c, err = twilio.ParseCredentials("AC123:SK456:sec")
	if err != nil || c.AccountSid != "AC123" || c.User != "SK456" || c.Pass != "sec" {
		t.Fatalf("API key form: %+v %v", c, err)
	}
	for _, bad := range []string{"", "tok", "AC123", "AC123:", ":tok", "XX123:tok", "AC123:XK456:sec", "AC/1:tok", "AC1:a:b:c"} {
		if _, err := twilio.ParseCredentials(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSend: the Messages API gets To, From (the installation's number) and
// Body as form parameters with basic authentication; a refusal is permanent.
func TestSend(t *testing.T) {
	ctx := context.Background()
	rec := conformance.Serve(t, kit.Kit{}.FakeAPI())
	s := twilio.NewSender(rec.URL, nil)
	sid, err := s.Send(ctx, kit.BotToken, kit.OwnNumber, "whatsapp:+5511987654321", "olá")
	if err != nil || sid == "" {
		t.Fatalf("send: %q %v", sid, err)
	}
	r := rec.Requests()[0]
	v, _ := url.ParseQuery(string(r.Body))
	if r.Path != "/2010-04-01/Accounts/"+kit.AccountSid+"/Messages.json" || v.Get("From") != kit.OwnNumber || v.Get("To") != "whatsapp:+5511987654321" || v.Get("Body") != "olá" {
		t.Fatalf("request %s %v", r.Path, v)
	}
	var se *twilio.SendError
	_, err = s.Send(ctx, kit.AccountSid+":wrong", kit.OwnNumber, kit.Customer, "x")
	if !errors.As(err, &se) || se.Code != 20003 || se.Temporary() {
		t.Fatalf("bad credentials: %v", err)
	}
	_, err = s.Send(ctx, kit.BotToken, "+15550001111", kit.Customer, "x")
	if !errors.As(err, &se) || se.Code != 21606 || se.Temporary() {
		t.Fatalf("not our number: %v", err)
	}
	if _, err := s.Send(ctx, "not-credentials", kit.OwnNumber, kit.Customer, "x"); err == nil || len(rec.Requests()) != 3 {
		t.Fatalf("malformed credentials: %v (%d requests)", err, len(rec.Requests()))
	}
}
