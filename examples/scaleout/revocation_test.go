package scaleout

import (
	"net/http"
	"testing"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A logout on the login server reaches the API replicas sharing its Redis denylist at once: the access token
// that worked a moment before is refused by each, with no wait for its exp.
func TestLogout_AccessTokenFailsAtOnceOnAPIReplicas(t *testing.T) {
	redisURL := testsvc.RedisURL(t)
	loginBin, apiBin := binaries(t)
	prefix := testsvc.RedisPrefix(t)
	login := startProc(t, "login", loginBin, loginEnv(signingKey(t), sqlitePath(t), "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix)...)
	apis := startReplicas(t, 2, "api", apiBin, apiEnv(login.URL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix)...)

	token := bearerLogin(t, login, "bob@example.com")
	for _, api := range apis {
		r := call(http.MethodGet, api.URL+"/api/private", nil, "Authorization: Bearer "+token)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", api.name, r)
	}
	out := call(http.MethodPost, login.URL+"/logout", nil, "Authorization: Bearer "+token)
	require.Equal(t, http.StatusNoContent, out.status, "%s", out)
	for _, api := range apis {
		r := call(http.MethodGet, api.URL+"/api/private", nil, "Authorization: Bearer "+token)
		assert.Equal(t, http.StatusUnauthorized, r.status, "%s: %s", api.name, r)
		assert.Contains(t, challenges(r), `error_description="token revoked"`, api.name)
	}
	// Another session of the same user is not affected.
	other := bearerLogin(t, login, "bob@example.com")
	r := call(http.MethodGet, apis[0].URL+"/api/private", nil, "Authorization: Bearer "+other)
	assert.Equal(t, http.StatusOK, r.status, "%s", r)
}
