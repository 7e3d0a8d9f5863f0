package jwtauth

import (
	"fmt"
	"strings"
	"unicode"
)

// Auth0 is the preset for an Auth0 tenant: issuer "https://DOMAIN/", keys from
// "https://DOMAIN/.well-known/jwks.json", RS256. domain is the tenant domain as shown in the Auth0 dashboard
// (dev-abc.us.auth0.com, or a custom domain); audiences are API identifiers.
func Auth0(domain string, audiences ...string) TrustedIssuer {
	d := strings.TrimSuffix(strings.TrimPrefix(domain, "https://"), "/")
	ti := TrustedIssuer{
		Issuer:     "https://" + d + "/",
		Audiences:  audiences,
		Algorithms: []string{"RS256"},
		Keys:       RemoteJWKS("https://" + d + "/.well-known/jwks.json"),
	}
	if d == "" || strings.ContainsFunc(d, func(r rune) bool { return strings.ContainsRune("/?#@", r) || unicode.IsSpace(r) }) {
		// No issuer: New names the entry by index rather than by a made-up "https:///".
		ti.Issuer = ""
		ti.Keys = errSource{fmt.Errorf("Auth0 domain %q is not a host name: use the tenant domain, e.g. dev-abc.us.auth0.com", domain)}
	}
	return ti
}

// OIDC is the preset for an OpenID Connect provider: keys through Discover(issuer), RS256 (the algorithm
// every OpenID provider supports; change Algorithms if yours signs access tokens with another).
func OIDC(issuer string, audiences ...string) TrustedIssuer {
	return TrustedIssuer{Issuer: issuer, Audiences: audiences, Algorithms: []string{"RS256"}, Keys: Discover(issuer)}
}
