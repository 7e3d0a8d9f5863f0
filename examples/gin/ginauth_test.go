package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // gin keeps its mode in a global: set once, before any test runs
	os.Exit(m.Run())
}

// newVerifier trusts idp the way loadConfig does (roles in "roles"); mutate adjusts the config.
func newVerifier(t *testing.T, idp *jwtauthtest.IdP, mutate ...func(*jwtauth.Config)) *jwtauth.Verifier {
	t.Helper()
	cfg, err := loadConfig(envMap(map[string]string{
		"ISSUER": idp.Issuer(), "AUDIENCE": idp.Audience(), "JWKS_URL": idp.JWKSURL(), "ALGORITHMS": idp.Algorithm(),
	}))
	require.NoError(t, err)
	cfg.Auth.Logger = slog.New(slog.DiscardHandler)
	for _, m := range mutate {
		m(&cfg.Auth)
	}
	v, err := jwtauth.New(t.Context(), cfg.Auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// netHTTP is the same protection as newRouter's, in plain net/http: the reference gin must match.
func netHTTP(v *jwtauth.Verifier) http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", v.RequireAuth(ok))
	mux.Handle("GET /api/messages", v.RequireAuth(jwtauth.RequireScope("read:messages")(ok)))
	mux.Handle("GET /api/admin/stats", v.RequireAuth(jwtauth.RequireRole("admin")(ok)))
	return mux
}

// do sends one request to h; authorization holds the Authorization values (none, one or several).
func do(h http.Handler, path string, authorization ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// assertSameRefusal checks that gin answered exactly as net/http: status, every header jwtauth sets, body.
func assertSameRefusal(t *testing.T, want, got *httptest.ResponseRecorder) {
	t.Helper()
	assert.Equal(t, want.Code, got.Code, "status")
	for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control", "Retry-After"} {
		assert.Equal(t, want.Header().Values(h), got.Header().Values(h), h)
	}
	assert.Equal(t, want.Body.String(), got.Body.String(), "body")
}

func TestWrap_RefusesExactlyAsNetHTTP(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := newVerifier(t, idp, func(c *jwtauth.Config) { c.Realm = "messages" })
	viaGin, std := newRouter(v), netHTTP(v)
	bearer := func(claims map[string]any) string { return "Bearer " + idp.Mint(claims) }

	cases := []struct {
		name          string
		path          string
		authorization []string
		status        int
		challenge     string
	}{
		{"no token", "/api/me", nil, 401, `Bearer realm="messages"`},
		{"another scheme", "/api/me", []string{"Basic dXNlcjpwYXNz"}, 401, `Bearer realm="messages"`},
		{"bad token", "/api/me", []string{"Bearer not.a.token"}, 401,
			`Bearer realm="messages", error="invalid_token", error_description="malformed token"`},
		{"expired token", "/api/me", []string{bearer(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})}, 401,
			`Bearer realm="messages", error="invalid_token", error_description="token expired"`},
		{"two Authorization headers", "/api/me", []string{bearer(nil), bearer(nil)}, 400,
			`Bearer realm="messages", error="invalid_request", error_description="malformed credentials"`},
		{"insufficient scope", "/api/messages", []string{bearer(map[string]any{"scope": "profile"})}, 403,
			`Bearer realm="messages", error="insufficient_scope", scope="read:messages"`},
		{"role missing", "/api/admin/stats", []string{bearer(map[string]any{"roles": []string{"user"}})}, 403,
			`Bearer realm="messages", error="insufficient_scope", error_description="insufficient role"`},
		{"role claim absent", "/api/admin/stats", []string{bearer(nil)}, 403,
			`Bearer realm="messages", error="insufficient_scope", error_description="insufficient role"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := do(std, tc.path, tc.authorization...)
			require.Equal(t, tc.status, want.Code, "the net/http reference")
			require.Equal(t, tc.challenge, want.Header().Get("WWW-Authenticate"), "the net/http reference")
			assertSameRefusal(t, want, do(viaGin, tc.path, tc.authorization...))
		})
	}
}

func TestWrap_KeysUnavailableAnswersAsNetHTTP(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultDown)
	v := newVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.MaxWait = 100 * time.Millisecond })
	tok := "Bearer " + idp.Mint(nil)
	want := do(netHTTP(v), "/api/me", tok)
	require.Equal(t, http.StatusServiceUnavailable, want.Code)
	require.NotEmpty(t, want.Header().Get("Retry-After"))
	assertSameRefusal(t, want, do(newRouter(v), "/api/me", tok))
}

func TestWrap_LetsValidTokensThroughWithTheirClaims(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := newVerifier(t, idp)
	viaGin, std := newRouter(v), netHTTP(v)
	tok := "Bearer " + idp.Mint(map[string]any{"sub": "ada", "scope": "read:messages", "roles": []string{"admin"}})

	for _, path := range []string{"/api/me", "/api/messages", "/api/admin/stats"} {
		want, got := do(std, path, tok), do(viaGin, path, tok)
		assert.Equal(t, http.StatusOK, want.Code, path)
		assert.Equal(t, http.StatusOK, got.Code, path)
		assert.Empty(t, got.Header().Values("WWW-Authenticate"), path)
	}
	assert.JSONEq(t, `{"sub":"ada","scopes":["read:messages"],"roles":["admin"]}`, do(viaGin, "/api/me", tok).Body.String())
	assert.JSONEq(t, `{"requests":42,"admin":"ada"}`, do(viaGin, "/api/admin/stats", tok).Body.String())
}

func TestWrap_RefusalStopsTheGinChain(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := newVerifier(t, idp)
	var after []string
	r := gin.New()
	r.GET("/x", Wrap(v.RequireAuth), Wrap(jwtauth.RequireScope("write")), func(c *gin.Context) {
		after = append(after, "handler")
	})
	w := do(r, "/x", "Bearer "+idp.Mint(map[string]any{"scope": "read"}))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Empty(t, after, "the handler after a refusing Wrap never runs")

	w = do(r, "/x", "Bearer "+idp.Mint(map[string]any{"scope": "write"}))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, []string{"handler"}, after)
}

func TestWrap_OptionalAuthPassesAnonymousRequestsWithoutClaims(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	r := newRouter(newVerifier(t, idp))
	assert.JSONEq(t, `{"message":"Hello, stranger!","signed_in":false}`, do(r, "/api/greeting").Body.String())
	assert.JSONEq(t, `{"message":"Welcome back, ada!","signed_in":true}`,
		do(r, "/api/greeting", "Bearer "+idp.Mint(map[string]any{"sub": "ada"})).Body.String())
	w := do(r, "/api/greeting", "Bearer not.a.token")
	assert.Equal(t, http.StatusUnauthorized, w.Code, "a bad token is still refused")
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="invalid_token"`)
}
