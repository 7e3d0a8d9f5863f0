package jwtauthtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// segment decodes part i (0 header, 1 claims) of a token.
func segment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	return m
}

func newVerifier(t *testing.T, cfg jwtauth.Config) *jwtauth.Verifier {
	t.Helper()
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func TestWithIssuer_PathsAreServedForDiscovery(t *testing.T) {
	for _, path := range []string{"/", "/realms/main"} {
		t.Run(path, func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"), jwtauthtest.WithIssuer(path))
			assert.True(t, strings.HasSuffix(idp.Issuer(), path), idp.Issuer())
			tok := idp.Mint(nil)
			assert.Equal(t, idp.Issuer(), segment(t, tok, 1)["iss"])

			ti := jwtauth.OIDC(idp.Issuer(), idp.Audience())
			ti.Algorithms = []string{"ES256"}
			v := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
			_, err := v.Verify(context.Background(), tok)
			assert.NoError(t, err)
			assert.Equal(t, 1, idp.DiscoveryFetches())
			_, err = newVerifier(t, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()}}).Verify(context.Background(), tok)
			assert.NoError(t, err)
		})
	}
}

func TestWithIssuer_AbsoluteIssuerForProviderShapedTokens(t *testing.T) {
	const entra = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	idp := jwtauthtest.NewIdP(t,
		jwtauthtest.WithIssuer(entra),
		jwtauthtest.WithHeader(map[string]any{"x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg", "typ": nil}),
		jwtauthtest.WithClaims(map[string]any{"tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "scp": "access_as_user", "ver": "2.0"}),
	)
	assert.Equal(t, entra, idp.Issuer())
	tok := idp.Mint(map[string]any{"sub": "user-1"})
	h, c := segment(t, tok, 0), segment(t, tok, 1)
	assert.Equal(t, "nOo3ZDrODXEK1jKWhXslHR_KXEg", h["x5t"])
	assert.NotContains(t, h, "typ", "a nil header member is left out")
	assert.Equal(t, map[string]any{"iss": entra, "aud": idp.Audience(), "iat": c["iat"], "exp": c["exp"], "sub": "user-1",
		"tid": "9188040d-6c67-4c5b-b112-36a304b66dad", "scp": "access_as_user", "ver": "2.0"}, c)
	claims, err := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()}}).Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, entra, claims.Issuer)
	assert.Equal(t, []string{"access_as_user"}, claims.Scopes)
}

func TestWithClaims_NilLeavesAClaimOutAndMintStillWins(t *testing.T) {
	// A Cognito access token has no aud; client_id and token_use say what it is for.
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithClaims(map[string]any{"aud": nil, "token_use": "access", "client_id": "app-1"}),
		jwtauthtest.WithHeader(map[string]any{"typ": "at+jwt"}))
	c := segment(t, idp.Mint(map[string]any{"client_id": "app-2"}), 1)
	assert.NotContains(t, c, "aud")
	assert.Equal(t, "access", c["token_use"])
	assert.Equal(t, "app-2", c["client_id"], "Mint's claims override WithClaims")
	assert.Equal(t, "at+jwt", segment(t, idp.Mint(nil), 0)["typ"], "WithHeader overrides Mint's default typ")
	assert.Equal(t, "JWT", segment(t, idp.Sign(map[string]any{"typ": "JWT"}, map[string]any{}), 0)["typ"], "Sign's header wins")
}

func TestWithTLS_ServesHTTPSToItsOwnClient(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"), jwtauthtest.WithTLS(), jwtauthtest.WithIssuer("/"))
	require.True(t, strings.HasPrefix(idp.Issuer(), "https://127.0.0.1:"), idp.Issuer())
	tok := idp.Mint(nil)
	ti := jwtauth.OIDC(idp.Issuer(), idp.Audience())
	ti.Algorithms = []string{"ES256"}
	for name, ti := range map[string]jwtauth.TrustedIssuer{"RemoteJWKS": idp.TrustedIssuer(), "Discover": ti} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, JWKS: jwtauth.JWKSOptions{HTTPClient: idp.Client()}})
			_, err := v.Verify(context.Background(), tok)
			assert.NoError(t, err)

			// Without the trusting client, the certificate is unknown: the keys never load.
			v = newVerifier(t, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
			assert.ErrorContains(t, v.Ready(), "certificate")
		})
	}
}
