package main

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envMap(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

func TestRouter_PublicAndUnknownRoutes(t *testing.T) {
	r := newRouter(newVerifier(t, jwtauthtest.NewIdP(t)))
	w := do(r, "/api/public")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"message":"Hello from a public endpoint!"}`, w.Body.String())
	w = do(r, "/nowhere")
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.JSONEq(t, `{"error":"not_found","error_description":"no such route"}`, w.Body.String())
}

func TestLoadConfig(t *testing.T) {
	_, err := loadConfig(envMap(nil))
	assert.EqualError(t, err, "missing required environment variables: ISSUER, AUDIENCE, JWKS_URL")

	env := map[string]string{"ISSUER": "https://login.example.com/", "AUDIENCE": "api", "JWKS_URL": "https://login.example.com/jwks"}
	cfg, err := loadConfig(envMap(env))
	require.NoError(t, err)
	ti := cfg.Auth.Issuers[0]
	assert.Equal(t, ":8080", cfg.Addr)
	assert.Equal(t, []string{"RS256"}, ti.Algorithms)
	assert.Equal(t, "roles", ti.Roles[0].String())

	env["ALGORITHMS"], env["ROLES_CLAIM"], env["ADDR"] = "ES256, RS256", "realm_access.roles", ":9000"
	cfg, err = loadConfig(envMap(env))
	require.NoError(t, err)
	ti = cfg.Auth.Issuers[0]
	assert.Equal(t, ":9000", cfg.Addr)
	assert.Equal(t, []string{"ES256", "RS256"}, ti.Algorithms)
	assert.Equal(t, []string{"realm_access", "roles"}, ti.Roles[0].Path)
}

func TestRun_ExitsTwoOnBadConfiguration(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(envMap(nil), &stderr))
	assert.Contains(t, stderr.String(), "ISSUER")

	stderr.Reset()
	env := map[string]string{"ISSUER": "https://login.example.com/", "AUDIENCE": "api", "JWKS_URL": "http://login.example.com/jwks"}
	assert.Equal(t, 2, run(envMap(env), &stderr))
	assert.Contains(t, stderr.String(), "https")
}
