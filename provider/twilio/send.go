package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/switchboard-dev/switchboard/provider"
	"github.com/switchboard-dev/switchboard/provider/httpsend"
)

// DefaultAPIBase is the Twilio REST API origin; tests point a Sender at a fake.
const DefaultAPIBase = "https://api.twilio.com"

// MaxBody is the Messages API's documented limit of a message body: 1,600
// characters. Longer replies are refused (Twilio itself would refuse them
// with error 21617).
const MaxBody = 1600

// Sender creates messages through the Messages API
// (POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form
// parameters To, From, Body, HTTP basic authentication).
type Sender struct {
	api httpsend.API
}

// NewSender returns a Sender for the API at base ("" = DefaultAPIBase).
func NewSender(base string, hc *http.Client) *Sender {
	return &Sender{api: httpsend.NewAPI(base, DefaultAPIBase, hc)}
}

// Credentials are what an installation's bot_token holds for Twilio:
// "<AccountSid>:<AuthToken>", or "<AccountSid>:<ApiKeySid>:<ApiKeySecret>"
// for an API key (the account sid is part of the URL either way).
type Credentials struct {
	AccountSid string
	User, Pass string // basic authentication
}

// ParseCredentials reads a bot_token. Its error never quotes the token.
func ParseCredentials(token string) (Credentials, error) {
	parts := strings.Split(token, ":")
	bad := errors.New(`twilio credentials must be "<AccountSid>:<AuthToken>" or "<AccountSid>:<ApiKeySid>:<ApiKeySecret>"`)
	for _, p := range parts {
		if p == "" {
			return Credentials{}, bad
		}
	}
	if !strings.HasPrefix(parts[0], "AC") || strings.ContainsAny(parts[0], "/?#% ") {
		return Credentials{}, bad
	}
	switch len(parts) {
	case 2:
		return Credentials{AccountSid: parts[0], User: parts[0], Pass: parts[1]}, nil
	case 3:
		if !strings.HasPrefix(parts[1], "SK") {
			return Credentials{}, bad
		}
		return Credentials{AccountSid: parts[0], User: parts[1], Pass: parts[2]}, nil
	}
	return Credentials{}, bad
}

// SendError is a refused or failed send: Twilio's error code and message.
type SendError struct {
	httpsend.Failure
	Code    int
	Message string
}

func (e *SendError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("twilio messages: %v", e.Cause)
	}
	return fmt.Sprintf("twilio messages: HTTP %d code %d: %s", e.Status, e.Code, e.Message)
}

// Twilio error codes worth another try: 20429 too many requests, 14107
// message rate limit exceeded, 20500 internal error, 20503 service unavailable.
var temporaryCodes = map[int]bool{20429: true, 14107: true, 20500: true, 20503: true}

// Send creates one message from the number from to the number to and returns
// its sid.
func (s *Sender) Send(ctx context.Context, token, from, to, text string) (string, error) {
	if err := provider.CheckRunes(Name, text, MaxBody); err != nil {
		return "", err
	}
	cred, err := ParseCredentials(token)
	if err != nil {
		return "", &SendError{Message: err.Error()}
	}
	if from == "" || to == "" {
		return "", &SendError{Message: "from or to number is empty"}
	}
	form := url.Values{"To": {to}, "From": {from}, "Body": {text}}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/x-www-form-urlencoded")
	req := &http.Request{Header: http.Header{}}
	req.SetBasicAuth(cred.User, cred.Pass)
	hdr.Set("Authorization", req.Header.Get("Authorization"))
	resp, err := s.api.Post(ctx, "/2010-04-01/Accounts/"+url.PathEscape(cred.AccountSid)+"/Messages.json", hdr, []byte(form.Encode()))
	if te := (*httpsend.TransportError)(nil); errors.As(err, &te) {
		return "", &SendError{Failure: httpsend.Failure{Transient: true, Cause: te.Err}}
	}
	if err != nil {
		return "", fmt.Errorf("twilio messages: %w", err)
	}
	var ans struct {
		Sid     string `json:"sid"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(resp.Body, &ans)
	if resp.Status == http.StatusCreated || resp.Status == http.StatusOK {
		if ans.Sid == "" {
			return "", &SendError{Failure: httpsend.Failure{Status: resp.Status}, Message: "answer carries no message sid"}
		}
		return ans.Sid, nil
	}
	e := &SendError{Code: ans.Code, Message: ans.Message, Failure: httpsend.Failure{
		Status:    resp.Status,
		Wait:      httpsend.RetryAfterSeconds(resp.Header),
		Transient: resp.Status == http.StatusTooManyRequests || resp.Status >= 500 || temporaryCodes[ans.Code],
	}}
	if e.Message == "" {
		e.Message = "unexpected answer"
	}
	return "", e
}

// SendText is the provider-neutral form the worker uses: account is the
// installation's number (the To of the webhooks it receives, sent from),
// conversation the user's number; Twilio has no threads.
func (s *Sender) SendText(ctx context.Context, token, account, conversation, _, text string) error {
	_, err := s.Send(ctx, token, account, conversation, text)
	return err
}
