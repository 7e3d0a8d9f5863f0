package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envMap is a getenv over a map.
func envMap(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}

// idpEnv is the environment that points the API at a test IdP, as a user would point it at any OIDC provider.
func idpEnv(idp *jwtauthtest.IdP) map[string]string {
	return map[string]string{
		"AUTH0_ISSUER":     idp.Issuer(),
		"JWKS_URL":         idp.JWKSURL(),
		"AUTH0_AUDIENCE":   idp.Audience(),
		"AUTH0_ALGORITHMS": idp.Algorithm(),
	}
}

// startAPI serves newHandler over loopback with the configuration loadConfig derives from env; mutate
// adjusts it further.
func startAPI(t *testing.T, env map[string]string, mutate ...func(*jwtauth.Config)) *httptest.Server {
	t.Helper()
	cfg, err := loadConfig(envMap(env))
	require.NoError(t, err)
	if cfg.redis != nil {
		t.Cleanup(func() { _ = cfg.redis.Close() })
	}
	cfg.auth.Logger = slog.New(slog.DiscardHandler)
	cfg.auth.JWKS.MaxRetryInterval = time.Second // recover from an IdP outage within a second, not after 15 s
	for _, m := range mutate {
		m(&cfg.auth)
	}
	metrics := newMetrics(&cfg.auth)
	v, err := jwtauth.New(t.Context(), cfg.auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	srv := httptest.NewServer(newHandler(v, metrics.handler(v)))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status    int
	challenge string // WWW-Authenticate
	header    http.Header
	body      map[string]any
}

// get requests path; authorization is the whole Authorization header ("" for none).
func get(t *testing.T, srv *httptest.Server, method, path, authorization string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), header: resp.Header}
	if method != http.MethodHead {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r.body))
	}
	return r
}

func bearer(token string) string { return "Bearer " + token }

func TestPublic_AnswersEveryone(t *testing.T) {
	srv := startAPI(t, idpEnv(jwtauthtest.NewIdP(t)))

	for _, auth := range []string{"", "Bearer not-a-token", "Basic dXNlcjpwYXNz"} {
		r := get(t, srv, http.MethodGet, "/api/public", auth)
		assert.Equal(t, http.StatusOK, r.status, auth)
		assert.NotEmpty(t, r.body["message"], auth)
	}
}

func TestPrivate_RefusesRequestsWithoutAValidToken(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startAPI(t, idpEnv(idp))
	stranger := jwtauthtest.NewIdP(t)

	tests := []struct {
		name          string
		authorization string
		status        int
		challenge     string
		code          string
	}{
		{"no token", "", 401, `Bearer`, "unauthorized"},
		{"another scheme", "Basic dXNlcjpwYXNz", 401, `Bearer`, "unauthorized"},
		{"bearer without a token", "Bearer ", 400, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request"},
		{"malformed", "Bearer not.a.token", 401, `Bearer error="invalid_token", error_description="malformed token"`, "invalid_token"},
		{"expired", bearer(idp.Mint(map[string]any{"sub": "u1", "iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})),
			401, `Bearer error="invalid_token", error_description="token expired"`, "invalid_token"},
		{"payload swapped under a signature", bearer(swapPayload(idp.Mint(map[string]any{"sub": "u1"}), idp.Mint(map[string]any{"sub": "admin"}))),
			401, `Bearer error="invalid_token", error_description="signature invalid"`, "invalid_token"},
		{"another audience", bearer(idp.Mint(map[string]any{"sub": "u1", "aud": "https://other-api.example"})),
			401, `Bearer error="invalid_token", error_description="audience not accepted"`, "invalid_token"},
		{"another issuer", bearer(stranger.Mint(map[string]any{"sub": "u1"})),
			401, `Bearer error="invalid_token", error_description="issuer not accepted"`, "invalid_token"},
		{"right issuer, unknown key", bearer(stranger.Mint(map[string]any{"sub": "u1", "iss": idp.Issuer()})),
			401, `Bearer error="invalid_token", error_description="unknown signing key"`, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, http.MethodGet, "/api/private", tt.authorization)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.challenge, r.challenge)
			assert.Equal(t, tt.code, r.body["error"])
			assert.NotContains(t, r.body, "claims")
		})
	}
}

// swapPayload returns signed with the payload of other: a forgery whose signature does not hold.
func swapPayload(signed, other string) string {
	a, b := strings.Split(signed, "."), strings.Split(other, ".")
	return a[0] + "." + b[1] + "." + a[2]
}

func TestPrivate_EchoesTheTokenClaims(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startAPI(t, idpEnv(idp))

	r := get(t, srv, http.MethodGet, "/api/private", bearer(idp.Mint(map[string]any{
		"sub": "auth0|user-1", "https://example.com/email": "ada@example.com",
	})))

	require.Equal(t, http.StatusOK, r.status)
	assert.NotEmpty(t, r.body["message"])
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	claims, ok := r.body["claims"].(map[string]any)
	require.True(t, ok, "claims is a JSON object: %v", r.body)
	assert.Equal(t, "auth0|user-1", claims["sub"])
	assert.Equal(t, idp.Issuer(), claims["iss"])
	assert.Equal(t, idp.Audience(), claims["aud"])
	assert.Equal(t, "ada@example.com", claims["https://example.com/email"])
}

func TestPrivateScoped_NeedsReadMessages(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startAPI(t, idpEnv(idp))

	tests := []struct {
		name   string
		claims map[string]any
		status int
	}{
		{"no scope", map[string]any{"sub": "u1"}, 403},
		{"other scopes", map[string]any{"sub": "u1", "scope": "openid profile write:messages"}, 403},
		{"near miss", map[string]any{"sub": "u1", "scope": "read:message Read:messages"}, 403},
		{"in scope", map[string]any{"sub": "u1", "scope": "openid read:messages"}, 200},
		{"in permissions (Auth0 RBAC)", map[string]any{"sub": "u1", "permissions": []string{"write:messages", "read:messages"}}, 200},
		{"in scp (array)", map[string]any{"sub": "u1", "scp": []string{"read:messages"}}, 200},
		{"in scp (string)", map[string]any{"sub": "u1", "scp": "profile read:messages"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, http.MethodGet, "/api/private-scoped", bearer(idp.Mint(tt.claims)))
			assert.Equal(t, tt.status, r.status)
			if tt.status == http.StatusForbidden {
				assert.Equal(t, `Bearer error="insufficient_scope", scope="read:messages"`, r.challenge)
				assert.Equal(t, "insufficient_scope", r.body["error"])
			} else {
				assert.Empty(t, r.challenge)
				assert.NotEmpty(t, r.body["message"])
			}
		})
	}

	r := get(t, srv, http.MethodGet, "/api/private-scoped", "")
	assert.Equal(t, http.StatusUnauthorized, r.status, "without a token it is a 401, not a 403")
	assert.Equal(t, "Bearer", r.challenge)
}

func TestKeyRotation_IsPickedUpWithoutRestart(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	srv := startAPI(t, idpEnv(idp))
	before := idp.Mint(map[string]any{"sub": "u1"})
	require.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(before)).status)
	require.Equal(t, 1, idp.Fetches())

	idp.Rotate()
	after := idp.Mint(map[string]any{"sub": "u1"})

	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(after)).status,
		"a token signed with the new key is accepted: its unknown kid triggers a refresh")
	assert.Equal(t, 2, idp.Fetches())
	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(before)).status,
		"the old key is still published, so its tokens still work")
}

func TestHealthz_UnavailableUntilTheIdPRecovers(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	idp.SetFault(jwtauthtest.FaultDown)
	srv := startAPI(t, idpEnv(idp))
	token := idp.Mint(map[string]any{"sub": "u1"})

	r := get(t, srv, http.MethodGet, "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "unavailable", r.body["status"])
	r = get(t, srv, http.MethodGet, "/api/private", bearer(token))
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "no keys: a valid token cannot be checked yet")
	assert.Equal(t, "temporarily_unavailable", r.body["error"])
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	idp.SetFault(jwtauthtest.FaultNone)

	require.Eventually(t, func() bool {
		return get(t, srv, http.MethodGet, "/healthz", "").status == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "the background retry loads the keys")
	assert.Equal(t, map[string]any{"status": "ok"}, get(t, srv, http.MethodGet, "/healthz", "").body)
	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(token)).status)
}

func TestUnknownRoutes_AnswerJSON(t *testing.T) {
	srv := startAPI(t, idpEnv(jwtauthtest.NewIdP(t)))

	r := get(t, srv, http.MethodGet, "/api/nope", "")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "not_found", r.body["error"])

	r = get(t, srv, http.MethodPost, "/api/private", "")
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET, HEAD", r.header.Get("Allow"))
	assert.Equal(t, "method_not_allowed", r.body["error"])

	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodHead, "/api/public", "").status)
}

func TestLoadConfig_NamesEveryMissingVariable(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		missing []string
	}{
		{"nothing set", nil, []string{"AUTH0_DOMAIN", "AUTH0_AUDIENCE"}},
		{"blank values count as unset", map[string]string{"AUTH0_DOMAIN": " ", "AUTH0_AUDIENCE": "\t"}, []string{"AUTH0_DOMAIN", "AUTH0_AUDIENCE"}},
		{"domain only", map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com"}, []string{"AUTH0_AUDIENCE"}},
		{"audience only", map[string]string{"AUTH0_AUDIENCE": "https://api.example.com"}, []string{"AUTH0_DOMAIN"}},
		{"alias only", map[string]string{"AUTH0_API_AUDIENCE": "https://api.example.com"}, []string{"AUTH0_DOMAIN"}},
		{"issuer without JWKS_URL still needs the domain",
			map[string]string{"AUTH0_AUDIENCE": "a", "AUTH0_ISSUER": "https://login.example.com/"}, []string{"AUTH0_DOMAIN"}},
		{"JWKS_URL without issuer still needs the domain",
			map[string]string{"AUTH0_AUDIENCE": "a", "JWKS_URL": "https://login.example.com/jwks.json"}, []string{"AUTH0_DOMAIN"}},
		{"issuer and JWKS_URL replace the domain, not the audience",
			map[string]string{"AUTH0_ISSUER": "https://login.example.com/", "JWKS_URL": "https://login.example.com/jwks.json"}, []string{"AUTH0_AUDIENCE"}},
		{"other variables do not help",
			map[string]string{"AUTH0_ALGORITHMS": "RS256", "ADDR": ":9000"}, []string{"AUTH0_DOMAIN", "AUTH0_AUDIENCE"}},
	}
	all := []string{"AUTH0_DOMAIN", "AUTH0_AUDIENCE"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envMap(tt.env))

			var missing *missingError
			require.ErrorAs(t, err, &missing)
			assert.Equal(t, tt.missing, missing.names)
			for _, name := range all {
				if slices.Contains(tt.missing, name) {
					assert.Contains(t, err.Error(), name+" (")
				} else {
					assert.NotContains(t, err.Error(), name+" (")
				}
			}
		})
	}
}

func TestLoadConfig_DerivesTheTrustedIssuer(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		issuer     string
		audiences  []string
		algorithms []string
		addr       string
	}{
		{"Auth0 defaults",
			map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_AUDIENCE": "https://api.example.com"},
			"https://dev-abc.us.auth0.com/", []string{"https://api.example.com"}, []string{"RS256"}, ":8080"},
		{"domain with a port",
			map[string]string{"AUTH0_DOMAIN": "127.0.0.1:9000", "AUTH0_AUDIENCE": "a"},
			"https://127.0.0.1:9000/", []string{"a"}, []string{"RS256"}, ":8080"},
		{"domain pasted as a URL",
			map[string]string{"AUTH0_DOMAIN": "https://dev-abc.us.auth0.com/", "AUTH0_AUDIENCE": "a"},
			"https://dev-abc.us.auth0.com/", []string{"a"}, []string{"RS256"}, ":8080"},
		{"AUTH0_API_AUDIENCE alias",
			map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_API_AUDIENCE": "https://api.example.com"},
			"https://dev-abc.us.auth0.com/", []string{"https://api.example.com"}, []string{"RS256"}, ":8080"},
		{"both audience names, same value",
			map[string]string{"AUTH0_DOMAIN": "d.example", "AUTH0_AUDIENCE": "a", "AUTH0_API_AUDIENCE": "a"},
			"https://d.example/", []string{"a"}, []string{"RS256"}, ":8080"},
		{"AUTH0_ISSUER wins, exactly as written",
			map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_AUDIENCE": "a", "AUTH0_ISSUER": "https://login.example.com"},
			"https://login.example.com", []string{"a"}, []string{"RS256"}, ":8080"},
		{"issuer and JWKS_URL without a domain",
			map[string]string{"AUTH0_AUDIENCE": "login-server", "AUTH0_ISSUER": "http://localhost:8000", "JWKS_URL": "http://127.0.0.1:8000/.well-known/jwks.json", "AUTH0_ALGORITHMS": "ES256"},
			"http://localhost:8000", []string{"login-server"}, []string{"ES256"}, ":8080"},
		{"algorithm list with spaces and empty items",
			map[string]string{"AUTH0_DOMAIN": "d.example", "AUTH0_AUDIENCE": "a", "AUTH0_ALGORITHMS": " RS256 , ,ES256,, PS256 "},
			"https://d.example/", []string{"a"}, []string{"RS256", "ES256", "PS256"}, ":8080"},
		{"algorithm list without a name means the default",
			map[string]string{"AUTH0_DOMAIN": "d.example", "AUTH0_AUDIENCE": "a", "AUTH0_ALGORITHMS": " , "},
			"https://d.example/", []string{"a"}, []string{"RS256"}, ":8080"},
		{"values are trimmed",
			map[string]string{"AUTH0_DOMAIN": " d.example\n", "AUTH0_AUDIENCE": " a ", "ADDR": " 127.0.0.1:9999 "},
			"https://d.example/", []string{"a"}, []string{"RS256"}, "127.0.0.1:9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(envMap(tt.env))

			require.NoError(t, err)
			require.Len(t, cfg.auth.Issuers, 1)
			ti := cfg.auth.Issuers[0]
			assert.Equal(t, tt.issuer, ti.Issuer)
			assert.Equal(t, tt.audiences, ti.Audiences)
			assert.Equal(t, tt.algorithms, ti.Algorithms)
			assert.Equal(t, tt.addr, cfg.addr)
			assert.NotNil(t, ti.Keys)
		})
	}
}

func TestLoadConfig_RefusesTwoDifferentAudiences(t *testing.T) {
	_, err := loadConfig(envMap(map[string]string{"AUTH0_DOMAIN": "d.example", "AUTH0_AUDIENCE": "a", "AUTH0_API_AUDIENCE": "b"}))

	require.Error(t, err)
	assert.Contains(t, err.Error(), "AUTH0_AUDIENCE and AUTH0_API_AUDIENCE")
}

// The key set URL a domain implies is only visible by fetching it: serve it over TLS on loopback, at the
// domain-with-port, and check the keys load and verify tokens of issuer https://DOMAIN/.
func TestLoadConfig_DomainWithPortImpliesItsJWKSURL(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	var paths []string
	var mu sync.Mutex
	tenant := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(idp.JWKS())
	}))
	t.Cleanup(tenant.Close)
	domain := tenant.Listener.Addr().String() // 127.0.0.1:PORT

	cfg, err := loadConfig(envMap(map[string]string{"AUTH0_DOMAIN": domain, "AUTH0_AUDIENCE": idp.Audience()}))
	require.NoError(t, err)
	cfg.auth.JWKS.HTTPClient = tenant.Client() // trusts the test certificate
	cfg.auth.Logger = slog.New(slog.DiscardHandler)
	v, err := jwtauth.New(t.Context(), cfg.auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })

	require.NoError(t, v.Ready())
	mu.Lock()
	assert.Equal(t, []string{"/.well-known/jwks.json"}, paths)
	mu.Unlock()
	claims, err := v.Verify(t.Context(), idp.Mint(map[string]any{"sub": "u1", "iss": "https://" + domain + "/"}))
	require.NoError(t, err)
	assert.Equal(t, "u1", claims.Subject)
}

func TestLoadConfig_WithIssuerAndJWKSURLTheDomainIsNotUsed(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	env := idpEnv(idp)
	env["AUTH0_DOMAIN"] = "127.0.0.1:1" // nothing listens there: any use of it would fail

	srv := startAPI(t, env)

	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/healthz", "").status)
	assert.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(idp.Mint(map[string]any{"sub": "u1"}))).status)
}

func TestConfig_PlainHTTPKeySetOnlyOnLoopback(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	tests := []struct {
		name    string
		jwksURL string
		ok      bool
	}{
		{"127.0.0.1", idp.JWKSURL(), true},
		{"localhost", strings.Replace(idp.JWKSURL(), "127.0.0.1", "localhost", 1), true},
		{"public name", "http://example.com/.well-known/jwks.json", false},
		{"private address", "http://10.0.0.1/.well-known/jwks.json", false},
		{"name starting with localhost", "http://localhost.example.com/.well-known/jwks.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := idpEnv(idp)
			env["JWKS_URL"] = tt.jwksURL
			cfg, err := loadConfig(envMap(env))
			require.NoError(t, err, "the URL is checked by jwtauth.New, not by loadConfig")
			cfg.auth.Logger = slog.New(slog.DiscardHandler)

			v, err := jwtauth.New(t.Context(), cfg.auth)

			if tt.ok {
				require.NoError(t, err)
				_ = v.Close()
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "https")
		})
	}
}

// The real binary: exit codes and messages on bad configuration, then a clean start, a request and a
// graceful shutdown on SIGTERM.
func TestBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "auth0-api")
	out, err := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	t.Run("missing configuration exits 2 naming each variable", func(t *testing.T) {
		code, stdout, stderr := runBinary(t, bin, nil)
		assert.Equal(t, 2, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "AUTH0_DOMAIN")
		assert.Contains(t, stderr, "AUTH0_AUDIENCE")
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one message: %q", stderr)
	})

	t.Run("invalid configuration exits 2 with the library's message", func(t *testing.T) {
		code, _, stderr := runBinary(t, bin, []string{
			"AUTH0_DOMAIN=dev-abc.us.auth0.com", "AUTH0_AUDIENCE=a",
			"JWKS_URL=http://example.com/.well-known/jwks.json", "AUTH0_ALGORITHMS=HS256",
		})
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr, "is http; key sets must be fetched over https")
		assert.Contains(t, stderr, `algorithm "HS256" is not supported`)
	})

	t.Run("with REDIS_URL says where the shared state is, never logging the URL", func(t *testing.T) {
		redisURL := testsvc.RedisURL(t)
		_, logs, _, _ := startBinary(t, bin, jwtauthtest.NewIdP(t), "DPOP=allowed", "EXTERNAL_URL=https://api.example.test",
			"REDIS_URL="+redisURL+"?dial_timeout=3s", "REDIS_PREFIX="+testsvc.RedisPrefix(t))
		assert.Contains(t, logs.String(), `"msg":"DPoP replay store and revocation denylist in Redis"`)
		assert.NotContains(t, logs.String(), "dial_timeout", "the URL is not logged")
	})

	t.Run("serves, logs without credentials, shuts down on SIGTERM", func(t *testing.T) {
		idp := jwtauthtest.NewIdP(t)
		cmd, logs, exited, addr := startBinary(t, bin, idp)

		token := idp.Mint(map[string]any{"sub": "u1", "scope": "read:messages"})
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/api/private-scoped", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)

		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-exited:
			require.NoError(t, err, "exit code 0 after a graceful shutdown; logs: %s", logs)
		case <-time.After(20 * time.Second):
			t.Fatalf("the server did not stop on SIGTERM; logs: %s", logs)
		}
		assert.Contains(t, logs.String(), `"path":"/api/private-scoped","status":200`)
		assert.NotContains(t, logs.String(), token)
		assert.NotContains(t, logs.String(), token[strings.LastIndexByte(token, '.')+1:], "not even the signature")
	})
}

// startBinary starts bin pointed at idp, listening on a free loopback port, with extra variables, and
// waits until it logs its address. It returns its stderr and its exit (from cmd.Wait).
func startBinary(t *testing.T, bin string, idp *jwtauthtest.IdP, extra ...string) (cmd *exec.Cmd, logs *syncBuffer, exited <-chan error, addr string) {
	t.Helper()
	env := append([]string{"ADDR=127.0.0.1:0"}, extra...)
	for k, v := range idpEnv(idp) {
		env = append(env, k+"="+v)
	}
	logs = &syncBuffer{}
	cmd = exec.Command(bin)
	cmd.Env, cmd.Stderr = env, logs
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done }) // closed after the exit, also when the test took it
	require.Eventually(t, func() bool {
		addr = listenAddr(logs.String())
		return addr != ""
	}, 20*time.Second, 10*time.Millisecond, "the server logs its address; logs: %s", logs)
	return cmd, logs, done, addr
}

// runBinary runs bin with exactly env and returns its exit code and output.
func runBinary(t *testing.T, bin string, env []string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(t.Context(), bin)
	cmd.Env = append([]string{}, env...) // never nil: nil would inherit the test's environment
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errOut.String()
	}
	require.NoError(t, err)
	return 0, out.String(), errOut.String()
}

// syncBuffer is a bytes.Buffer written by a child process and read by the test.
type syncBuffer = testsvc.Logs

// listenAddr finds the address in the "listening" log line, or "".
func listenAddr(logs string) string { return testsvc.ListenAddr(logs) }
