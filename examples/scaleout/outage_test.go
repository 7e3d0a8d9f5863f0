package scaleout

import (
	"net/http"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Redis stopped while the servers run: what may be a replay or a revoked token is refused with 503 and
// Retry-After (fail closed), logins are not locked out by the rate limits (fail open, with a WARN); Redis back,
// everything works again without restarting any process, and a logout from before the outage still holds.
func TestRedisOutage_FailsClosedForReplayAndRevocation_OpenForLimits_Recovers(t *testing.T) {
	rds := testsvc.StartRedis(t)
	loginBin, apiBin := binaries(t)
	login := startProc(t, "login", loginBin, loginEnv(signingKey(t), sqlitePath(t), "REDIS_URL="+rds.URL)...)
	api := startProc(t, "api", apiBin, apiEnv(login.URL, "DPOP=allowed", "EXTERNAL_URL="+apiExternalURL, "REDIS_URL="+rds.URL)...)

	loggedOut := bearerLogin(t, login, "cid@example.com")
	r := call(http.MethodPost, login.URL+"/logout", nil, "Authorization: Bearer "+loggedOut)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r)
	bearer := bearerLogin(t, login, "cid@example.com")
	prover, bound := dpopLogin(t, login, "dee@example.com")
	private := func(auth string, proof ...string) reply {
		h := []string{"Authorization: " + auth}
		if len(proof) > 0 {
			h = append(h, "DPoP: "+proof[0])
		}
		return call(http.MethodGet, api.URL+"/api/private", nil, h...)
	}
	require.Equal(t, http.StatusOK, private("Bearer "+bearer).status)

	rds.Stop()

	t.Run("down: revocation check fails closed", func(t *testing.T) {
		r := private("Bearer " + bearer)
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	})
	t.Run("down: DPoP replay check fails closed", func(t *testing.T) {
		r := private("DPoP "+bound, dpopProof(t, prover, http.MethodGet, "/api/private", bound))
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r)
		assert.NotEmpty(t, r.header.Get("Retry-After"))

		proof, err := prover.Proof(http.MethodPost, issuer+"/login", "", "")
		require.NoError(t, err)
		r = call(http.MethodPost, login.URL+"/login", credentials("dee@example.com"), "DPoP: "+proof, forwardedFor(3))
		assert.Equal(t, http.StatusServiceUnavailable, r.status, "the login server's DPoP login: %s", r)
		assert.NotEmpty(t, r.header.Get("Retry-After"))
	})
	t.Run("down: a logout that cannot reach the API replicas says so", func(t *testing.T) {
		r := call(http.MethodPost, login.URL+"/login", credentials("cid@example.com"), forwardedFor(2))
		require.Equal(t, http.StatusOK, r.status, "%s", r)
		out := call(http.MethodPost, login.URL+"/logout", map[string]string{"refresh_token": r.field("refresh_token")},
			"Authorization: Bearer "+r.field("access_token"))
		assert.Equal(t, http.StatusServiceUnavailable, out.status, "%s", out)
		assert.Equal(t, "temporarily_unavailable", out.field("error"), "%s", out)
		// The session is ended on the login server all the same: its refresh token is dead.
		refresh := call(http.MethodPost, login.URL+"/token/refresh", "grant_type=refresh_token&refresh_token="+r.field("refresh_token"), forwardedFor(2))
		assert.Equal(t, http.StatusBadRequest, refresh.status, "%s", refresh)
	})
	t.Run("down: rate limits fail open with a WARN", func(t *testing.T) {
		r := call(http.MethodPost, login.URL+"/login", credentials("cid@example.com"), forwardedFor(1))
		assert.Equal(t, http.StatusOK, r.status, "%s", r)
		assert.True(t, login.logged(`"level":"WARN","msg":"Redis unreachable`), "the fail-open is logged: %s", login.tail(4<<10))
	})

	rds.Start()

	t.Run("back: everything works without a restart", func(t *testing.T) {
		assert.Eventually(t, func() bool { return private("Bearer "+bearer).status == http.StatusOK },
			10*time.Second, 100*time.Millisecond, "the bearer token verifies again")
		r := private("DPoP "+bound, dpopProof(t, prover, http.MethodGet, "/api/private", bound))
		assert.Equal(t, http.StatusOK, r.status, "%s", r)
		r = private("Bearer " + loggedOut)
		assert.Equal(t, http.StatusUnauthorized, r.status, "the logout from before the outage still holds: %s", r)
		_, again := dpopLogin(t, login, "dee@example.com")
		assert.NotEmpty(t, again)
	})
}
