package discord_test

import (
	"context"
	"testing"

	"github.com/switchboard-dev/switchboard/provider/discord"
	"github.com/switchboard-dev/switchboard/provider/providertest"
)

const (
	fuzzClientSecret = "discord-client-secret-value"
	fuzzCode         = "discord-code-0123456789"
)

// FuzzOAuthTokenAnswer: the token endpoint's answer (outside input) is
// parsed by Exchange without panicking; a success names a guild; neither
// the client secret nor the code appears in an error, even when the answer
// echoes them.
func FuzzOAuthTokenAnswer(f *testing.F) {
	// The documented answers the fake (discordtest) gives.
	f.Add(200, []byte(`{"access_token":"user-access-token","token_type":"Bearer","expires_in":604800,"refresh_token":"refresh","scope":"bot applications.commands","guild":{"id":"200000000000000002","name":"Acme Guild"}}`))
	f.Add(401, []byte(`{"error":"invalid_client"}`))
	f.Add(400, []byte(`{"error":"unsupported_grant_type"}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"Invalid \"code\" in request."}`))
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"Invalid \"redirect_uri\" in request."}`))
	f.Add(200, []byte(`{"access_token":"x","scope":"identify"}`))
	// Answers that echo the request's secrets.
	f.Add(400, []byte(`{"error":"`+fuzzClientSecret+`","error_description":"code `+fuzzCode+`"}`))
	f.Add(500, []byte(`<html>`))
	api := providertest.NewAnswers(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		api.Set(status, nil, body)
		got, err := discord.Exchange(context.Background(), api.URL, nil, "100000000000000001", fuzzClientSecret, fuzzCode, "https://sb.example/oauth/discord/callback")
		if err != nil {
			providertest.NoSecret(t, []string{fuzzClientSecret, fuzzCode}, err)
			return
		}
		if got.GuildID == "" {
			t.Fatalf("a success names a guild: %+v", got)
		}
	})
}
