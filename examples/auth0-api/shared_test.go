package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	jwtauthredis "github.com/jwtauth-go/jwtauth/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfig_DPoPPolicy(t *testing.T) {
	base := map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_AUDIENCE": "a"}
	for _, tt := range []struct {
		dpop, external string
		want           jwtauth.DPoPPolicy
	}{
		{"", "", jwtauth.DPoPOff},
		{"off", "", jwtauth.DPoPOff},
		{"allowed", "https://api.example.com", jwtauth.DPoPOptional},
		{"Required", "https://api.example.com", jwtauth.DPoPRequired},
	} {
		env := with(base, map[string]string{"DPOP": tt.dpop, "EXTERNAL_URL": tt.external})
		cfg, err := loadConfig(envMap(env))
		require.NoError(t, err, tt.dpop)
		assert.Equal(t, tt.want, cfg.auth.Issuers[0].DPoP, tt.dpop)
		assert.Equal(t, tt.external, cfg.auth.DPoP.ExternalURL)
		assert.Nil(t, cfg.auth.DPoP.Replay, "without REDIS_URL: the in-memory replay store")
		assert.Nil(t, cfg.auth.Revocations, "without REDIS_URL: no denylist")
	}
}

func TestLoadConfig_RefusesBadDPoPAndRedisSettings(t *testing.T) {
	base := map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_AUDIENCE": "a"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unknown policy", map[string]string{"DPOP": "yes"}, `DPOP is "yes": set off (bearer tokens only, the default), allowed`},
		{"DPoP without the API's URL", map[string]string{"DPOP": "required"}, "DPOP=required needs EXTERNAL_URL"},
		{"prefix without URL", map[string]string{"REDIS_PREFIX": "x:"}, "REDIS_PREFIX is set but REDIS_URL is not"},
		{"prefix with a space", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": "my app:"}, "REDIS_PREFIX must be at most 64 printable characters"},
		{"not a Redis URL", map[string]string{"REDIS_URL": "http://user:hunter2@127.0.0.1:6379"}, "REDIS_URL: jwtauthredis: the Redis URL is not valid"},
		{"timeouts off", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0?read_timeout=-1"}, "means no timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envMap(with(base, tt.env)))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2", "never the password")
		})
	}
}

func TestLoadConfig_RedisURLSharesReplayAndRevocations(t *testing.T) {
	cfg, err := loadConfig(envMap(map[string]string{"AUTH0_DOMAIN": "dev-abc.us.auth0.com", "AUTH0_AUDIENCE": "a",
		"REDIS_URL": "redis://127.0.0.1:1/0"}))
	require.NoError(t, err)
	require.NotNil(t, cfg.redis)
	defer cfg.redis.Close()
	assert.IsType(t, &jwtauthredis.ReplayStore{}, cfg.auth.DPoP.Replay)
	assert.IsType(t, &jwtauthredis.Denylist{}, cfg.auth.Revocations)
	assert.Equal(t, jwtauthredis.DefaultPrefix, cfg.redisPrefix)
}

// with returns base overlaid with extra (empty values are left out).
func with(base, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// redisEnv is env with REDIS_URL (the shared test Redis, or url) and a REDIS_PREFIX of this test's own,
// whose keys are deleted when the test ends.
func redisEnv(t *testing.T, env map[string]string, url ...string) map[string]string {
	u := testsvc.RedisURL(t)
	if len(url) > 0 {
		u = url[0]
	}
	prefix := testsvc.RedisPrefix(t)
	t.Cleanup(func() {
		c, err := jwtauthredis.Open(u)
		if err != nil {
			return
		}
		defer c.Close()
		ctx := context.Background()
		for iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator(); iter.Next(ctx); {
			c.Del(ctx, iter.Val())
		}
	})
	return with(env, map[string]string{"REDIS_URL": u, "REDIS_PREFIX": prefix})
}

const externalURL = "https://api.example.test"

func TestRedis_ReplicasShareReplaysAndRevocations(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	env := redisEnv(t, with(idpEnv(idp), map[string]string{"DPOP": "allowed", "EXTERNAL_URL": externalURL}))
	a, b := startAPI(t, env), startAPI(t, env)

	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(key, nil)
	require.NoError(t, err)
	token := idp.Mint(map[string]any{"sub": "u1", "sid": "s1", "cnf": map[string]any{"jkt": prover.Thumbprint()}})
	proof, err := prover.Proof(http.MethodGet, externalURL+"/api/private", token, "")
	require.NoError(t, err)
	dpopGet := func(srv *httptest.Server) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/private", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, dpopGet(a))
	assert.Equal(t, http.StatusUnauthorized, dpopGet(b), "the proof a accepted is a replay on b")

	bearerToken := idp.Mint(map[string]any{"sub": "u2", "sid": "s2"})
	require.Equal(t, http.StatusOK, get(t, b, http.MethodGet, "/api/private", bearer(bearerToken)).status)
	cfg, err := loadConfig(envMap(env))
	require.NoError(t, err)
	defer cfg.redis.Close()
	require.NoError(t, cfg.auth.Revocations.(*jwtauthredis.Denylist).RevokeSession(t.Context(), idp.Issuer(), "s2", time.Now().Add(time.Hour)))
	assert.Equal(t, http.StatusUnauthorized, get(t, a, http.MethodGet, "/api/private", bearer(bearerToken)).status, "revoked on every replica")
	assert.Equal(t, http.StatusUnauthorized, get(t, b, http.MethodGet, "/api/private", bearer(bearerToken)).status)
}

func TestRedis_DownRefusesWith503AndRecovers(t *testing.T) {
	srv := testsvc.StartRedis(t)
	idp := jwtauthtest.NewIdP(t)
	api := startAPI(t, redisEnv(t, idpEnv(idp), srv.URL))
	token := bearer(idp.Mint(map[string]any{"sub": "u1"}))
	require.Equal(t, http.StatusOK, get(t, api, http.MethodGet, "/api/private", token).status)

	srv.Stop()
	r := get(t, api, http.MethodGet, "/api/private", token)
	assert.Equal(t, http.StatusServiceUnavailable, r.status, "fail closed: the revocation status is unknown")
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Equal(t, "temporarily_unavailable", r.body["error"])
	assert.Equal(t, http.StatusOK, get(t, api, http.MethodGet, "/api/public", "").status, "public routes need no Redis")

	srv.Start() // the same process and client: no restart
	require.Eventually(t, func() bool {
		return get(t, api, http.MethodGet, "/api/private", token).status == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
}

func TestRedisLogger_WritesAtMostOneLinePerInterval(t *testing.T) {
	var buf bytes.Buffer
	l := &redisLogger{logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	for range 1000 {
		l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 2, "connection refused")
	}
	assert.Equal(t, 1, strings.Count(buf.String(), "\n"), buf.String())
	assert.Contains(t, buf.String(), `"level":"WARN"`)
	assert.Contains(t, buf.String(), "failed to dial after 2 attempts: connection refused")
	l.last = l.last.Add(-redisLogEvery)
	l.Printf(context.Background(), "again")
	assert.Contains(t, buf.String(), `"suppressed":999`)
}
