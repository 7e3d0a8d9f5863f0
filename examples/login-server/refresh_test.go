package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pair is the token pair of a login or refresh.
type pair struct{ access, refresh string }

func (ts *testServer) loginPair(t testing.TB, email string) pair {
	t.Helper()
	res := ts.login(t, email, classicPassword)
	require.Equal(t, http.StatusOK, res.status, "login: %s", res.body)
	m := res.json(t)
	return pair{m["access_token"].(string), m["refresh_token"].(string)}
}

func (ts *testServer) refresh(t testing.TB, refreshToken string) response {
	t.Helper()
	return ts.postJSON(t, "/token/refresh", map[string]string{"refresh_token": refreshToken}, nil)
}

func (ts *testServer) refreshPair(t testing.TB, refreshToken string) pair {
	t.Helper()
	res := ts.refresh(t, refreshToken)
	require.Equal(t, http.StatusOK, res.status, "refresh: %s", res.body)
	m := res.json(t)
	return pair{m["access_token"].(string), m["refresh_token"].(string)}
}

func (ts *testServer) logout(t testing.TB, access string, body map[string]string) response {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + access}}
	if body == nil {
		return ts.do(t, "POST", "/logout", "", nil, h)
	}
	return ts.postJSON(t, "/logout", body, h)
}

func newSessionServer(t testing.TB, mutate func(*config)) *testServer {
	t.Helper()
	cfg := testConfig(t)
	if mutate != nil {
		mutate(&cfg)
	}
	ts := startServer(t, cfg)
	for _, e := range []string{"alice@example.com", "bob@example.com"} {
		require.Equal(t, http.StatusCreated, ts.register(t, e, classicPassword).status)
	}
	return ts
}

func TestLogin_ReturnsARefreshTokenStoredOnlyAsHash(t *testing.T) {
	ts := newSessionServer(t, nil)
	res := ts.login(t, "alice@example.com", classicPassword)
	require.Equal(t, http.StatusOK, res.status)
	m := res.json(t)
	rt, _ := m["refresh_token"].(string)
	assert.Len(t, rt, 43, "32 random bytes, base64url")
	assert.Equal(t, float64(defaultRefreshIdle/time.Second), m["refresh_expires_in"])
	assert.Equal(t, "bearer", m["token_type"])
	assert.NotEmpty(t, m["access_token"])

	var n int
	require.NoError(t, ts.app.store.db.QueryRow(`SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?`, hashRefreshToken(rt)).Scan(&n))
	assert.Equal(t, 1, n)
	require.NoError(t, ts.app.store.db.QueryRow(`SELECT COUNT(*) FROM refresh_tokens WHERE CAST(token_hash AS TEXT) LIKE ?`, "%"+rt+"%").Scan(&n))
	assert.Zero(t, n, "the token itself is stored nowhere")
}

func TestRefresh_RotatesAndTheNewPairWorks(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")

	next := ts.refreshPair(t, p.refresh)
	assert.NotEqual(t, p.refresh, next.refresh)
	assert.Equal(t, http.StatusOK, ts.get(t, "/users/me", next.access).status)
	assert.Equal(t, http.StatusOK, ts.get(t, "/users/me", p.access).status, "rotation is no revocation")

	// The form of RFC 6749 §6.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.refresh}}
	res := ts.do(t, "POST", "/token/refresh", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	assert.Equal(t, "no-store", res.header.Get("Cache-Control"))
	assert.NotEmpty(t, res.json(t)["refresh_token"])
}

func TestRefresh_ReplayAfterRotationRevokesTheFamily(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")
	other := ts.loginPair(t, "alice@example.com") // another session of the same user
	next := ts.refreshPair(t, p.refresh)

	// The stolen (or retried) first token comes back.
	body := assertError(t, ts.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
	assert.NotContains(t, body["error_description"], "used", "the answer does not say why")

	assertError(t, ts.refresh(t, next.refresh), http.StatusBadRequest, "invalid_grant")
	for _, access := range []string{p.access, next.access} {
		res := ts.get(t, "/users/me", access)
		assertError(t, res, http.StatusUnauthorized, "invalid_token")
		assert.Contains(t, res.header.Get("WWW-Authenticate"), `error_description="token revoked"`)
	}
	assert.Equal(t, http.StatusOK, ts.get(t, "/users/me", other.access).status, "another session is untouched")
	ts.refreshPair(t, other.refresh)

	logs := ts.logs.String()
	assert.Contains(t, logs, `"level":"WARN","msg":"refresh token reused: session revoked"`)
	for _, secret := range []string{p.refresh, next.refresh, p.access} {
		assert.NotContains(t, logs, secret, "tokens are never logged")
	}
}

func TestRefresh_Refusals(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")
	form := func(v url.Values) response {
		return ts.do(t, "POST", "/token/refresh", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()), nil)
	}
	assertError(t, ts.refresh(t, "no-such-token"), http.StatusBadRequest, "invalid_grant")
	assertError(t, ts.refresh(t, ""), http.StatusBadRequest, "invalid_request")
	assertError(t, form(url.Values{"refresh_token": {p.refresh}}), http.StatusBadRequest, "unsupported_grant_type")
	assertError(t, form(url.Values{"grant_type": {"password"}, "refresh_token": {p.refresh}}), http.StatusBadRequest, "unsupported_grant_type")
	assertError(t, ts.do(t, "POST", "/token/refresh", "text/plain", strings.NewReader(p.refresh), nil), http.StatusUnsupportedMediaType, "unsupported_media_type")
	assertError(t, ts.do(t, "GET", "/token/refresh", "", nil, nil), http.StatusMethodNotAllowed, "method_not_allowed")
	// An access token is no refresh token.
	assertError(t, ts.refresh(t, p.access), http.StatusBadRequest, "invalid_grant")
	ts.refreshPair(t, p.refresh) // none of the above spent it
}

func TestRefresh_IdleTimeoutAndAbsoluteLifetime(t *testing.T) {
	clock := newFakeClock()
	ts := newSessionServer(t, func(c *config) {
		c.Clock = clock.Now
		c.Refresh = refreshConfig{TTL: 10 * 24 * time.Hour, Idle: 3 * 24 * time.Hour}
	})
	idle := ts.loginPair(t, "alice@example.com")
	clock.Advance(3*24*time.Hour + time.Second)
	assertError(t, ts.refresh(t, idle.refresh), http.StatusBadRequest, "invalid_grant")

	p := ts.loginPair(t, "alice@example.com")
	for range 4 { // refreshed every 2 days: 8 days in
		clock.Advance(2 * 24 * time.Hour)
		p = ts.refreshPair(t, p.refresh)
	}
	res := ts.refresh(t, p.refresh)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, float64(2*24*3600), res.json(t)["refresh_expires_in"], "capped by the session's end")
	p.refresh = res.json(t)["refresh_token"].(string)
	clock.Advance(2*24*time.Hour + time.Second) // past the 10-day absolute lifetime
	assertError(t, ts.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
}

func TestLogout_RevokesTheSessionAtOnce(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")
	other := ts.loginPair(t, "alice@example.com")
	bob := ts.loginPair(t, "bob@example.com")

	// Alice sends Bob's refresh token along: it is not hers, so it is left alone.
	res := ts.logout(t, p.access, map[string]string{"refresh_token": bob.refresh})
	require.Equal(t, http.StatusNoContent, res.status, "%s", res.body)
	assert.Empty(t, res.body)

	res = ts.get(t, "/secret", p.access)
	assertError(t, res, http.StatusUnauthorized, "invalid_token")
	assert.Contains(t, res.header.Get("WWW-Authenticate"), `error_description="token revoked"`)
	assertError(t, ts.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
	assertError(t, ts.logout(t, p.access, nil), http.StatusUnauthorized, "invalid_token")

	assert.Equal(t, http.StatusOK, ts.get(t, "/secret", other.access).status, "her other session stays")
	assert.Equal(t, http.StatusOK, ts.get(t, "/secret", bob.access).status)
	ts.refreshPair(t, bob.refresh)

	// With her other refresh token in the body, both sessions end.
	third := ts.loginPair(t, "alice@example.com")
	require.Equal(t, http.StatusNoContent, ts.logout(t, third.access, map[string]string{"refresh_token": other.refresh}).status)
	assertError(t, ts.get(t, "/secret", other.access), http.StatusUnauthorized, "invalid_token")
	assertError(t, ts.refresh(t, other.refresh), http.StatusBadRequest, "invalid_grant")

	assertError(t, ts.do(t, "POST", "/logout", "", nil, nil), http.StatusUnauthorized, "unauthorized")
}

func TestLogout_SurvivesARestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Issuer = "http://login.test"
	ts := startServer(t, cfg)
	require.Equal(t, http.StatusCreated, ts.register(t, "alice@example.com", classicPassword).status)
	p := ts.loginPair(t, "alice@example.com")
	require.Equal(t, http.StatusNoContent, ts.logout(t, p.access, nil).status)
	ts.Close()

	ts2 := startServer(t, cfg)
	assertError(t, ts2.get(t, "/secret", p.access), http.StatusUnauthorized, "invalid_token")
	assertError(t, ts2.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
}

func TestRevocation_DeactivatedOrDeletedUsersTokensAreRefusedOnTheNextRequest(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")
	require.Equal(t, http.StatusOK, ts.get(t, "/secret", p.access).status)

	ts.setActive(t, "alice@example.com", false) // even written behind the server's back
	res := ts.get(t, "/secret", p.access)
	assertError(t, res, http.StatusUnauthorized, "invalid_token")
	assert.Contains(t, res.header.Get("WWW-Authenticate"), `error_description="token revoked"`)
	assertError(t, ts.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant")
	ts.setActive(t, "alice@example.com", true)
	assertError(t, ts.refresh(t, p.refresh), http.StatusBadRequest, "invalid_grant") // the refresh of an inactive user revoked the session

	b := ts.loginPair(t, "bob@example.com")
	_, err := ts.app.store.wdb.Exec(`DELETE FROM users WHERE email_lower = ?`, "bob@example.com")
	require.NoError(t, err)
	assertError(t, ts.get(t, "/secret", b.access), http.StatusUnauthorized, "invalid_token")
	assertError(t, ts.refresh(t, b.refresh), http.StatusBadRequest, "invalid_grant")
}

func TestRevocation_PasswordChangeEndsOtherSessionsOnly(t *testing.T) {
	ts := newSessionServer(t, nil)
	mine := ts.loginPair(t, "alice@example.com")
	other := ts.loginPair(t, "alice@example.com")
	res := ts.patchMe(t, mine.access, map[string]string{"password": newPassword, "current_password": classicPassword})
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)

	assert.Equal(t, http.StatusOK, ts.get(t, "/users/me", mine.access).status, "the caller's session stays")
	ts.refreshPair(t, mine.refresh)
	assertError(t, ts.get(t, "/users/me", other.access), http.StatusUnauthorized, "invalid_token")
	assertError(t, ts.refresh(t, other.refresh), http.StatusBadRequest, "invalid_grant")
}

func TestRevocation_StoreErrorFailsClosed(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := ts.loginPair(t, "alice@example.com")
	require.NoError(t, ts.app.store.db.Close()) // the read pool the revocation check uses
	res := ts.get(t, "/secret", p.access)
	assertError(t, res, http.StatusServiceUnavailable, "temporarily_unavailable")
	assert.NotEmpty(t, res.header.Get("Retry-After"))
}

func TestRefresh_IsRateLimitedPerIP(t *testing.T) {
	ts := newSessionServer(t, func(c *config) { c.Limits.RefreshIPPerMinute, c.Limits.RefreshIPBurst = 1, 3 })
	for range 3 {
		assertError(t, ts.refresh(t, "guess"), http.StatusBadRequest, "invalid_grant")
	}
	res := ts.refresh(t, "guess")
	assertError(t, res, http.StatusTooManyRequests, "too_many_requests")
	assert.NotEmpty(t, res.header.Get("Retry-After"))
}

func TestLoadConfig_RefreshLifetimes(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, errs := loadRefreshConfig(env(map[string]string{"REFRESH_TTL": "720h", "REFRESH_IDLE_TTL": "86400"}))
	require.Empty(t, errs)
	assert.Equal(t, 720*time.Hour, c.TTL)
	assert.Equal(t, 24*time.Hour, c.Idle)
	_, errs = loadRefreshConfig(env(map[string]string{"REFRESH_TTL": "forever", "REFRESH_IDLE_TTL": "10s"}))
	require.Len(t, errs, 2)
	assert.Contains(t, errs[0].Error(), "REFRESH_TTL")
	assert.Contains(t, errs[1].Error(), "REFRESH_IDLE_TTL")
	assert.Equal(t, refreshConfig{TTL: time.Hour, Idle: time.Hour}, refreshConfig{TTL: time.Hour, Idle: 7 * 24 * time.Hour}.withDefaults(), "idle never outlasts the session")
}
