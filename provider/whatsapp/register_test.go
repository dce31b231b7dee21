package whatsapp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/internal/metagraph/metagraphtest"
	"github.com/switchboard-dev/switchboard/provider/registration"
)

func TestRegister(t *testing.T) {
	const appID, secret, verify, token = "1234567890", "abcdefabcdefabcdefabcdefabcdef12", "verify-me-please", "EAAGfakeaccesstoken"
	graph := metagraphtest.New(appID, secret, token)
	defer graph.Close()
	// A stand-in for the edge's GET handshake.
	edge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hub.verify_token") != verify {
			http.Error(w, "forbidden", 403)
			return
		}
		w.Write([]byte(r.URL.Query().Get("hub.challenge")))
	}))
	defer edge.Close()
	p, ok := registration.Get("whatsapp")
	if !ok {
		t.Fatal("whatsapp has no registration")
	}
	req := registration.Request{InstallationID: "inst_1", WebhookURL: edge.URL + "/v1/hooks/whatsapp/x", ExternalAppID: appID, ExternalID: "106540352242922",
		Base: graph.URL, Params: map[string]string{"waba_id": "102290129340398"},
		Secrets: map[string]string{"signing": secret, "verify_token": verify, "bot_token": token}}
	res, err := p.Register(context.Background(), req)
	if err != nil || !res.OK {
		t.Fatalf("register: %+v, %v", res, err)
	}
	if len(graph.Subscriptions) != 1 || graph.Subscriptions[0].Get("object") != "whatsapp_business_account" || graph.Subscriptions[0].Get("fields") != "messages" ||
		graph.Subscriptions[0].Get("callback_url") != req.WebhookURL || len(graph.Subscribed) != 1 || graph.Subscribed[0] != "102290129340398" {
		t.Errorf("graph saw %+v, subscribed %v", graph.Subscriptions, graph.Subscribed)
	}
	// Health reads the subscription back: it matches; another URL does not.
	if res, err := p.Check(context.Background(), req); err != nil || !res.OK {
		t.Errorf("check: %+v, %v", res, err)
	}
	moved := req
	moved.WebhookURL = edge.URL + "/v1/hooks/whatsapp/other"
	if res, err := p.Check(context.Background(), moved); err != nil || res.OK || res.Fix == "" {
		t.Errorf("check of another URL: %+v, %v", res, err)
	}
	// The verify token the edge does not know: Meta's refusal in full, no secret.
	bad := req
	bad.Secrets = map[string]string{"signing": secret, "verify_token": "other-token", "bot_token": token}
	res, err = p.Register(context.Background(), bad)
	if err != nil || res.OK || !strings.Contains(res.Steps[0].Detail, "(#2200) callback verification failed") {
		t.Errorf("refused: %+v, %v", res, err)
	}
	for _, s := range res.Steps {
		if strings.Contains(s.Detail, secret) || strings.Contains(s.Detail, token) {
			t.Errorf("step detail carries a secret: %s", s.Detail)
		}
	}
	noWABA := req
	noWABA.Params = nil
	var mp *registration.MissingParamError
	if _, err := p.Register(context.Background(), noWABA); !errors.As(err, &mp) || mp.Param != "waba_id" {
		t.Errorf("missing waba_id: %v", err)
	}
}
