package jwtauthtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// A Keycloak-shaped IdP over https: the realm path is part of the issuer, discovery is served under it, and
// the verifier trusts the IdP's certificate through its client.
func ExampleWithIssuer() {
	t := &testing.T{} // in a test, the *testing.T it is given
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"), jwtauthtest.WithTLS(),
		jwtauthtest.WithIssuer("/realms/main"),
		jwtauthtest.WithHeader(map[string]any{"typ": "at+jwt"}),
		jwtauthtest.WithClaims(map[string]any{"azp": "orders-web", "realm_access": map[string]any{"roles": []string{"admin"}}}))
	defer idp.Close()

	ti := jwtauth.OIDC(idp.Issuer(), idp.Audience())
	ti.Algorithms = []string{"ES256"}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{ti},
		JWKS:    jwtauth.JWKSOptions{HTTPClient: idp.Client()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	claims, err := v.Verify(context.Background(), idp.Mint(map[string]any{"sub": "user-1"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(claims.Subject, claims.Issuer == idp.Issuer())
	// Output: user-1 true
}
