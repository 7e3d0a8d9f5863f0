package jwtauth_test

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeySet_TokenWithoutKidNeedsExactlyOneFittingKey(t *testing.T) {
	one, two := testKey("ES256", 0), testKey("ES256", 1)
	clock := newClock()
	claims := mustJSON(map[string]any{"iss": testIssuer, "aud": "a", "exp": clock.Now().Add(time.Hour).Unix()})
	noKid := func(key crypto.Signer) string {
		return jwtauthtest.SignRaw("ES256", key, []byte(`{"alg":"ES256"}`), claims)
	}
	mk := func(jwks []byte) *jwtauth.Verifier {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{Clock: clock.Now, Issuers: []jwtauth.TrustedIssuer{{
			Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256", "RS256"}, Keys: jwtauth.LocalKeys(jwks),
		}}})
		require.NoError(t, err)
		return v
	}
	single := mk(jwksOf(map[string]string{"k1": "ES256", "r": "RS256"}, map[string]crypto.Signer{"k1": one, "r": testKey("RS256", 0)}))
	_, err := single.Verify(context.Background(), noKid(one))
	assert.NoError(t, err, "one EC P-256 key: a kid-less ES256 token may use it")

	double := mk(jwksOf(map[string]string{"k1": "ES256", "k2": "ES256"}, map[string]crypto.Signer{"k1": one, "k2": two}))
	_, err = double.Verify(context.Background(), noKid(one))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.ErrorContains(t, err, "no kid and 2 keys fit ES256")
}

func TestKeySet_DuplicateKidsAreNotUsed(t *testing.T) {
	a, b := testKey("ES256", 0), testKey("ES256", 1)
	set := []byte(`{"keys":[` + string(mustJSON(jwtauthtest.PublicJWK(a.Public(), "same", "ES256"))) + "," +
		string(mustJSON(jwtauthtest.PublicJWK(b.Public(), "same", "ES256"))) + "," +
		string(mustJSON(jwtauthtest.PublicJWK(testKey("ES256", 2).Public(), "other", "ES256"))) + `]}`)
	clock := newClock()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Clock: clock.Now, Issuers: []jwtauth.TrustedIssuer{{
		Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(set),
	}}})
	require.NoError(t, err)
	claims := mustJSON(map[string]any{"iss": testIssuer, "aud": "a", "exp": clock.Now().Add(time.Hour).Unix()})
	for _, k := range []crypto.Signer{a, b} {
		_, err := v.Verify(context.Background(), jwtauthtest.SignRaw("ES256", k, []byte(`{"alg":"ES256","kid":"same"}`), claims))
		assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	}
}
