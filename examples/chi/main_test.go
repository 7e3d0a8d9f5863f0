package main

import (
	"bytes"
	"encoding/json"
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

func envMap(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

// startRouter serves newRouter over loopback, configured from the environment that points at idp.
func startRouter(t *testing.T, idp *jwtauthtest.IdP) *httptest.Server {
	t.Helper()
	cfg, err := loadConfig(envMap(map[string]string{
		"ISSUER": idp.Issuer(), "AUDIENCE": idp.Audience(), "JWKS_URL": idp.JWKSURL(), "ALGORITHMS": idp.Algorithm(),
	}))
	require.NoError(t, err)
	cfg.Auth.Logger = slog.New(slog.DiscardHandler)
	v, err := jwtauth.New(t.Context(), cfg.Auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	srv := httptest.NewServer(newRouter(v))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status    int
	challenge string
	body      map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r.body))
	return r
}

func TestRoutes_AllowAndDenyPerGroup(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	srv := startRouter(t, idp)
	token := func(scope string) string { return idp.Mint(map[string]any{"sub": "user-1", "scope": scope}) }

	tests := []struct {
		name      string
		method    string
		path      string
		token     string
		status    int
		challenge string
	}{
		{"public without token", "GET", "/api/public", "", 200, ""},

		{"me without token", "GET", "/api/me", "", 401, "Bearer"},
		{"me with any valid token", "GET", "/api/me", token(""), 200, ""},

		{"read without token", "GET", "/api/messages", "", 401, "Bearer"},
		{"read without the scope", "GET", "/api/messages", token("write:messages"), 403,
			`Bearer error="insufficient_scope", scope="read:messages"`},
		{"read with read:messages", "GET", "/api/messages", token("read:messages"), 200, ""},

		{"write without token", "POST", "/api/messages", "", 401, "Bearer"},
		{"write with read:messages only", "POST", "/api/messages", token("read:messages"), 403,
			`Bearer error="insufficient_scope", scope="admin write:messages"`},
		{"write with write:messages", "POST", "/api/messages", token("write:messages"), 201, ""},
		{"write with admin", "POST", "/api/messages", token("admin"), 201, ""},

		{"bad token on a protected group", "GET", "/api/me", "not.a.token", 401,
			`Bearer error="invalid_token", error_description="malformed token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, tt.method, tt.path, tt.token)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.challenge, r.challenge)
		})
	}
}

func TestMe_ShowsTheTokenSubjectAndScopes(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startRouter(t, idp)

	r := call(t, srv, "GET", "/api/me", idp.Mint(map[string]any{"sub": "user-1", "scope": "a b", "permissions": []string{"c"}}))

	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "user-1", r.body["sub"])
	assert.Equal(t, []any{"a", "b", "c"}, r.body["scopes"])
}

func TestGreeting_OptionalAuth(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startRouter(t, idp)
	expired := idp.Mint(map[string]any{"sub": "user-1", "iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})

	t.Run("no token: anonymous", func(t *testing.T) {
		r := call(t, srv, "GET", "/api/greeting", "")
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, false, r.body["signed_in"])
		assert.Contains(t, r.body["message"], "stranger")
	})
	t.Run("valid token: greeted by name", func(t *testing.T) {
		r := call(t, srv, "GET", "/api/greeting", idp.Mint(map[string]any{"sub": "user-1", "name": "Ada"}))
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, true, r.body["signed_in"])
		assert.Equal(t, "Welcome back, Ada!", r.body["message"])
	})
	t.Run("valid token without a name: greeted by subject", func(t *testing.T) {
		r := call(t, srv, "GET", "/api/greeting", idp.Mint(map[string]any{"sub": "user-1"}))
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "Welcome back, user-1!", r.body["message"])
	})
	for name, token := range map[string]string{"malformed token": "not.a.token", "expired token": expired} {
		t.Run(name+": refused, not treated as anonymous", func(t *testing.T) {
			r := call(t, srv, "GET", "/api/greeting", token)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.True(t, strings.HasPrefix(r.challenge, `Bearer error="invalid_token"`), r.challenge)
			assert.Equal(t, "invalid_token", r.body["error"])
		})
	}
}

func TestUnknownRoute_AnswersJSON404(t *testing.T) {
	srv := startRouter(t, jwtauthtest.NewIdP(t))

	r := call(t, srv, "GET", "/api/nope", "")

	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "not_found", r.body["error"])
}

func TestLoadConfig(t *testing.T) {
	full := map[string]string{
		"ISSUER": "https://login.example.com/", "AUDIENCE": "messages-api",
		"JWKS_URL": "https://login.example.com/.well-known/jwks.json",
	}
	without := func(names ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		for _, n := range names {
			m[n] = " "
		}
		return m
	}

	for _, tt := range []struct {
		env     map[string]string
		missing string
	}{
		{nil, "ISSUER, AUDIENCE, JWKS_URL"},
		{without("ISSUER"), "ISSUER"},
		{without("AUDIENCE"), "AUDIENCE"},
		{without("JWKS_URL"), "JWKS_URL"},
		{without("ISSUER", "JWKS_URL"), "ISSUER, JWKS_URL"},
	} {
		_, err := loadConfig(envMap(tt.env))
		require.Error(t, err)
		assert.Equal(t, "missing required environment variables: "+tt.missing, err.Error())
	}

	cfg, err := loadConfig(envMap(full))
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.Addr)
	assert.Equal(t, []string{"RS256"}, cfg.Auth.Issuers[0].Algorithms)
	assert.Equal(t, []string{"messages-api"}, cfg.Auth.Issuers[0].Audiences)
	assert.Equal(t, "https://login.example.com/", cfg.Auth.Issuers[0].Issuer)

	env := without()
	env["ALGORITHMS"] = " ES256, ,RS256 "
	cfg, err = loadConfig(envMap(env))
	require.NoError(t, err)
	assert.Equal(t, []string{"ES256", "RS256"}, cfg.Auth.Issuers[0].Algorithms)
}

func TestRun_ExitsTwoOnMissingConfiguration(t *testing.T) {
	var stderr bytes.Buffer

	code := run(envMap(map[string]string{"AUDIENCE": "a"}), &stderr)

	assert.Equal(t, 2, code)
	assert.Equal(t, "chi: missing required environment variables: ISSUER, JWKS_URL\n", stderr.String())
}

func TestRun_ExitsTwoOnInvalidConfiguration(t *testing.T) {
	var stderr bytes.Buffer

	code := run(envMap(map[string]string{
		"ISSUER": "https://login.example.com/", "AUDIENCE": "a", "JWKS_URL": "http://login.example.com/jwks.json",
	}), &stderr)

	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "key sets must be fetched over https")
}
