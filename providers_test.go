package jwtauth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
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
