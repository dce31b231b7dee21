package discord_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/discord/discordtest"
	"github.com/switchboard-dev/switchboard/provider/registration"
)

func TestRegister(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	const tok = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.bot-token-value"
	api := discordtest.New("1000000000000000001", tok, key)
	defer api.Close()
	// A stand-in for the edge: answers a PING with type 1 when answering is on.
	answer := true
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answer {
			http.Error(w, `{"error":"signature_invalid"}`, 401)
			return
		}
		json.NewEncoder(w).Encode(map[string]int{"type": 1})
	}))
	defer edge.Close()
	req := registration.Request{InstallationID: "inst_1", WebhookURL: edge.URL + "/v1/hooks/discord/x", ExternalAppID: "1000000000000000001",
		Base: api.URL, Secrets: map[string]string{"bot_token": tok}}
	res, err := discord.Register(context.Background(), req)
	if err != nil || !res.OK || api.Endpoint() != req.WebhookURL || api.Pings != 1 {
		t.Fatalf("register: %+v, %v (endpoint %q, pings %d)", res, err, api.Endpoint(), api.Pings)
	}
	if res, err = discord.Check(context.Background(), req); err != nil || !res.OK {
		t.Errorf("check: %+v, %v", res, err)
	}
	answer = false
	moved := req
	moved.WebhookURL = edge.URL + "/v1/hooks/discord/y"
	res, err = discord.Register(context.Background(), moved)
	if err != nil || res.OK || !strings.Contains(res.Steps[0].Detail, "The specified interactions endpoint url could not be verified.") {
		t.Errorf("refused endpoint: %+v, %v", res, err)
	}
	if res, _ = discord.Check(context.Background(), moved); res.OK {
		t.Errorf("check of another URL passed: %+v", res)
	}
	bad := req
	bad.Secrets = map[string]string{"bot_token": "wrong"}
	res, err = discord.Register(context.Background(), bad)
	if err != nil || res.OK || !strings.HasPrefix(res.Steps[0].Detail, "401: Unauthorized") {
		t.Errorf("wrong token: %+v, %v", res, err)
	}
	other := req
	other.ExternalAppID = "999"
	if res, _ = discord.Check(context.Background(), other); res.OK {
		t.Errorf("token of another application passed")
	}
}
