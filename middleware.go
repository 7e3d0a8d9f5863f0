package jwtauth

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

type claimsKey struct{}

// ClaimsFromContext returns the claims that RequireAuth or OptionalAuth put into the request context after
// every check passed. ok is false when the request was not authenticated.
func ClaimsFromContext(ctx context.Context) (c *Claims, ok bool) {
	c, ok = ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// NewContext returns a copy of ctx carrying c, as RequireAuth does after verifying a token: the inverse of
// ClaimsFromContext. Use it in handler tests (with claims from jwtauthtest.Claims) and in adapters for other
// transports; a handler cannot tell the difference, so only ever pass claims that were verified.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// RequireAuth returns a handler that lets a request through to next only with a valid bearer token, and puts
// the token's claims into the request context (see ClaimsFromContext). Other requests get the RFC 6750
// answer: 401 with a challenge, 400 for ambiguous credentials, 503 when no keys are available. It never reads
// the request body. v.RequireAuth is a func(http.Handler) http.Handler, so it plugs into routers as
// middleware: r.Use(v.RequireAuth).
func (v *Verifier) RequireAuth(next http.Handler) http.Handler {
	return v.middleware(next, false)
}

// OptionalAuth is RequireAuth for routes that serve anonymous users too: a request without any token passes
// through without claims, while a request with a bad token is still refused.
func (v *Verifier) OptionalAuth(next http.Handler) http.Handler {
	return v.middleware(next, true)
}

func (v *Verifier) middleware(next http.Handler, optional bool) http.Handler {
	if next == nil {
		name := "RequireAuth"
		if optional {
			name = "OptionalAuth"
		}
		panic("jwtauth: " + name + "(nil): pass the handler to protect, e.g. v." + name + "(mux)")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.allowPreflight && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			// Answered here, never passed on: next would serve an unauthenticated request (a route
			// without a method in its pattern answers OPTIONS like GET). A CORS handler outside adds the headers.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		token, dpop, err := v.tokenFromRequest(r)
		if err != nil {
			if optional && errors.Is(err, ErrNoToken) {
				next.ServeHTTP(w, r)
				return
			}
			v.LogRefusal(r.Context(), err)
			v.refuse(w, r, err)
			return
		}
		var c *Claims
		if dpop {
			c, err = v.verifyDPoP(w, r, token)
		} else {
			c, err = v.verifyRequest(r.Context(), token, r)
		}
		if err != nil {
			v.refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
	})
}

var (
	errNoToken     = newError(failNoToken, "no bearer token in the request")
	errTwoHeaders  = newError(failInvalidRequest, "the request has more than one Authorization header")
	errEmptyBearer = newError(failInvalidRequest, "the Authorization header says Bearer but carries no token")
	errBadBearer   = newError(failInvalidRequest, "the Authorization header must be \"Bearer\", one or more spaces, and exactly one token")
	errTwoSources  = newError(failInvalidRequest, "the request carries a token in more than one place (header, cookie, query)")
	errTwoInSource = newError(failInvalidRequest, "the request carries the token cookie or query parameter more than once")
)

// tokenFromRequest extracts exactly one token from the enabled sources; dpop is true when it came with the
// DPoP scheme, which is recognised only when some issuer accepts DPoP.
func (v *Verifier) tokenFromRequest(r *http.Request) (token string, dpop bool, err error) {
	found := 0
	h := r.Header["Authorization"] // Values without canonicalizing a key that already is canonical
	if v.dpop != nil && len(h) == 1 {
		t, ok, err := schemeToken(h[0], "DPoP")
		if err != nil {
			return "", false, err
		}
		if ok {
			token, dpop, found = t, true, 1
		}
	}
	if len(h) > 0 && !dpop {
		t, err := BearerToken(h)
		if err != nil && !errors.Is(err, ErrNoToken) { // another scheme: look at the other sources
			return "", false, err
		}
		if err == nil {
			token, found = t, 1
		}
	}
	if v.tokenCookie != "" {
		var values []string
		for _, c := range r.CookiesNamed(v.tokenCookie) {
			values = append(values, c.Value)
		}
		if len(values) > 1 {
			return "", false, errTwoInSource
		}
		if len(values) == 1 {
			if values[0] == "" {
				return "", false, errEmptyBearer
			}
			token, found = values[0], found+1
		}
	}
	if v.tokenQuery != "" {
		values := r.URL.Query()[v.tokenQuery]
		if len(values) > 1 {
			return "", false, errTwoInSource
		}
		if len(values) == 1 {
			if values[0] == "" {
				return "", false, errEmptyBearer
			}
			token, found = values[0], found+1
		}
	}
	switch found {
	case 0:
		return "", false, errNoToken
	case 1:
		return token, dpop, nil
	}
	return "", false, errTwoSources
}

// BearerToken returns the one bearer token in the Authorization values of a request, by the rules RequireAuth
// follows: the scheme Bearer, matched case-insensitively, then one or more spaces and exactly one token. It is
// for other transports, such as the "authorization" metadata of gRPC. Its errors are *Error: ErrNoToken when
// values is empty or uses another scheme (Basic, ...); ErrInvalidRequest for more than one value, Bearer
// without a token, or anything after the token.
func BearerToken(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", errNoToken
	case 1:
		t, err := bearerToken(values[0])
		if err == nil && t == "" {
			return "", errNoToken
		}
		return t, err
	}
	return "", errTwoHeaders
}

// bearerToken parses one Authorization value: "" and no error when it uses another scheme.
func bearerToken(h string) (string, error) {
	t, _, err := schemeToken(h, "Bearer")
	return t, err
}

// schemeToken parses one Authorization value of scheme want; ok is false when it uses another scheme.
// The scheme is case-insensitive and followed by one or more spaces (RFC 7235 1*SP), then exactly one token.
func schemeToken(h, want string) (token string, ok bool, err error) {
	sp := strings.IndexByte(h, ' ')
	scheme := h
	if sp >= 0 {
		scheme = h[:sp]
	}
	if !isToken(scheme) || strings.IndexByte(scheme, '/') >= 0 {
		return "", false, errBadBearer
	}
	if !strings.EqualFold(scheme, want) {
		return "", false, nil // another scheme (Basic, Token, ...)
	}
	if sp < 0 {
		return "", true, errEmptyBearer
	}
	t := strings.TrimLeft(h[sp:], " ")
	if t == "" {
		return "", true, errEmptyBearer
	}
	if strings.IndexByte(t, ' ') >= 0 {
		return "", true, errBadBearer
	}
	return t, true, nil
}

// refuse answers a refused request, through Config.ErrorHandler when one is set.
func (v *Verifier) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if v != nil && v.errorHandler != nil {
		v.errorHandler(w, r, err)
		return
	}
	writeError(w, err, v)
}

// Challenge returns the WWW-Authenticate value RequireAuth sends for err, with the configured Realm and
// resource_metadata (Config.Resource), or "" when it sends none (ErrKeysUnavailable: 503 with Retry-After). It is for other transports, such as gRPC trailers.
// An err that is not an *Error gets the challenge of a malformed token.
func (v *Verifier) Challenge(err error) string {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(failMalformed, "")
	}
	return challenge(e, v)
}

// challenge renders the challenges for e, joined as one WWW-Authenticate value.
func challenge(e *Error, v *Verifier) string { return strings.Join(v.challenges(e), ", ") }

// challenges renders the challenges for e: fixed phrases and configured values only. v may be nil (a refusal
// with no Verifier at hand). Bearer (RFC 6750) comes when some issuer accepts bearer tokens, DPoP with algs
// (RFC 9449 §7.1) when some issuer accepts DPoP; the error goes on the scheme the request used, or on DPoP
// when no issuer accepts Bearer. resource_metadata goes on every challenge, 400 and 403 included: RFC 9728
// §5.1 shows it on 401, and MCP clients read it from 403 insufficient_scope to ask for more scopes.
func (v *Verifier) challenges(e *Error) []string {
	if e.Status() == http.StatusServiceUnavailable {
		return nil
	}
	var realm, metadataURL string
	if v != nil {
		realm = v.realm
		if v.meta != nil {
			metadataURL = v.meta.url
		}
	}
	if v == nil || v.dpop == nil {
		return []string{oneChallenge("Bearer", e, realm, metadataURL, "")}
	}
	bare := newError(failNoToken, "")
	onDPoP := e.dpop || !v.dpop.bearer
	var out []string
	if v.dpop.bearer {
		be := e
		if onDPoP {
			be = bare
		}
		out = append(out, oneChallenge("Bearer", be, realm, metadataURL, ""))
	}
	if !onDPoP {
		e = bare
	}
	return append(out, oneChallenge("DPoP", e, realm, metadataURL, v.dpop.algsAttr))
}

// oneChallenge renders the challenge of one scheme.
func oneChallenge(scheme string, e *Error, realm, metadataURL, algs string) string {
	var b strings.Builder
	b.WriteString(scheme)
	sep := " "
	attr := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteString(`"`)
		sep = ", "
	}
	if realm != "" {
		attr("realm", realm)
	}
	if e.Code() != "" {
		attr("error", e.Code())
		if e.kind == failScope {
			attr("scope", scopeAttr(e.scopes))
		} else {
			attr("error_description", e.Description())
		}
	}
	if algs != "" {
		attr("algs", algs)
	}
	if metadataURL != "" {
		attr("resource_metadata", metadataURL)
	}
	return b.String()
}

// scopeAttr joins the valid scope tokens of scopes: CheckScopes takes any string, and one with a quote,
// backslash or space would break out of the quoted attribute.
func scopeAttr(scopes []string) string {
	valid := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if isScopeToken(s) {
			valid = append(valid, s)
		}
	}
	return strings.Join(valid, " ")
}

// writeError writes the RFC 6750 response for err.
func writeError(w http.ResponseWriter, err error, v *Verifier) {
	var e *Error
	if !errors.As(err, &e) {
		e = newError(failMalformed, err.Error())
	}
	hdr := w.Header()
	if chs := v.challenges(e); len(chs) > 0 {
		hdr.Del("WWW-Authenticate")
		for _, ch := range chs {
			hdr.Add("WWW-Authenticate", ch)
		}
	} else {
		hdr.Set("Retry-After", "5")
	}
	if e.nonce != "" {
		hdr.Set("DPoP-Nonce", e.nonce)
	}
	code := e.Code()
	if code == "" {
		code = "unauthorized"
	}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status())
	_, _ = w.Write([]byte(`{"error":` + strconv.Quote(code) + `,"error_description":` + strconv.Quote(e.Description()) + "}\n"))
}
