package scaleout

import (
	"net/http"
	"testing"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiExternalURL is the public URL of the API replicas, as clients (and DPoP proofs) name it.
const apiExternalURL = "http://api.test"

// Two auth0-api replicas sharing one Redis replay store: a DPoP proof accepted by one is refused by the other.
func TestDPoPReplay_ProofAcceptedByOneReplicaIsRefusedByTheOther(t *testing.T) {
	redisURL := testsvc.RedisURL(t)
	loginBin, apiBin := binaries(t)
	prefix := testsvc.RedisPrefix(t)
	login := startProc(t, "login", loginBin, loginEnv(signingKey(t), sqlitePath(t), "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix)...)
	apis := startReplicas(t, 2, "api", apiBin, apiEnv(login.URL, "DPOP=allowed", "EXTERNAL_URL="+apiExternalURL,
		"REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix)...)

	prover, token := dpopLogin(t, login, "ann@example.com")
	proof := dpopProof(t, prover, http.MethodGet, "/api/private", token)
	first := call(http.MethodGet, apis[0].URL+"/api/private", nil, "Authorization: DPoP "+token, "DPoP: "+proof)
	require.Equal(t, http.StatusOK, first.status, "%s", first)

	replayed := call(http.MethodGet, apis[1].URL+"/api/private", nil, "Authorization: DPoP "+token, "DPoP: "+proof)
	assert.Equal(t, http.StatusUnauthorized, replayed.status, "%s", replayed)
	assert.Contains(t, challenges(replayed), `error="invalid_dpop_proof", error_description="DPoP proof replayed"`)

	fresh := call(http.MethodGet, apis[1].URL+"/api/private", nil, "Authorization: DPoP "+token, "DPoP: "+dpopProof(t, prover, http.MethodGet, "/api/private", token))
	assert.Equal(t, http.StatusOK, fresh.status, "a new proof is accepted there: %s", fresh)
}
