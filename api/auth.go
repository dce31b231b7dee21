package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/store"
)

// principal is the authenticated caller.
type principal struct {
	TokenID   string
	Kind      string // store.TokenPlatform, TokenAgency, TokenOrg
	SubjectID string // agency id or org id; "" for platform
}

// TokenPrefix starts every bearer token the API issues (so a leaked one is
// recognisable by secret scanners).
const TokenPrefix = "sbt_"

// NewToken returns a fresh bearer token value (256 random bits).
func NewToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is what the store keeps of a bearer token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

var errUnauthorized = &apiError{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing, unknown, expired or revoked bearer token"}

func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return principal{}, errUnauthorized
	}
	// Lookup is by hash: no comparison of secret material happens here.
	t, err := s.store.GetTokenByHash(r.Context(), HashToken(strings.TrimSpace(tok)))
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, errUnauthorized
	}
	if err != nil {
		return principal{}, fmt.Errorf("look up token: %w", err)
	}
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !s.now().Before(*t.ExpiresAt)) {
		return principal{}, errUnauthorized
	}
	// A revoked agency or organisation locks out its tokens.
	switch t.Kind {
	case store.TokenAgency:
		a, err := s.store.GetAgency(r.Context(), t.SubjectID)
		if err != nil || a.RevokedAt != nil {
			return principal{}, errUnauthorized
		}
	case store.TokenOrg:
		o, err := s.store.GetOrg(r.Context(), t.SubjectID)
		if err != nil || o.RevokedAt != nil {
			return principal{}, errUnauthorized
		}
	case store.TokenPlatform:
	default:
		return principal{}, errUnauthorized
	}
	return principal{TokenID: t.ID, Kind: t.Kind, SubjectID: t.SubjectID}, nil
}

func requirePlatform(p principal) error {
	if p.Kind != store.TokenPlatform {
		return forbidden("platform admin token required")
	}
	return nil
}

// visibleOrg loads an organisation the caller may see; anything else is
// not_found so existence does not leak across tenants.
func visibleOrg(ctx context.Context, q store.Queries, p principal, id string) (store.Org, error) {
	if id == "" {
		return store.Org{}, notFound("organisation", id)
	}
	o, err := q.GetOrg(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Org{}, notFound("organisation", id)
	}
	if err != nil {
		return store.Org{}, fmt.Errorf("load organisation %s: %w", id, err)
	}
	if !orgInScope(p, o) {
		return store.Org{}, notFound("organisation", id)
	}
	return o, nil
}

// loadVisible loads the object id (what names it in errors) with get and
// returns it when the caller may see the organisation orgOf names, or when
// orgOf says every token may see it (shared). An empty id, a missing object
// and another tenant's object are all not_found, as for visibleOrg.
func loadVisible[T any](ctx context.Context, q store.Queries, p principal, what, id string,
	get func(context.Context, string) (T, error), orgOf func(T) (org string, shared bool)) (T, error) {
	var x T
	if id == "" {
		return x, notFound(what, id)
	}
	x, err := get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return x, notFound(what, id)
	}
	if err != nil {
		return x, fmt.Errorf("load %s %s: %w", what, id, err)
	}
	if org, shared := orgOf(x); !shared {
		if _, err := visibleOrg(ctx, q, p, org); err != nil {
			return x, notFound(what, id)
		}
	}
	return x, nil
}

func orgInScope(p principal, o store.Org) bool {
	switch p.Kind {
	case store.TokenPlatform:
		return true
	case store.TokenAgency:
		return o.AgencyID != "" && o.AgencyID == p.SubjectID
	case store.TokenOrg:
		return o.ID == p.SubjectID
	}
	return false
}

// activeOrg is visibleOrg for mutations: a revoked organisation takes no new objects.
func activeOrg(ctx context.Context, q store.Queries, p principal, id, field string) (store.Org, error) {
	if id == "" {
		return store.Org{}, fieldErr(field, "required")
	}
	o, err := visibleOrg(ctx, q, p, id)
	if err != nil {
		return o, err
	}
	if o.RevokedAt != nil {
		return o, conflict("organisation %s is revoked", id)
	}
	return o, nil
}

// scopeOrgIDs lists the organisations a non-platform caller may see (nil
// for platform: all).
func scopeOrgIDs(ctx context.Context, q store.Queries, p principal) ([]string, error) {
	switch p.Kind {
	case store.TokenPlatform:
		return nil, nil
	case store.TokenOrg:
		return []string{p.SubjectID}, nil
	case store.TokenAgency:
		orgs, err := q.ListOrgs(ctx, p.SubjectID)
		if err != nil {
			return nil, fmt.Errorf("list agency orgs: %w", err)
		}
		ids := make([]string, 0, len(orgs))
		for _, o := range orgs {
			ids = append(ids, o.ID)
		}
		return ids, nil
	}
	return []string{}, nil
}

// audit appends the event for a mutation, inside the mutation's transaction.
func (s *Server) audit(ctx context.Context, q store.Queries, actor, orgID, action, target string, detail map[string]any) error {
	d := []byte("{}")
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("encode audit detail: %w", err)
		}
	}
	if _, err := q.AppendAudit(ctx, store.AuditEvent{At: s.now().UTC(), Actor: actor, OrgID: orgID, Action: action, Target: target, Detail: string(d)}); err != nil {
		return fmt.Errorf("append audit %s: %w", action, err)
	}
	return nil
}

// ErrAdminTokenRevoked is returned by EnsureAdminToken when the value names a
// token that was revoked: a revoked admin token is never brought back.
var ErrAdminTokenRevoked = errors.New("admin token was revoked")

// EnsureAdminToken makes value a valid platform-admin bearer token: if its
// hash is not in the store it is added (hashed) with an audit event. It
// returns the token id and whether it was created now.
func EnsureAdminToken(ctx context.Context, st store.Store, value string) (id string, created bool, err error) {
	if len(value) < 20 || strings.ContainsAny(value, " \t\r\n") {
		return "", false, errors.New("admin token must be at least 20 characters without whitespace")
	}
	h := HashToken(value)
	t, err := st.GetTokenByHash(ctx, h)
	switch {
	case err == nil:
		if t.RevokedAt != nil {
			return "", false, ErrAdminTokenRevoked
		}
		if t.Kind != store.TokenPlatform {
			return "", false, fmt.Errorf("token %s is a %s token, not a platform admin token", t.ID, t.Kind)
		}
		return t.ID, false, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", false, fmt.Errorf("look up admin token: %w", err)
	}
	now := time.Now().UTC()
	t = store.APIToken{ID: newID("tok"), Kind: store.TokenPlatform, Hash: h, CreatedAt: now}
	err = st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateToken(ctx, t); err != nil {
			return fmt.Errorf("create admin token: %w", err)
		}
		_, err := q.AppendAudit(ctx, store.AuditEvent{At: now, Actor: "system", Action: "token.create", Target: t.ID, Detail: `{"kind":"platform","bootstrap":true}`})
		return err
	})
	if err != nil {
		return "", false, err
	}
	return t.ID, true, nil
}

type tokenView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	SubjectID string     `json:"subject_id,omitempty"`
	Token     string     `json:"token,omitempty"` // only in the creation (and rotation) answer
	CreatedAt *time.Time `json:"created_at,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Rotation answer only: the token it replaces and until when that one works.
	Replaces           string     `json:"replaces,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// MaxTokenLifetime bounds a token's expires_at.
const MaxTokenLifetime = 366 * 24 * time.Hour

// parseExpiry reads an optional RFC 3339 expiry: "" is none; otherwise it
// must lie in the future and within MaxTokenLifetime.
func (s *Server) parseExpiry(field, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fieldErr(field, "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	now := s.now()
	if !at.After(now) {
		return nil, fieldErr(field, "must be in the future")
	}
	if at.Sub(now) > MaxTokenLifetime {
		return nil, fieldErr(field, "must be within %d days from now", int(MaxTokenLifetime.Hours()/24))
	}
	at = at.UTC()
	return &at, nil
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request, p principal) error {
	writeJSON(w, http.StatusOK, tokenView{ID: p.TokenID, Kind: p.Kind, SubjectID: p.SubjectID})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		Kind      string `json:"kind"`
		SubjectID string `json:"subject_id"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := decode(w, r, &req); err != nil {
		return err
	}
	exp, err := s.parseExpiry("expires_at", req.ExpiresAt)
	if err != nil {
		return err
	}
	ctx := r.Context()
	value := NewToken()
	t := store.APIToken{ID: newID("tok"), Kind: req.Kind, SubjectID: req.SubjectID, Hash: HashToken(value), CreatedAt: s.now().UTC(), ExpiresAt: exp}
	err = s.tx(ctx, func(q store.Queries) error {
		orgID := ""
		switch req.Kind {
		case store.TokenPlatform:
			if err := requirePlatform(p); err != nil {
				return err
			}
			if req.SubjectID != "" {
				return fieldErr("subject_id", "must be empty for a platform token")
			}
		case store.TokenAgency:
			if err := requirePlatform(p); err != nil {
				return err
			}
			if req.SubjectID == "" {
				return fieldErr("subject_id", "required: the agency id")
			}
			a, err := q.GetAgency(ctx, req.SubjectID)
			if errors.Is(err, store.ErrNotFound) {
				return fieldErr("subject_id", "no agency %q", req.SubjectID)
			}
			if err != nil {
				return fmt.Errorf("load agency: %w", err)
			}
			if a.RevokedAt != nil {
				return conflict("agency %s is revoked", a.ID)
			}
		case store.TokenOrg:
			if req.SubjectID == "" {
				return fieldErr("subject_id", "required: the organisation id")
			}
			o, err := activeOrg(ctx, q, p, req.SubjectID, "subject_id")
			if err != nil {
				return err
			}
			orgID = o.ID
		default:
			return fieldErr("kind", "must be one of platform, agency, org")
		}
		if err := q.CreateToken(ctx, t); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		detail := map[string]any{"kind": t.Kind, "subject_id": t.SubjectID}
		if t.ExpiresAt != nil {
			detail["expires_at"] = t.ExpiresAt.Format(time.RFC3339)
		}
		return s.audit(ctx, q, p.TokenID, orgID, "token.create", t.ID, detail)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenView{ID: t.ID, Kind: t.Kind, SubjectID: t.SubjectID, Token: value, CreatedAt: &t.CreatedAt, ExpiresAt: t.ExpiresAt})
	return nil
}

// tokenInScope loads token id for revocation or rotation by p: the platform
// acts on any token; anyone on their own; an agency or org owner on org
// tokens of organisations in its scope. Anything else is not_found (existence
// must not leak).
func tokenInScope(ctx context.Context, q store.Queries, p principal, id string) (store.APIToken, error) {
	t, err := q.GetToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return t, notFound("token", id)
	}
	if err != nil {
		return t, fmt.Errorf("load token %s: %w", id, err)
	}
	if p.Kind != store.TokenPlatform && t.ID != p.TokenID {
		if t.Kind != store.TokenOrg {
			return t, notFound("token", id)
		}
		if _, err := visibleOrg(ctx, q, p, t.SubjectID); err != nil {
			return t, notFound("token", id)
		}
	}
	return t, nil
}

// rotateToken replaces a token with a new value of the same kind and
// subject. The previous one is revoked at once, or, with
// previous_valid_until, expires then (at most MaxRotationOverlap ahead) so
// its users can switch over. expires_at sets the new token's expiry
// (default: the previous token's, if it had one).
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, p principal) error {
	var req struct {
		ExpiresAt          string `json:"expires_at"`
		PreviousValidUntil string `json:"previous_valid_until"`
	}
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	exp, err := s.parseExpiry("expires_at", req.ExpiresAt)
	if err != nil {
		return err
	}
	var until *time.Time
	if req.PreviousValidUntil != "" {
		at, err := time.Parse(time.RFC3339, req.PreviousValidUntil)
		if err != nil {
			return fieldErr("previous_valid_until", "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		}
		if at.Before(s.now()) {
			return fieldErr("previous_valid_until", "must not be in the past (leave it out to revoke the previous token now)")
		}
		if at.Sub(s.now()) > MaxRotationOverlap {
			return fieldErr("previous_valid_until", "must be within %d days from now", int(MaxRotationOverlap.Hours()/24))
		}
		at = at.UTC()
		until = &at
	}
	id := r.PathValue("id")
	ctx := r.Context()
	now := s.now().UTC()
	value := NewToken()
	var nt store.APIToken
	err = s.tx(ctx, func(q store.Queries) error {
		old, err := tokenInScope(ctx, q, p, id)
		if err != nil {
			return err
		}
		if old.RevokedAt != nil || (old.ExpiresAt != nil && !now.Before(*old.ExpiresAt)) {
			return conflict("token %s is revoked or expired: create a new token instead", id)
		}
		if old.Kind == store.TokenOrg {
			if _, err := activeOrg(ctx, q, p, old.SubjectID, "id"); err != nil {
				return err
			}
		}
		if exp == nil {
			exp = old.ExpiresAt
		}
		nt = store.APIToken{ID: newID("tok"), Kind: old.Kind, SubjectID: old.SubjectID, Hash: HashToken(value), CreatedAt: now, ExpiresAt: exp}
		if err := q.CreateToken(ctx, nt); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		detail := map[string]any{"kind": nt.Kind, "subject_id": nt.SubjectID, "new_token_id": nt.ID}
		if until != nil {
			if err := q.ExpireToken(ctx, id, *until); err != nil {
				return fmt.Errorf("expire token %s: %w", id, err)
			}
			detail["previous_valid_until"] = until.Format(time.RFC3339)
		} else if err := q.RevokeToken(ctx, id, now); err != nil {
			return fmt.Errorf("revoke token %s: %w", id, err)
		}
		if nt.ExpiresAt != nil {
			detail["expires_at"] = nt.ExpiresAt.Format(time.RFC3339)
		}
		orgID := ""
		if nt.Kind == store.TokenOrg {
			orgID = nt.SubjectID
		}
		return s.audit(ctx, q, p.TokenID, orgID, "token.rotate", id, detail)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tokenView{ID: nt.ID, Kind: nt.Kind, SubjectID: nt.SubjectID, Token: value, CreatedAt: &nt.CreatedAt,
		ExpiresAt: nt.ExpiresAt, Replaces: id, PreviousValidUntil: until})
	return nil
}

// revokeToken: the platform admin revokes any token; any caller may revoke
// its own token. Other ids answer not_found (the store has no lookup by id
// to scope them, and existence must not leak).
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	ctx := r.Context()
	var orgID string
	err := s.tx(ctx, func(q store.Queries) error {
		t, err := tokenInScope(ctx, q, p, id)
		if err != nil {
			return err
		}
		if t.Kind == store.TokenOrg {
			orgID = t.SubjectID
		}
		if err := q.RevokeToken(ctx, id, s.now().UTC()); err != nil {
			return fmt.Errorf("revoke token %s: %w", id, err)
		}
		return s.audit(ctx, q, p.TokenID, orgID, "token.revoke", id, nil)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "revoked": true})
	return nil
}

// tokenMetaView is a token's metadata: GET /v1/tokens and /v1/tokens/{id}
// never show the token or its hash.
type tokenMetaView struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	SubjectID string     `json:"subject_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// The last rotation that involved the token: the one that replaced it
	// (RotatedAt, ReplacedBy) or, for a token a rotation created, the one
	// it replaced (Replaces, created at CreatedAt).
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	ReplacedBy string     `json:"replaced_by,omitempty"`
	Replaces   string     `json:"replaces,omitempty"`
}

// tokenRotations indexes the token.rotate audit events: the newest event
// that rotated each token away, and the token each new one replaced.
type tokenRotations struct {
	rotated  map[string]store.AuditEvent // old token id -> event
	newToOld map[string]string
}

func loadTokenRotations(ctx context.Context, q store.Queries) (tokenRotations, error) {
	evs, err := q.ListAudit(ctx, store.AuditFilter{Action: "token.rotate"})
	if err != nil {
		return tokenRotations{}, fmt.Errorf("list token rotations: %w", err)
	}
	tr := tokenRotations{rotated: map[string]store.AuditEvent{}, newToOld: map[string]string{}}
	for _, e := range evs {
		var d struct {
			NewTokenID string `json:"new_token_id"`
		}
		if json.Unmarshal([]byte(e.Detail), &d) != nil {
			continue
		}
		tr.rotated[e.Target] = e
		if d.NewTokenID != "" {
			tr.newToOld[d.NewTokenID] = e.Target
		}
	}
	return tr, nil
}

func (tr tokenRotations) view(t store.APIToken) tokenMetaView {
	v := tokenMetaView{ID: t.ID, Kind: t.Kind, SubjectID: t.SubjectID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		Revoked: t.RevokedAt != nil, RevokedAt: t.RevokedAt, Replaces: tr.newToOld[t.ID]}
	if e, ok := tr.rotated[t.ID]; ok {
		at := e.At
		v.RotatedAt = &at
		var d struct {
			NewTokenID string `json:"new_token_id"`
		}
		if json.Unmarshal([]byte(e.Detail), &d) == nil {
			v.ReplacedBy = d.NewTokenID
		}
	}
	return v
}

// listTokens lists the tokens the caller may see, with their metadata: a
// platform token every token, an agency token itself and its
// organisations' tokens, an organisation token its organisation's tokens.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := queryParams(r); err != nil {
		return err
	}
	ctx := r.Context()
	all, err := s.store.ListTokens(ctx)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	tr, err := loadTokenRotations(ctx, s.store)
	if err != nil {
		return err
	}
	visible := map[string]bool{} // org id -> the caller sees it
	out := make([]tokenMetaView, 0, len(all))
	for _, t := range all {
		if p.Kind != store.TokenPlatform && t.ID != p.TokenID {
			if t.Kind != store.TokenOrg {
				continue
			}
			seen, ok := visible[t.SubjectID]
			if !ok {
				_, verr := visibleOrg(ctx, s.store, p, t.SubjectID)
				var ae *apiError
				if verr != nil && !(errors.As(verr, &ae) && ae.Status == http.StatusNotFound) {
					return verr
				}
				seen = verr == nil
				visible[t.SubjectID] = seen
			}
			if !seen {
				continue
			}
		}
		out = append(out, tr.view(t))
	}
	writeList(w, out)
	return nil
}

// getToken shows one token's metadata (not_found outside the caller's scope).
func (s *Server) getToken(w http.ResponseWriter, r *http.Request, p principal) error {
	ctx := r.Context()
	t, err := tokenInScope(ctx, s.store, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	tr, err := loadTokenRotations(ctx, s.store)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tr.view(t))
	return nil
}
