package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fakeGraph follows the WhatsApp Cloud API: POST /v{ver}/{phone_number_id}/messages
// with a Bearer token and messaging_product "whatsapp"; Graph error objects.
func fakeGraph(t *testing.T) (*httptest.Server, *[]map[string]any) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer EAAG-good" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"A1"}}`))
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v21.0/1065551234/messages" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"message":"Unsupported post request.","type":"GraphMethodException","code":100,"error_subcode":33}}`))
			return
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		got = append(got, body)
		if body["messaging_product"] != "whatsapp" || body["type"] != "text" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"message":"(#100) The parameter messaging_product is required.","type":"OAuthException","code":100}}`))
			return
		}
		if body["to"] == "15550000000" {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"B2"}}`))
			return
		}
		w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"` + body["to"].(string) + `","wa_id":"x"}],"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestSend(t *testing.T) {
	ctx := context.Background()
	srv, got := fakeGraph(t)
	s := NewSender(srv.URL, "", nil)
	id, err := s.Send(ctx, "EAAG-good", Outgoing{PhoneNumberID: "1065551234", To: "16505551234", Text: "olá", ReplyTo: "wamid.in"})
	if err != nil || id == "" {
		t.Fatalf("send: %q %v", id, err)
	}
	b := (*got)[0]
	if b["text"].(map[string]any)["body"] != "olá" || b["context"].(map[string]any)["message_id"] != "wamid.in" || b["recipient_type"] != "individual" {
		t.Fatalf("body %v", b)
	}
	if err := s.SendText(ctx, "EAAG-good", "1065551234", "16505551234", "", "x"); err != nil {
		t.Fatal(err)
	}
	var se *SendError
	_, err = s.Send(ctx, "EAAG-bad", Outgoing{PhoneNumberID: "1065551234", To: "1", Text: "x"})
	if !errors.As(err, &se) || se.Code != 190 || se.Temporary() {
		t.Fatalf("bad token: %v", err)
	}
	_, err = s.Send(ctx, "EAAG-good", Outgoing{PhoneNumberID: "1065551234", To: "15550000000", Text: "x"})
	if !errors.As(err, &se) || se.Code != 130429 || !se.Temporary() {
		t.Fatalf("rate limit: %v", err)
	}
	if err := s.SendText(ctx, "EAAG-good", "", "1", "", "x"); err == nil {
		t.Fatal("empty phone_number_id accepted")
	}
}
