package jwtauth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuth0_PresetDerivesIssuerAndKeySet(t *testing.T) {
	ti := jwtauth.Auth0("dev-abc.us.auth0.com", "https://api.example.com")
	assert.Equal(t, "https://dev-abc.us.auth0.com/", ti.Issuer)
	assert.Equal(t, []string{"https://api.example.com"}, ti.Audiences)
	assert.Equal(t, []string{"RS256"}, ti.Algorithms)
	assert.Equal(t, "RemoteJWKS(https://dev-abc.us.auth0.com/.well-known/jwks.json)", fmt.Sprint(ti.Keys))
	assert.Equal(t, jwtauth.Auth0("https://dev-abc.us.auth0.com/", "x").Issuer, ti.Issuer, "a pasted URL is forgiven")
	assert.Equal(t, "Discover(https://a.example)", fmt.Sprint(jwtauth.OIDC("https://a.example", "x").Keys))
	assert.Equal(t, "PublicKeys(1 keys)", fmt.Sprint(jwtauth.PublicKeys(testKey("ES256", 0).Public())))

	for _, bad := range []string{"", "dev/abc", "a b"} {
		_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{jwtauth.Auth0(bad, "api")}})
		assert.ErrorContains(t, err, "Auth0 domain")
	}
}

func TestPresets_ReportBadInputInTheirOwnTerms(t *testing.T) {
	cases := []struct {
		name    string
		ti      jwtauth.TrustedIssuer
		want    string
		unwants []string
	}{
		{"Auth0 with an empty domain", jwtauth.Auth0("", "api"),
			`jwtauth: Config.Issuers[0]: Auth0 domain "" is not a host name: use the tenant domain, e.g. dev-abc.us.auth0.com`,
			[]string{"https:///", "Issuer is empty"}},
		{"Auth0 with a newline", jwtauth.Auth0("dev-abc.us.auth0.com\n", "api"), `Auth0 domain "dev-abc.us.auth0.com\n" is not a host name`, nil},
		{"OIDC with an empty issuer", jwtauth.OIDC("", "api"), "Discover: the issuer URL is empty", []string{"RemoteJWKS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{tc.ti}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for _, u := range tc.unwants {
				assert.NotContains(t, err.Error(), u)
			}
		})
	}
}
