package sign

import (
	"crypto/ed25519"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// Slack's worked example ("Verifying requests from Slack").
const (
	slackDocSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackDocTS     = 1531420618
	slackDocBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackDocSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// Meta body with non-ASCII text escaped as \uXXXX, as Meta sends it; the
// expected value was computed independently with
// `openssl dgst -sha256 -hmac meta-app-secret`.
const metaBody = `{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"text":{"body":"\u3053\u3093\u306b\u3061\u306f \u00e9t\u00e9"}}]}}]}]}`

func get(h [][2]string, name string) string {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return kv[1]
		}
	}
	return ""
}

func TestPublishedVectors(t *testing.T) {
	// RFC 8032 section 7.1 TEST 2: the message "r" (0x72) split as timestamp
	// "" + body "r", which pins Discord's timestamp||body order and hex encoding.
	seed, _ := hex.DecodeString("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
	rfcKey := ed25519.NewKeyFromSeed(seed)

	twilioParams := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"},
	}
	twilioPyParams := url.Values{
		"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675309"}, "Digits": {"1234"},
		"From": {"+14158675309"}, "To": {"+18005551212"},
	}
	twilioJSONURL, twilioJSONHeaders := TwilioJSON("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", []byte(`{"property": "value", "boolean": true}`))
	swh, err := StandardWebhooks("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, got, want string
	}{
		{"slack docs example", get(Slack(slackDocSecret, slackDocTS, []byte(slackDocBody)), HeaderSlackSignature), slackDocSig},
		{"slack timestamp header", get(Slack(slackDocSecret, slackDocTS, []byte(slackDocBody)), HeaderSlackTimestamp), "1531420618"},
		// GitHub docs ("Validating webhook deliveries").
		{"github docs example", get(GitHub("It's a Secret to Everybody", []byte("Hello, World!"), "d1"), HeaderHubSignature256),
			"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{"github delivery id", get(GitHub("s", nil, "d1"), HeaderGitHubDelivery), "d1"},
		// Standard Webhooks reference libraries' test vector.
		{"standard webhooks vector", get(swh, HeaderWebhookSignature), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"standard webhooks id", get(swh, HeaderWebhookID), "msg_p5jXN8AQM9LWM0D4loKWxJek"},
		{"standard webhooks timestamp", get(swh, HeaderWebhookTimestamp), "1614265330"},
		// Twilio docs ("Webhooks security", validating requests).
		{"twilio docs example", TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", twilioParams), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
		// twilio-python's RequestValidator tests (form and JSON bodySHA256).
		{"twilio-python form", TwilioSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", twilioPyParams), "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		{"twilio-python json url", twilioJSONURL,
			"https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"},
		{"twilio-python json signature", get(twilioJSONHeaders, HeaderTwilioSignature), "a9nBmqA0ju/hNViExpshrM61xv4="},
		{"meta non-ascii escaped", get(Meta("meta-app-secret", []byte(metaBody)), HeaderHubSignature256),
			"sha256=74fe5a33ff420c6cb189f72e28d922adf3e0e33b79bdf268005caadcab3fcb6b"},
		// openssl dgst -sha256 -hmac line-channel-secret -binary | base64
		{"line", get(LINE("line-channel-secret", []byte(`{"destination":"U123","events":[{"type":"message","webhookEventId":"01H"}]}`)), HeaderLINESignature),
			"Gw8y8MiPZqi/EpvVdUqBcMgnIgR4ZIlMOqDLzNTAEEY="},
		{"discord rfc8032 test 2", DiscordSignature(rfcKey, "", []byte("r")),
			"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestDiscordVerifiesWithPublicKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":1}`)
	h, err := Discord(priv, 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	if get(h, HeaderDiscordTimestamp) != "1700000000" {
		t.Fatalf("timestamp header %q", get(h, HeaderDiscordTimestamp))
	}
	sig, err := hex.DecodeString(get(h, HeaderDiscordSignature))
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, append([]byte("1700000000"), body...), sig) {
		t.Fatal("signature does not verify over timestamp+body")
	}
	if ed25519.Verify(pub, body, sig) {
		t.Fatal("signature verifies over the body alone: timestamp not bound")
	}
	if _, err := Discord(priv[:10], 1, body); err == nil {
		t.Fatal("short private key accepted")
	}
}

func TestTwilioSortsAndRepeats(t *testing.T) {
	// Order of insertion must not matter; repeated names sort by value.
	a := TwilioSignature("tok", "https://x/y", url.Values{"b": {"2", "1"}, "a": {"z"}})
	b := TwilioSignature("tok", "https://x/y", url.Values{"a": {"z"}, "b": {"1", "2"}})
	if a != b {
		t.Fatalf("order-dependent: %s vs %s", a, b)
	}
	// The signed string is url + a z b 1 b 2.
	c := TwilioSignature("tok", "https://x/yaz"+"b1b2", nil)
	if a != c {
		t.Fatalf("concatenation differs: %s vs %s", a, c)
	}
	if u := TwilioJSONURL("https://x/y", nil); !strings.HasPrefix(u, "https://x/y?bodySHA256=e3b0c442") {
		t.Fatalf("json url %s", u)
	}
}

func TestStandardWebhooksRotationAndSecrets(t *testing.T) {
	s1 := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	s2, err := NewStandardWebhooksSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StandardWebhooksKey(s2); err != nil {
		t.Fatalf("fresh secret does not decode: %v", err)
	}
	h, err := StandardWebhooks("msg_1", 10, []byte("x"), s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(get(h, HeaderWebhookSignature), " ")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "v1,") || !strings.HasPrefix(parts[1], "v1,") || parts[0] == parts[1] {
		t.Fatalf("rotation header %q", get(h, HeaderWebhookSignature))
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!notbase64"} {
		if _, err := StandardWebhooks("msg_1", 10, nil, bad); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
	if _, err := StandardWebhooks("", 10, nil, s1); err == nil {
		t.Error("empty id accepted")
	}
}

func TestTelegramToken(t *testing.T) {
	h, err := Telegram("abc_DEF-123")
	if err != nil || get(h, HeaderTelegramToken) != "abc_DEF-123" {
		t.Fatalf("%v %v", h, err)
	}
	for _, bad := range []string{"", "has space", "é", strings.Repeat("a", 257)} {
		if _, err := Telegram(bad); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestHeadersDispatch(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	form := "To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&From=%2B12349013030&Caller=%2B12349013030"
	for _, tc := range []struct {
		r          Request
		name, want string
	}{
		{Request{Scheme: "slack_v0", Secret: slackDocSecret, Now: slackDocTS, Body: []byte(slackDocBody)}, HeaderSlackSignature, slackDocSig},
		{Request{Scheme: "github_sha256", Secret: "It's a Secret to Everybody", Body: []byte("Hello, World!")}, HeaderHubSignature256,
			"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
		{Request{Scheme: "meta_sha256", Secret: "meta-app-secret", Body: []byte(metaBody)}, HeaderHubSignature256,
			"sha256=74fe5a33ff420c6cb189f72e28d922adf3e0e33b79bdf268005caadcab3fcb6b"},
		{Request{Scheme: "twilio_sha1", Secret: "12345", URL: "https://mycompany.com/myapp.php?foo=1&bar=2", Body: []byte(form)}, HeaderTwilioSignature, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
		{Request{Scheme: "standard_webhooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Now: 1614265330, Body: []byte(`{"test": 2432232314}`)},
			HeaderWebhookSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{Request{Scheme: "telegram_token", Secret: "tok"}, HeaderTelegramToken, "tok"},
		{Request{Scheme: "line", Secret: "line-channel-secret", Body: []byte(`{"destination":"U123","events":[{"type":"message","webhookEventId":"01H"}]}`)},
			HeaderLINESignature, "Gw8y8MiPZqi/EpvVdUqBcMgnIgR4ZIlMOqDLzNTAEEY="},
		{Request{Scheme: "discord_ed25519", PrivateKey: priv, Now: 5}, HeaderDiscordTimestamp, "5"},
	} {
		h, err := Headers(tc.r)
		if err != nil {
			t.Errorf("%s: %v", tc.r.Scheme, err)
			continue
		}
		if got := get(h, tc.name); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.r.Scheme, tc.name, got, tc.want)
		}
	}
	for _, r := range []Request{{Scheme: "nope"}, {Scheme: "twilio_sha1", Secret: "x"}, {Scheme: "discord_ed25519"}, {Scheme: "twilio_sha1", URL: "https://x", Body: []byte("%zz")}} {
		if _, err := Headers(r); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
}

// queryEscape must agree with net/url's (which the filter module may not import).
func FuzzQueryEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "a b&c=d", "ünï/cødé?#%+", "\x00\xff~-_."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := queryEscape(s), url.QueryEscape(s); got != want {
			t.Fatalf("queryEscape(%q) = %q, want %q", s, got, want)
		}
	})
}
