package console

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-dev/switchboard/client"
)

// reqCtx is one request of a signed-in user.
type reqCtx struct {
	sess *session
	sid  string
	api  *apiClient
}

// user is who is signed in, as pages show it.
type user struct{ Kind, Subject string }

// pageData is what every template gets.
type pageData struct {
	Title  string
	User   *user
	CSRF   string
	Flash  []flash
	Nav    string
	Org    *client.Org
	Status int
	Error  *APIError
	Back   string
	Data   any
}

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("GET /signin", s.signinPage)
	s.mux.HandleFunc("POST /signin", s.signin)
	s.handle("POST /signout", s.signout)

	s.handle("GET /orgs", s.orgsPage)
	s.handle("POST /orgs", s.createOrg)
	s.handle("GET /orgs/{org}", s.orgPage)
	s.handle("GET /orgs/{org}/connect", s.connectPage)
	s.handle("GET /orgs/{org}/connect/{provider}", s.connectProviderPage)
	s.handle("POST /orgs/{org}/connect/{provider}", s.connectProvider)
	s.handle("GET /orgs/{org}/installations/{id}", s.installationPage)
	s.handle("GET /orgs/{org}/installations/{id}/status", s.installationStatus)
	s.handle("POST /orgs/{org}/installations/{id}/rotate", s.rotateInstallation)
	s.handle("POST /orgs/{org}/installations/{id}/handoff", s.handoff)
	s.handle("POST /orgs/{org}/installations/{id}/register", s.register)
	s.handle("GET /orgs/{org}/installations/{id}/revoke", s.confirmRevoke("installation"))
	s.handle("POST /orgs/{org}/installations/{id}/revoke", s.revoke("installation"))
	s.handle("GET /orgs/{org}/agents", s.agentsPage)
	s.handle("POST /orgs/{org}/agents", s.createAgent)
	s.handle("GET /orgs/{org}/agents/{id}/revoke", s.confirmRevoke("agent"))
	s.handle("POST /orgs/{org}/agents/{id}/revoke", s.revoke("agent"))
	s.handle("GET /orgs/{org}/bindings", s.bindingsPage)
	s.handle("POST /orgs/{org}/bindings", s.createBinding)
	s.handle("GET /orgs/{org}/bindings/{id}/revoke", s.confirmRevoke("binding"))
	s.handle("POST /orgs/{org}/bindings/{id}/revoke", s.revoke("binding"))
	s.handle("GET /orgs/{org}/audit", s.auditPage)
	s.handle("GET /stages", s.stagesPage)
	s.handle("POST /stages/{provider}", s.setStage)
	s.handle("POST /stages/{provider}/{action}", s.rolloutAction)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "error", &pageData{Title: "Not found",
			Error: &APIError{Status: 404, Code: "not_found", Message: "no page " + r.URL.Path}}, nil)
	})
}

// handle mounts a page that needs a session; every POST must carry the
// session's CSRF token.
func (s *Server) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, c *reqCtx) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		ck, _ := r.Cookie(sessionCookie)
		var sid string
		if ck != nil {
			sid = ck.Value
		}
		ss := s.sessions.get(sid)
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.render(w, r, http.StatusUnauthorized, "error", &pageData{Title: "Signed out",
				Error: &APIError{Status: 401, Code: "unauthorized", Message: "your session ended: sign in again"}, Back: "/signin"}, nil)
			return
		}
		c := &reqCtx{sess: ss, sid: sid, api: newAPIClient(s.api, ss.token)}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, c, &APIError{Status: 400, Code: "invalid_form", Message: "the form could not be read"})
				return
			}
			if !tokensEqual(r.PostForm.Get("csrf"), ss.csrf) {
				s.fail(w, r, c, &APIError{Status: http.StatusForbidden, Code: "csrf", Message: "the form's CSRF token is missing or wrong: reload the page and try again"})
				return
			}
		}
		if err := h(w, r, c); err != nil {
			s.fail(w, r, c, err)
		}
	})
}

// fail shows a refusal with the API's own status and message; anything else
// is logged and shown as an internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		s.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &APIError{Status: 500, Code: "internal", Message: "internal error"}
	}
	if ae.Status == http.StatusUnauthorized && c != nil {
		// The token was revoked (or its org): the session ends with it.
		s.sessions.delete(c.sid)
		http.SetCookie(w, cookie(sessionCookie, "", s.secure(r), -1))
		c = nil
	}
	back := ""
	if r.Method == http.MethodPost {
		back = r.URL.Path
		if b := safeNext(r.PostForm.Get("back")); b != "" {
			back = b
		}
	}
	s.render(w, r, ae.Status, "error", &pageData{Title: "Refused", Error: ae, Back: back}, c)
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData, c *reqCtx) {
	t := s.pages[name]
	if t == nil {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	if c != nil {
		d.User = &user{Kind: c.sess.kind, Subject: c.sess.subject}
		d.CSRF = c.sess.csrf
		d.Flash = append(d.Flash, s.sessions.takeFlash(c.sess)...)
	}
	d.Status = status
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "console template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request, c *reqCtx, to string, f *flash) {
	if f != nil {
		s.sessions.addFlash(c.sess, *f)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// ---- sign in / out

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if ck, _ := r.Cookie(sessionCookie); ck != nil && s.sessions.get(ck.Value) != nil {
		http.Redirect(w, r, "/orgs", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// The sign-in form has no session yet: its CSRF token is a double-submit
// value in a SameSite=Strict cookie that the form must repeat.
func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, nil)
}

func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, e *APIError) {
	v := randomValue()
	http.SetCookie(w, cookie(preCSRFCookie, v, s.secure(r), 3600))
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	d := &pageData{Title: "Sign in", CSRF: v, Error: e, Data: map[string]string{"Next": safeNext(next)}}
	if r.URL.Query().Get("signedout") == "1" {
		d.Flash = []flash{{Kind: "ok", Message: "Signed out."}}
	}
	s.render(w, r, status, "signin", d, nil)
}

func safeNext(n string) string {
	if strings.HasPrefix(n, "/") && !strings.HasPrefix(n, "//") && !strings.ContainsAny(n, "\\\r\n") {
		return n
	}
	return ""
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderSignin(w, r, http.StatusBadRequest, &APIError{Status: 400, Code: "invalid_form", Message: "the form could not be read"})
		return
	}
	ck, _ := r.Cookie(preCSRFCookie)
	if ck == nil || !tokensEqual(ck.Value, r.PostForm.Get("csrf")) {
		s.renderSignin(w, r, http.StatusForbidden, &APIError{Status: 403, Code: "csrf", Message: "the form's CSRF token is missing or wrong: try again"})
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.renderSignin(w, r, http.StatusBadRequest, &APIError{Status: 400, Code: "invalid_field", Field: "token", Message: "required"})
		return
	}
	who, err := newAPIClient(s.api, token).cl.Whoami(r.Context())
	if err = apiErr(err); err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			s.log.ErrorContext(r.Context(), "console sign-in failed", "err", err)
			ae = &APIError{Status: 500, Code: "internal", Message: "internal error"}
		}
		s.renderSignin(w, r, ae.Status, ae)
		return
	}
	id, _ := s.sessions.create(token, who.Kind, who.SubjectID)
	http.SetCookie(w, cookie(sessionCookie, id, s.secure(r), int(s.cfg.SessionTTL/time.Second)))
	http.SetCookie(w, cookie(preCSRFCookie, "", s.secure(r), -1))
	to := safeNext(r.PostForm.Get("next"))
	if to == "" {
		to = "/orgs"
		if who.Kind == "org" {
			to = "/orgs/" + seg(who.SubjectID)
		}
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	s.sessions.delete(c.sid)
	http.SetCookie(w, cookie(sessionCookie, "", s.secure(r), -1))
	http.Redirect(w, r, "/signin?signedout=1", http.StatusSeeOther)
	return nil
}

// ---- organisations

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	orgs, err := c.api.cl.ListOrgs(ctx, "")
	if err != nil {
		return apiErr(err)
	}
	var agencies []client.Agency
	if c.sess.kind != "org" {
		if agencies, err = c.api.cl.ListAgencies(ctx); err != nil {
			return apiErr(err)
		}
	}
	s.render(w, r, http.StatusOK, "orgs", &pageData{Title: "Organisations", Nav: "orgs", Data: map[string]any{
		"Orgs": orgs, "Agencies": agencies, "CanCreate": c.sess.kind != "org"}}, c)
	return nil
}

func (s *Server) createOrg(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	o, err := c.api.cl.CreateOrg(r.Context(), client.CreateOrgRequest{Name: r.PostForm.Get("name"), AgencyID: r.PostForm.Get("agency_id")})
	if err != nil {
		return apiErr(err)
	}
	s.redirect(w, r, c, "/orgs/"+seg(o.ID), &flash{Kind: "ok", Message: "Organisation " + o.Name + " created."})
	return nil
}

// loadOrg is the organisation the URL names, as the API shows it to this
// user (another tenant's id is the API's not_found).
func loadOrg(ctx context.Context, c *reqCtx, id string) (*client.Org, error) {
	o, err := c.api.cl.GetOrg(ctx, id)
	if err != nil {
		return nil, apiErr(err)
	}
	return &o, nil
}

type installationRow struct {
	Inst     client.Installation
	Stage    client.Stage
	Refusals map[string]int
	Expiring []client.Secret
}

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request, c *reqCtx) error {
	ctx := r.Context()
	o, err := loadOrg(ctx, c, r.PathValue("org"))
	if err != nil {
		return err
	}
	insts, err := c.api.cl.ListInstallations(ctx, o.ID)
	if err != nil {
		return apiErr(err)
	}
	stages, err := stagesByProvider(ctx, c)
	if err != nil {
		return err
	}
	refusals, err := refusals24h(ctx, c, o.ID, s.now())
	if err != nil {
		return err
	}
	byProvider := map[string][]installationRow{}
	var names []string
	for _, in := range insts {
		if _, ok := byProvider[in.Provider]; !ok {
			names = append(names, in.Provider)
		}
		byProvider[in.Provider] = append(byProvider[in.Provider], installationRow{Inst: in, Stage: stages[in.Provider], Refusals: refusals[in.ID]})
	}
	sort.Strings(names)
	type group struct {
		Provider string
		Rows     []installationRow
	}
	var groups []group
	for _, n := range names {
		groups = append(groups, group{n, byProvider[n]})
	}
	s.render(w, r, http.StatusOK, "org", &pageData{Title: o.Name, Nav: "installations", Org: o, Data: map[string]any{"Groups": groups}}, c)
	return nil
}

func stagesByProvider(ctx context.Context, c *reqCtx) (map[string]client.Stage, error) {
	st, err := c.api.cl.ListStages(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	m := map[string]client.Stage{}
	for _, x := range st {
		m[x.Provider] = x
	}
	return m, nil
}

// refusals24h counts the org's webhook.reject audit events of the last 24 h
// per target (installation or profile) and reason.
func refusals24h(ctx context.Context, c *reqCtx, orgID string, now time.Time) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	since := now.Add(-24 * time.Hour)
	after := int64(0)
	for range 50 { // at most 50 000 events are read for one page view
		p, err := c.api.cl.Audit(ctx, client.AuditQuery{OrgID: orgID, After: after, Limit: 1000})
		if err != nil {
			return nil, apiErr(err)
		}
		for _, e := range p.Items {
			if e.Action != "webhook.reject" || e.At.Before(since) {
				continue
			}
			reason := detailString(e.Detail, "reason")
			if reason == "" {
				reason = "unknown"
			}
			n := 1
			if cnt := detailNumber(e.Detail, "count"); cnt > 0 {
				n = cnt
			}
			if out[e.Target] == nil {
				out[e.Target] = map[string]int{}
			}
			out[e.Target][reason] += n
		}
		if len(p.Items) < 1000 || p.NextAfter == after {
			break
		}
		after = p.NextAfter
	}
	return out, nil
}
