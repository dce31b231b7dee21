package api

import (
	_ "github.com/switchboard-dev/switchboard/provider/all" // registers every provider's registration side

	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/switchboard-dev/switchboard/provider/registration"
	"github.com/switchboard-dev/switchboard/store"
)

// Opener opens sealed secrets (implemented by *secrets.Keyring). The API
// opens an installation's credentials only to call its provider
// (registration, health), never to answer them.
type Opener interface {
	Open(keyID string, ciphertext []byte, aad string) ([]byte, error)
}

// ProviderAPIs configures the provider APIs the API calls for registration,
// health checks and OAuth: origin per provider ("" = the provider's own),
// and the client (nil: 30 s timeout). Authorize is the origin of the
// provider's consent page per provider ("" = the provider's own), for tests
// against a fake provider.
type ProviderAPIs struct {
	Base      map[string]string
	Authorize map[string]string
	HTTP      *http.Client
}

// CodeProviderUnreachable: a provider's API gave no answer (502).
const CodeProviderUnreachable = "provider_unreachable"

// registerTimeout bounds one registration (several provider calls).
const registerTimeout = 30 * time.Second

// currentSecret picks the newest secret of purpose valid at now.
func currentSecret(ss []store.Secret, purpose string, now time.Time) *store.Secret {
	var out []store.Secret
	for _, s := range ss {
		if s.Purpose != purpose || now.Before(s.NotBefore) || (s.NotAfter != nil && !now.Before(*s.NotAfter)) {
			continue
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NotBefore.After(out[j].NotBefore) })
	return &out[0]
}

// credentials opens the installation's secrets of the purposes needed: its
// own, else its profile's when the profile is its org's own app, or the
// platform profile's when the installation opted into platform credentials.
func (s *Server) credentials(ctx context.Context, i store.Installation, pr store.AppProfile, purposes []string) (map[string]string, error) {
	op, ok := s.keys.(Opener)
	if !ok {
		return nil, errors.New("the API's keyring cannot open secrets")
	}
	now := s.now()
	own, err := s.store.ListSecrets(ctx, store.OwnerInstallation, i.ID)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	var inherited []store.Secret
	if pr.OwnerOrgID == i.OrgID || (pr.OwnerOrgID == store.OwnerPlatform && i.PlatformCredentials) {
		if inherited, err = s.store.ListSecrets(ctx, store.OwnerProfile, pr.ID); err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
	}
	out := map[string]string{}
	for _, p := range purposes {
		sec := currentSecret(own, p, now)
		if sec == nil {
			sec = currentSecret(inherited, p, now)
		}
		if sec == nil {
			continue
		}
		pt, err := op.Open(sec.KeyID, sec.Ciphertext, sec.ID)
		if err != nil {
			return nil, fmt.Errorf("open %s secret %s: %w", p, sec.ID, err)
		}
		out[p] = string(pt)
	}
	return out, nil
}

// registrationRequest builds the provider request of an installation.
func (s *Server) registrationRequest(ctx context.Context, i store.Installation, needs []string, params map[string]string) (registration.Request, error) {
	pr, err := s.store.GetProfile(ctx, i.ProfileID)
	if err != nil {
		return registration.Request{}, fmt.Errorf("load profile %s: %w", i.ProfileID, err)
	}
	creds, err := s.credentials(ctx, i, pr, needs)
	if err != nil {
		return registration.Request{}, err
	}
	return registration.Request{InstallationID: i.ID, WebhookURL: s.webhookURL(WebhookPath(i.Provider, i.IngressID)),
		ExternalAppID: pr.ExternalAppID, ExternalID: i.ExternalID, Secrets: creds, Params: params,
		Base: s.providerAPIs.Base[i.Provider], HTTP: s.providerAPIs.HTTP}, nil
}

// providerCallErr maps a registration package error to the API's answer.
func providerCallErr(err error) error {
	var ms *registration.MissingSecretError
	var mp *registration.MissingParamError
	switch {
	case errors.As(err, &ms):
		return fieldErr("secrets."+ms.Purpose, "the installation (or its profile) has no current %s secret: %s", ms.Purpose, ms.Why)
	case errors.As(err, &mp):
		return fieldErr(mp.Param, "%s", mp.Why)
	}
	return &apiError{Status: http.StatusBadGateway, Code: CodeProviderUnreachable, Message: err.Error()}
}

// register registers the installation's webhook at its provider with the
// installation's own credentials and answers what the provider said.
func (s *Server) register(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		WABAID string `json:"waba_id"`
		PageID string `json:"page_id"`
	}
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{{"waba_id", req.WABAID}, {"page_id", req.PageID}} {
		if err := checkToken(f.name, f.v, 64, true); err != nil {
			return err
		}
	}
	ctx := r.Context()
	i, err := visibleInstallation(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if i.RevokedAt != nil {
		return conflict("installation %s is revoked", i.ID)
	}
	rp, ok := registration.Get(i.Provider)
	if !ok || rp.Register == nil {
		return conflict("%s has no registration API: enter the URLs by hand (GET /v1/installations/%s/setup)", i.Provider, i.ID)
	}
	if s.publicURL == "" {
		return conflict("serve runs without --public-url: the provider needs the edge's public URL to call")
	}
	params := map[string]string{}
	if req.WABAID != "" {
		params["waba_id"] = req.WABAID
	}
	if req.PageID != "" {
		params["page_id"] = req.PageID
	}
	preq, err := s.registrationRequest(ctx, i, rp.Needs, params)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	res, err := rp.Register(cctx, preq)
	if err != nil {
		return providerCallErr(err)
	}
	if res.Steps == nil {
		res.Steps = []registration.Step{}
	}
	err = s.tx(ctx, func(q store.Queries) error {
		return s.audit(ctx, q, p.TokenID, i.OrgID, "installation.register", i.ID, map[string]any{
			"provider": i.Provider, "ok": res.OK, "webhook_url": preq.WebhookURL, "steps": res.Steps})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
