package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	jwtauthredis "github.com/jwtauth-go/jwtauth/redis"
)

// redisConfigFor is a redisConfig on url with a key prefix of this test alone.
func redisConfigFor(t testing.TB, url string) redisConfig {
	return redisConfig{URL: url, Prefix: testsvc.RedisPrefix(t)}
}

// redisPair starts two login servers, each with its own database, sharing one Redis and prefix: two replicas
// as far as shared state goes. They have the same issuer, as replicas behind one URL do.
func redisPair(t *testing.T, mutate func(*config)) (*testServer, *testServer, redisConfig) {
	t.Helper()
	rc := redisConfigFor(t, testsvc.RedisURL(t))
	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	var ts [2]*testServer
	for i := range ts {
		cfg := testConfig(t)
		cfg.Keys = []*jwtauth.SigningKey{key}
		cfg.Issuer = "https://login.example.test"
		cfg.Redis = rc
		if mutate != nil {
			mutate(&cfg)
		}
		ts[i] = startServer(t, cfg)
	}
	return ts[0], ts[1], rc
}

func TestRedis_LoginLimitsAreSharedByReplicas(t *testing.T) {
	a, b, _ := redisPair(t, nil)
	for i := range 30 {
		ts := []*testServer{a, b}[i%2]
		require.Equal(t, http.StatusBadRequest, ts.badLogin(t, "").status, "attempt %d", i+1)
	}
	assertTooMany(t, a.badLogin(t, ""))
	assertTooMany(t, b.badLogin(t, ""))

	// The per-email failure lockout: 5 failures in total, whichever replica saw them.
	a, b, _ = redisPair(t, func(c *config) { c.Limits.IPBurst, c.Limits.IPPerMinute = 1000, 1000 })
	for i := range 5 {
		ts := []*testServer{a, b}[i%2]
		assertError(t, ts.login(t, "ivy@example.com", "Wrong_pass1!"), http.StatusUnauthorized, "invalid_credentials")
	}
	for _, ts := range []*testServer{a, b} {
		secs := assertTooMany(t, ts.login(t, "IVY@example.com", "Wrong_pass1!"))
		assert.InDelta(t, 15*60, secs, 5, "the window opens when the first failure is 15 minutes old")
	}
}

// Concurrent guesses on both replicas never get more than EmailFailures through: attempts in flight count.
func TestRedis_EmailLockoutHoldsUnderConcurrentGuesses(t *testing.T) {
	a, b, _ := redisPair(t, func(c *config) { c.Limits.IPBurst, c.Limits.IPPerMinute = 1000, 1000 })
	const n = 20
	codes := make(chan int, n)
	for i := range n {
		ts := []*testServer{a, b}[i%2]
		go func() { codes <- ts.login(t, "jay@example.com", "Wrong_pass1!").status }()
	}
	got := map[int]int{}
	for range n {
		got[<-codes]++
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusTooManyRequests: n - 5}, got)
}

func TestRedis_RegisterLimitsAreSharedByReplicas(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		a, b, _ := redisPair(t, func(c *config) { c.Limits.RegisterIPBurst, c.Limits.RegisterIPPerHour = 3, 3 })
		for i := range 3 {
			ts := []*testServer{a, b}[i%2]
			require.Equal(t, http.StatusCreated, ts.register(t, fmt.Sprintf("u%d@example.com", i), classicPassword).status)
		}
		assertTooMany(t, a.register(t, "u9@example.com", classicPassword))
		assertTooMany(t, b.register(t, "u9@example.com", classicPassword))
	})
	t.Run("global", func(t *testing.T) {
		a, b, _ := redisPair(t, func(c *config) { c.Limits.RegisterBurst, c.Limits.RegisterPerMinute = 2, 2 })
		require.Equal(t, http.StatusCreated, a.register(t, "v1@example.com", classicPassword).status)
		require.Equal(t, http.StatusCreated, b.register(t, "v2@example.com", classicPassword).status)
		assertTooMany(t, a.register(t, "v3@example.com", classicPassword))
		assert.Contains(t, a.logs.String(), `"limit":"global"`)
	})
}

func TestRedis_DPoPProofAcceptedByOneReplicaIsRefusedByTheOther(t *testing.T) {
	a, b, _ := redisPair(t, nil)
	for _, ts := range []*testServer{a, b} {
		require.Equal(t, http.StatusCreated, ts.register(t, "kim@example.com", classicPassword).status)
	}
	p := newProver(t)
	proof := a.proof(t, p, "POST", "/login", "")
	res := a.loginDPoP(t, "kim@example.com", proof)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assertError(t, b.loginDPoP(t, "kim@example.com", proof), http.StatusBadRequest, "invalid_dpop_proof")
	require.Equal(t, http.StatusOK, b.loginDPoP(t, "kim@example.com", b.proof(t, p, "POST", "/login", "")).status,
		"a fresh proof is fine")
}

// apiVerifier is an API replica: it trusts the login server through its JWKS and checks the Redis denylist.
func apiVerifier(t *testing.T, ts *testServer, rc redisConfig) *jwtauth.Verifier {
	t.Helper()
	c, err := jwtauthredis.Open(rc.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     ts.cfg.Issuer,
			Audiences:  []string{ts.cfg.Audience},
			Algorithms: []string{"ES256"},
			Keys:       jwtauth.RemoteJWKS(ts.URL + "/.well-known/jwks.json"),
		}},
		Revocations: jwtauthredis.NewDenylist(c, rc.Prefix),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	require.NoError(t, v.Ready())
	return v
}

func TestRedis_RevocationsReachAPIReplicas(t *testing.T) {
	a, _, rc := redisPair(t, nil)
	for _, e := range []string{"alice@example.com", "bob@example.com", "root@example.com"} {
		require.Equal(t, http.StatusCreated, a.register(t, e, classicPassword).status)
	}
	api := apiVerifier(t, a, rc)
	ctx := context.Background()
	accepted := func(tok string) bool {
		_, err := api.Verify(ctx, tok)
		if err != nil {
			assert.ErrorIs(t, err, jwtauth.ErrTokenRevoked)
		}
		return err == nil
	}

	t.Run("logout", func(t *testing.T) {
		p := a.loginPair(t, "alice@example.com")
		other := a.loginPair(t, "alice@example.com")
		require.True(t, accepted(p.access))
		require.Equal(t, http.StatusNoContent, a.logout(t, p.access, nil).status)
		assert.False(t, accepted(p.access), "refused by the API at once")
		assert.True(t, accepted(other.access), "another session of the same user is not logged out")
	})
	t.Run("password change keeps the caller's session", func(t *testing.T) {
		mine := a.loginPair(t, "bob@example.com")
		other := a.loginPair(t, "bob@example.com")
		res := a.patchMe(t, mine.access, map[string]string{"password": newPassword, "current_password": classicPassword})
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		assert.True(t, accepted(mine.access), "the caller's session stays")
		assert.False(t, accepted(other.access))
	})
	t.Run("reuse of a refresh token", func(t *testing.T) {
		p := a.loginPair(t, "alice@example.com")
		next := a.refreshPair(t, p.refresh)
		require.True(t, accepted(next.access))
		assertError(t, a.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
		assert.False(t, accepted(next.access), "the whole session is revoked")
	})
	t.Run("admin deactivation", func(t *testing.T) {
		_, err := a.app.store.wdb.Exec(`UPDATE users SET is_superuser = 1 WHERE email_lower = ?`, "root@example.com")
		require.NoError(t, err)
		admin := a.tokenOf(t, "root@example.com", classicPassword)
		victim := a.loginPair(t, "alice@example.com")
		require.True(t, accepted(victim.access))
		id := a.get(t, "/users/me", victim.access).json(t)["id"].(string)
		res := a.patchUser(t, admin, id, `{"is_active": false}`)
		require.Equal(t, http.StatusOK, res.status, "%s", res.body)
		assert.False(t, accepted(victim.access), "every token of the user")
		assert.True(t, accepted(admin))
	})
}

// Redis stopped mid-test, then started again: rate limits fail open with one WARN, DPoP logins and logouts
// answer 503, and everything works again once it is back, without a restart.
func TestRedis_OutageFailsAsDocumentedAndRecovers(t *testing.T) {
	r := testsvc.StartRedis(t)
	cfg := testConfig(t)
	cfg.Issuer = "https://login.example.test"
	cfg.Redis = redisConfig{URL: r.URL, Prefix: "outage:"}
	ts := startServer(t, cfg)
	require.Equal(t, http.StatusCreated, ts.register(t, "lee@example.com", classicPassword).status)
	before := ts.loginPair(t, "lee@example.com")
	p := newProver(t)
	require.Equal(t, http.StatusOK, ts.loginDPoP(t, "lee@example.com", ts.proof(t, p, "POST", "/login", "")).status)

	r.Stop()
	// Rate limits fail open: more attempts than the limit, none refused, one WARN for them all.
	for i := range 35 {
		require.Equal(t, http.StatusBadRequest, ts.badLogin(t, "").status, "attempt %d", i+1)
	}
	assert.Equal(t, http.StatusOK, ts.login(t, "lee@example.com", classicPassword).status, "logins go on")
	assert.Equal(t, 1, strings.Count(ts.logs.String(), "Redis unreachable: rate limits are not enforced (fail open)"),
		"one line per interval, not per request")

	// The DPoP replay check fails closed.
	res := ts.loginDPoP(t, "lee@example.com", ts.proof(t, p, "POST", "/login", ""))
	assertError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable")
	assert.NotEmpty(t, res.header.Get("Retry-After"))

	// A logout that cannot reach the denylist is not a success, but the session is ended here.
	res = ts.logout(t, before.access, nil)
	m := assertError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable")
	assert.Contains(t, m["error_description"], "the API servers could not be told")
	assertError(t, ts.get(t, "/users/me", before.access), http.StatusUnauthorized, "invalid_token")
	assertError(t, ts.refresh(t, before.refresh), http.StatusBadRequest, "invalid_grant")

	// So is a password change: committed, other sessions ended here, but the answer says the APIs were not told.
	require.Equal(t, http.StatusCreated, ts.register(t, "mo@example.com", classicPassword).status)
	mine, other := ts.loginPair(t, "mo@example.com"), ts.loginPair(t, "mo@example.com")
	res = ts.patchMe(t, mine.access, map[string]string{"password": newPassword, "current_password": classicPassword})
	m = assertError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable")
	assert.Contains(t, m["error_description"], "the account is updated, and the sessions are ended on the login server, but the API servers could not be told")
	assertError(t, ts.get(t, "/users/me", other.access), http.StatusUnauthorized, "invalid_token")
	assert.Equal(t, http.StatusOK, ts.login(t, "mo@example.com", newPassword).status, "the new password is in place")

	r.Start()
	require.Eventually(t, func() bool {
		return ts.loginDPoP(t, "lee@example.com", ts.proof(t, p, "POST", "/login", "")).status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond, "DPoP logins work again without a restart")
	after := ts.loginPair(t, "lee@example.com")
	assert.Equal(t, http.StatusNoContent, ts.logout(t, after.access, nil).status)
	for i := range 40 {
		if ts.badLogin(t, "").status == http.StatusTooManyRequests {
			assert.Greater(t, i, 0)
			assert.Contains(t, ts.logs.String(), "Redis reachable again: rate limits are enforced")
			return
		}
	}
	t.Fatal("the login limit is enforced again once Redis is back")
}

func TestLoadConfig_Redis(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(env(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_PREFIX": "app1:"}))
	require.NoError(t, err)
	assert.Equal(t, redisConfig{URL: "redis://127.0.0.1:6379/0", Prefix: "app1:"}, cfg.Redis)

	cfg, err = loadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, redisConfig{}, cfg.Redis, "no Redis by default: state in process")

	_, err = loadConfig(env(map[string]string{"REDIS_URL": "http://user:s3cret@host/"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDIS_URL is not a Redis URL: use redis://")
	assert.NotContains(t, err.Error(), "s3cret", "the URL may hold a password")

	_, err = loadConfig(env(map[string]string{"REDIS_PREFIX": "app1:"}))
	assert.ErrorContains(t, err, "REDIS_PREFIX is set but REDIS_URL is not")
}
