package jwtauth_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequireAuth_FollowsTheContractTable(t *testing.T) {
	f := newLocal(t, "ES256")
	good := f.token(nil, nil)
	expired := f.token(nil, map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()})
	cases := []struct {
		name      string
		auth      []string
		status    int
		challenge string
		code      string
	}{
		{"valid", []string{"Bearer " + good}, 200, "", ""},
		{"scheme is case-insensitive", []string{"bEaReR " + good}, 200, "", ""},
		{"several spaces", []string{"Bearer    " + good}, 200, "", ""},
		{"no header", nil, 401, `Bearer`, "unauthorized"},
		{"Basic scheme", []string{"Basic dXNlcjpwYXNz"}, 401, `Bearer`, "unauthorized"},
		{"Token scheme", []string{"Token " + good}, 401, `Bearer`, "unauthorized"},
		{"token without scheme", []string{good}, 401, `Bearer`, "unauthorized"},
		{"Bearer without token", []string{"Bearer"}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"Bearer and spaces", []string{"Bearer   "}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"two tokens in one header", []string{"Bearer " + good + " " + good}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"tab separator", []string{"Bearer\t" + good}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"two Authorization headers", []string{"Bearer " + good, "Bearer " + good}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"Bearer and Basic headers", []string{"Bearer " + good, "Basic dXNlcjpwYXNz"}, 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"expired", []string{"Bearer " + expired}, 401, `Bearer error="invalid_token", error_description="token expired"`, "invalid_token"},
		{"malformed", []string{"Bearer abc.def"}, 401, `Bearer error="invalid_token", error_description="malformed token"`, "invalid_token"},
		{"comma in token", []string{"Bearer a,b"}, 401, `Bearer error="invalid_token", error_description="malformed token"`, "invalid_token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &okHandler{}
			w := serve(f.v.RequireAuth(h), tc.auth...)
			assert.Equal(t, tc.status, w.Code)
			if tc.status == 200 {
				assert.Equal(t, 1, h.count())
				require.NotNil(t, h.claims)
				assert.Equal(t, "user-1", h.claims.Subject)
				return
			}
			assert.Zero(t, h.count(), "handler not reached")
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			body := errorBody(t, w)
			assert.Equal(t, tc.code, body["error"])
			assert.NotEmpty(t, body["error_description"])
			assert.NotContains(t, w.Body.String(), good[:20], "no token value in the response")
		})
	}
}

func TestRequireAuth_RealmIsInEveryChallenge(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Realm = "api" })
	h := f.v.RequireAuth(&okHandler{})
	assert.Equal(t, `Bearer realm="api"`, serve(h).Header().Get("WWW-Authenticate"))
	assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="malformed token"`,
		serve(h, "Bearer x.y.z").Header().Get("WWW-Authenticate"))
}

func TestRequireAuth_ErrorDescriptionsAreFixedPhrasesWithoutTokenContent(t *testing.T) {
	f := newLocal(t, "ES256")
	evil := `evil" , error="none\`
	toks := []string{
		f.token(map[string]any{"kid": evil}, nil),
		f.token(map[string]any{"typ": evil}, nil),
		f.token(nil, map[string]any{"iss": evil}),
		f.token(nil, map[string]any{"aud": evil}),
		f.token(map[string]any{"alg": evil}, nil),
	}
	for _, tok := range toks {
		w := serve(f.v.RequireAuth(&okHandler{}), "Bearer "+tok)
		require.Equal(t, 401, w.Code)
		ch := w.Header().Get("WWW-Authenticate")
		assert.NotContains(t, ch, "evil")
		assert.NotContains(t, ch, `\`)
		assert.Equal(t, 4, strings.Count(ch, `"`), "exactly two quoted attributes: %s", ch)
		assert.NotContains(t, w.Body.String(), "evil")
	}
}

func TestRequireAuth_Answers503WhenNoKeysAreAvailable(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultStatus500)
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.MaxWait = 50 * time.Millisecond })
	h := &okHandler{}
	w := serve(v.RequireAuth(h), "Bearer "+idp.Mint(nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Header().Get("WWW-Authenticate"))
	assert.NotEmpty(t, w.Header().Get("Retry-After"))
	assert.Equal(t, "temporarily_unavailable", errorBody(t, w)["error"])
	assert.Zero(t, h.count())
}

func TestRequireAuth_CookieAndQuerySourcesAreOptIn(t *testing.T) {
	f := newLocal(t, "ES256")
	good := f.token(nil, nil)
	withCookie := func(h http.Handler, header string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: "access_token", Value: good})
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	withQuery := func(h http.Handler, query string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/?"+query, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Off by default: a cookie or query token is not a credential.
	assert.Equal(t, 401, withCookie(f.v.RequireAuth(&okHandler{}), "").Code)
	assert.Equal(t, 401, withQuery(f.v.RequireAuth(&okHandler{}), "access_token="+good).Code)

	on := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.TokenCookie = "access_token"
		c.TokenQuery = "access_token"
	})
	good = on.token(nil, nil)
	h := on.v.RequireAuth(&okHandler{})
	assert.Equal(t, 200, withCookie(h, "").Code)
	assert.Equal(t, 200, withQuery(h, "access_token="+good).Code)
	assert.Equal(t, 400, withCookie(h, "Bearer "+good).Code, "header + cookie")
	assert.Equal(t, 400, withQuery(h, "access_token="+good+"&access_token="+good).Code, "query twice")
	r := httptest.NewRequest(http.MethodGet, "/?access_token="+good, nil)
	r.Header.Set("Authorization", "Bearer "+good)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, 400, w.Code, "header + query")
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Cookie", "access_token="+good)
	r.Header.Add("Cookie", "access_token="+good)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, 400, w.Code, "cookie twice")
}

// failingBody fails the test if anything reads it.
type failingBody struct{ t *testing.T }

func (b failingBody) Read([]byte) (int, error) {
	b.t.Error("the middleware read the request body")
	return 0, errors.New("do not read")
}
func (failingBody) Close() error { return nil }

func TestRequireAuth_NeverReadsTheBody(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.TokenQuery = "token" })
	for _, auth := range []string{"", "Bearer " + f.token(nil, nil), "Bearer bad"} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Body = failingBody{t}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		f.v.RequireAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
	}
}

func TestOptionalAuth_PassesAnonymousButRefusesBadTokens(t *testing.T) {
	f := newLocal(t, "ES256")
	h := &okHandler{}
	mw := f.v.OptionalAuth(h)
	assert.Equal(t, 200, serve(mw).Code)
	assert.Nil(t, h.claims)
	assert.Equal(t, 200, serve(mw, "Basic dXNlcjpwYXNz").Code, "another scheme is no token")
	assert.Equal(t, 200, serve(mw, "Bearer "+f.token(nil, nil)).Code)
	assert.NotNil(t, h.claims)
	assert.Equal(t, 401, serve(mw, "Bearer "+f.token(nil, map[string]any{"exp": 1})).Code)
	assert.Equal(t, 400, serve(mw, "Bearer").Code)
	assert.Equal(t, 3, h.count())
}

func TestRequireAuth_ErrorHandlerReplacesTheResponse(t *testing.T) {
	var got error
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "custom", http.StatusTeapot)
		}
	})
	w := serve(f.v.RequireAuth(&okHandler{}), "Bearer "+f.token(nil, map[string]any{"exp": 1}))
	assert.Equal(t, http.StatusTeapot, w.Code)
	var e *jwtauth.Error
	require.ErrorAs(t, got, &e)
	assert.Equal(t, "token expired", e.Description())
	assert.Equal(t, 401, e.Status())

	w = serve(f.v.RequireAuth(jwtauth.RequireScope("admin")(&okHandler{})), "Bearer "+f.token(nil, nil))
	assert.Equal(t, http.StatusTeapot, w.Code, "scope refusals go through the handler too")
	assert.ErrorIs(t, got, jwtauth.ErrInsufficientScope)
	require.ErrorAs(t, got, &e)
	assert.Equal(t, []string{"admin"}, e.RequiredScopes())
}

func TestRequireAuth_AnswersPreflightItselfOnlyWhenAsked(t *testing.T) {
	preflight := func(h http.Handler) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/api/private", nil)
		r.Header.Set("Origin", "https://app.example")
		r.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	off := newLocal(t, "ES256")
	assert.Equal(t, 401, preflight(off.v.RequireAuth(&okHandler{})).Code)
	on := newLocal(t, "ES256", func(c *jwtauth.Config) { c.AllowPreflight = true })
	for name, mw := range map[string]func(http.Handler) http.Handler{"RequireAuth": on.v.RequireAuth, "OptionalAuth": on.v.OptionalAuth} {
		h := &okHandler{}
		w := preflight(mw(h))
		assert.Equal(t, http.StatusNoContent, w.Code, name)
		assert.Empty(t, w.Body.String(), name)
		assert.Zero(t, h.count(), "%s: a preflight never reaches the protected handler", name)
	}
	// A CORS handler wrapped outside adds its headers to the middleware's answer.
	cors := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
			next.ServeHTTP(w, r)
		})
	}
	w := preflight(cors(on.v.RequireAuth(&okHandler{})))
	assert.Equal(t, http.StatusNoContent, w.Code)
	assert.Equal(t, "https://app.example", w.Header().Get("Access-Control-Allow-Origin"))

	h := &okHandler{}
	r := httptest.NewRequest(http.MethodOptions, "/", nil) // a plain OPTIONS is not a preflight
	w = httptest.NewRecorder()
	on.v.RequireAuth(h).ServeHTTP(w, r)
	assert.Equal(t, 401, w.Code)
	assert.Zero(t, h.count())
}

func TestRequireAuth_OutcomesAreObservableAndNeverHoldTheToken(t *testing.T) {
	var logs bytes.Buffer
	var outcomes []jwtauth.Outcome
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.OnVerify = func(_ context.Context, o jwtauth.Outcome) { outcomes = append(outcomes, o) }
	})
	good := f.token(nil, nil)
	bad := f.token(map[string]any{"kid": "k1\nforged"}, map[string]any{"exp": 1})
	serve(f.v.RequireAuth(&okHandler{}), "Bearer "+good)
	serve(f.v.RequireAuth(&okHandler{}), "Bearer "+bad)
	require.Len(t, outcomes, 2)
	assert.NoError(t, outcomes[0].Err)
	assert.Equal(t, "ok", outcomes[0].Reason)
	assert.Equal(t, testIssuer, outcomes[0].Issuer)
	assert.Equal(t, "k1", outcomes[0].KeyID)
	assert.Equal(t, "ES256", outcomes[0].Algorithm)
	assert.Equal(t, "unknown signing key", outcomes[1].Reason)
	for _, tok := range []string{good, bad} {
		for _, part := range strings.Split(tok, ".") {
			assert.NotContains(t, logs.String(), part)
		}
	}
	assert.Contains(t, logs.String(), `"result":"ok"`)
	assert.Contains(t, logs.String(), `k1\nforged`, "untrusted values are escaped in logs")
}

func TestClaimsFromContext_EmptyWithoutAuth(t *testing.T) {
	c, ok := jwtauth.ClaimsFromContext(context.Background())
	assert.False(t, ok)
	assert.Nil(t, c)
}

func TestNewContext_IsTheInverseOfClaimsFromContext(t *testing.T) {
	want := &jwtauth.Claims{Subject: "user-1"}
	got, ok := jwtauth.ClaimsFromContext(jwtauth.NewContext(context.Background(), want))
	require.True(t, ok)
	assert.Same(t, want, got)
	_, ok = jwtauth.ClaimsFromContext(jwtauth.NewContext(context.Background(), nil))
	assert.False(t, ok, "nil claims are not an authenticated request")
}

func TestBearerToken_FollowsTheRulesOfRequireAuth(t *testing.T) {
	cases := []struct {
		name   string
		values []string
		token  string
		target error
	}{
		{"one token", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"scheme is case-insensitive", []string{"bEARER abc"}, "abc", nil},
		{"several spaces", []string{"Bearer    abc"}, "abc", nil},
		{"no values", nil, "", jwtauth.ErrNoToken},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, "", jwtauth.ErrNoToken},
		{"token without scheme", []string{"abc.def.ghi"}, "", jwtauth.ErrNoToken},
		{"two values", []string{"Bearer abc", "Bearer abc"}, "", jwtauth.ErrInvalidRequest},
		{"Bearer and Basic", []string{"Bearer abc", "Basic dXNlcjpwYXNz"}, "", jwtauth.ErrInvalidRequest},
		{"Bearer without token", []string{"Bearer"}, "", jwtauth.ErrInvalidRequest},
		{"Bearer and spaces", []string{"Bearer   "}, "", jwtauth.ErrInvalidRequest},
		{"two tokens", []string{"Bearer abc def"}, "", jwtauth.ErrInvalidRequest},
		{"tab separator", []string{"Bearer\tabc"}, "", jwtauth.ErrInvalidRequest},
		{"empty value", []string{""}, "", jwtauth.ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := jwtauth.BearerToken(tc.values)
			assert.Equal(t, tc.token, tok)
			if tc.target == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.target)
			var e *jwtauth.Error
			require.ErrorAs(t, err, &e)
			assert.NotContains(t, e.Description(), "abc")
		})
	}
}

func TestChallenge_IsWhatRequireAuthSends(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Realm = "api" })
	h := f.v.RequireAuth(jwtauth.RequireScope("admin")(&okHandler{}))
	good := f.token(nil, nil)
	claims, err := f.verify(good)
	require.NoError(t, err)
	_, errNoToken := jwtauth.BearerToken(nil)
	_, errTwo := jwtauth.BearerToken([]string{"Bearer a", "Bearer b"})
	_, errMalformed := f.verify("x.y.z")
	cases := []struct {
		auth []string
		err  error
	}{
		{nil, errNoToken},
		{[]string{"Bearer a", "Bearer b"}, errTwo},
		{[]string{"Bearer x.y.z"}, errMalformed},
		{[]string{"Bearer " + good}, claims.CheckScopes("admin")},
	}
	for _, tc := range cases {
		w := serve(h, tc.auth...)
		require.NotEqual(t, 200, w.Code)
		assert.Equal(t, w.Header().Get("WWW-Authenticate"), f.v.Challenge(tc.err), "%v", tc.err)
	}
	assert.Equal(t, `Bearer realm="api", error="insufficient_scope", scope="admin"`, f.v.Challenge(claims.CheckScopes("admin")))
}

func TestRequireAuth_NilHandlerPanicsAtConstruction(t *testing.T) {
	f := newLocal(t, "ES256")
	assert.PanicsWithValue(t, "jwtauth: RequireAuth(nil): pass the handler to protect, e.g. v.RequireAuth(mux)", func() { f.v.RequireAuth(nil) })
	assert.PanicsWithValue(t, "jwtauth: OptionalAuth(nil): pass the handler to protect, e.g. v.OptionalAuth(mux)", func() { f.v.OptionalAuth(nil) })
}
