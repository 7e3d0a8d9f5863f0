package jwtauthredis

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpen_SetsTimeoutsTheURLLeavesOut(t *testing.T) {
	c, err := Open("redis://127.0.0.1:1/0")
	require.NoError(t, err)
	defer c.Close()
	o := c.Options()
	assert.Equal(t, DefaultDialTimeout, o.DialTimeout)
	assert.Equal(t, DefaultReadTimeout, o.ReadTimeout)
	assert.Equal(t, DefaultWriteTimeout, o.WriteTimeout)
	assert.Equal(t, DefaultPoolTimeout, o.PoolTimeout)
	assert.True(t, o.ContextTimeoutEnabled)

	c2, err := Open("redis://127.0.0.1:1/0?dial_timeout=7s&read_timeout=3s")
	require.NoError(t, err)
	defer c2.Close()
	assert.Equal(t, 7*time.Second, c2.Options().DialTimeout, "the URL's own")
	assert.Equal(t, 3*time.Second, c2.Options().ReadTimeout)
}

func TestOpen_RefusesBadURLsWithoutEchoingThePassword(t *testing.T) {
	for _, u := range []string{"http://user:s3cret-pw@host:6379", "redis://user:s3cret-pw@host:notaport/0", "redis://:s3cret-pw@host:6379/x"} {
		_, err := Open(u)
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "use redis://")
		assert.NotContains(t, err.Error(), "s3cret-pw")
	}
	_, err := Open("redis://127.0.0.1:6379/0?read_timeout=-1")
	assert.ErrorContains(t, err, "no timeout")
}

// outageRig is a Verifier whose replay store and denylist are on a private Redis that the test stops and
// starts, behind RequireAuth.
type outageRig struct {
	srv     *privateRedis
	handler http.Handler
	issuer  *jwtauth.Issuer
	prover  *jwtauth.DPoPProver
	deny    *Denylist
}

const apiURL = "https://api.example.test"

func newOutageRig(t *testing.T) *outageRig {
	srv := startPrivateRedis(t)
	c, err := Open(srv.URL())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: "https://login.example.test", Audience: []string{apiURL}, Keys: []*jwtauth.SigningKey{key}})
	require.NoError(t, err)
	proofKey, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(proofKey, nil)
	require.NoError(t, err)
	ti := issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPOptional
	deny := NewDenylist(c, "")
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers:     []jwtauth.TrustedIssuer{ti},
		DPoP:        jwtauth.DPoPOptions{ExternalURL: apiURL, Replay: NewReplayStore(c, "")},
		Revocations: deny,
	})
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return &outageRig{srv: srv, handler: v.RequireAuth(ok), issuer: issuer, prover: prover, deny: deny}
}

// bearer sends a bearer token (the denylist is asked); dpop a DPoP-bound token with a fresh proof (the
// replay store is asked too).
func (r *outageRig) bearer(t *testing.T) *httptest.ResponseRecorder {
	tok, err := r.issuer.Issue("u1", map[string]any{"sid": "s1"})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, apiURL+"/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec
}

func (r *outageRig) dpop(t *testing.T) *httptest.ResponseRecorder {
	tok, err := r.issuer.IssueDPoP("u1", r.prover.Thumbprint(), nil)
	require.NoError(t, err)
	proof, err := r.prover.Proof(http.MethodGet, apiURL+"/x", tok, "")
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, apiURL+"/x", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proof)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec
}

func TestOutage_ReplayAndRevocationFailClosedAndRecover(t *testing.T) {
	r := newOutageRig(t)
	require.Equal(t, http.StatusNoContent, r.bearer(t).Code)
	require.Equal(t, http.StatusNoContent, r.dpop(t).Code)

	r.srv.Stop()
	for name, send := range map[string]func(*testing.T) *httptest.ResponseRecorder{"denylist": r.bearer, "replay store": r.dpop} {
		start := time.Now()
		rec := send(t)
		t.Logf("%s: refused in %v", name, time.Since(start))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, name)
		assert.NotEmpty(t, rec.Header().Get("Retry-After"), name)
		assert.Contains(t, rec.Body.String(), `"error":"temporarily_unavailable"`, name)
	}
	ctx := context.Background()
	_, err := r.deny.Revoked(ctx, &jwtauth.Claims{Issuer: "i", Subject: "s"})
	assert.ErrorContains(t, err, "jwtauthredis: denylist")
	assert.Error(t, r.deny.RevokeSession(ctx, "i", "s1", time.Now().Add(time.Hour)), "a revocation that was not stored is an error")

	r.srv.Start() // same client, no restart of the Verifier
	require.Eventually(t, func() bool { return r.bearer(t).Code == http.StatusNoContent }, 10*time.Second, 50*time.Millisecond)
	assert.Equal(t, http.StatusNoContent, r.dpop(t).Code)
	require.NoError(t, r.deny.RevokeSession(ctx, "https://login.example.test", "s1", time.Now().Add(time.Hour)))
	assert.Equal(t, http.StatusUnauthorized, r.bearer(t).Code, "revocations work again")
}
