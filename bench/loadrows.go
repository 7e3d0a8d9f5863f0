package bench

// The rows and tokens of the real-server load benchmark (load/, load/README in README.md).

import (
	"crypto"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jwtauth-go/jwtauth"
)

// LoadRows returns the rows of the load benchmark in table order.
func LoadRows() []string {
	return []string{"no-auth", "jwtauth-nocache", "jwtauth", "auth0-v2", "auth0-v3", "go-chi-jwtauth", "keyfunc"}
}

// LoadHandler builds the load benchmark's row name for alg (ES256 or RS256), protecting the suite's handler.
// The jwtauth rows fetch their keys from jwksURL (RemoteJWKS, default JWKSOptions), "jwtauth" with every
// setting at its default (the cache on), "jwtauth-nocache" with CacheBytes: jwtauth.CacheOff. The peers are
// the go test suite's constructors, with the fixed key given locally: they do no key lookup at all, which if
// anything favours them.
func LoadHandler(t T, name, alg, jwksURL string) (http.Handler, error) {
	mk, ok := fixtures[alg]
	if !ok {
		return nil, fmt.Errorf("unknown algorithm %q: use ES256 or RS256", alg)
	}
	f := mk()
	switch name {
	case "no-auth":
		return okHandler, nil
	case "jwtauth":
		return newJWTAuthKeys(t, f, jwtauth.RemoteJWKS(jwksURL), 0).RequireAuth(okHandler), nil
	case "jwtauth-nocache":
		return newJWTAuthKeys(t, f, jwtauth.RemoteJWKS(jwksURL), jwtauth.CacheOff).RequireAuth(okHandler), nil
	case "auth0-v2":
		return auth0V2(t, f, false), nil
	case "auth0-v3":
		return auth0V3(t, f, false), nil
	case "go-chi-jwtauth":
		return goChi(t, f, false), nil
	case "keyfunc":
		return keyfuncHandler(t, f), nil
	}
	return nil, fmt.Errorf("unknown row %q: use one of %v", name, LoadRows())
}

// LoadKey returns the suite's fixed test key for alg and its kid.
func LoadKey(alg string) (crypto.Signer, string) { return fixtures[alg]().signer, keyID }

// LoadTokens returns k distinct valid tokens for every row (sub user-0 … user-k-1), signed by signer with kid.
func LoadTokens(alg string, signer crypto.Signer, kid string, k int) []string {
	f := fixtures[alg]()
	tokens := make([]string, k)
	for i := range tokens {
		tokens[i] = f.mintKid(signer, kid, map[string]any{"sub": "user-" + strconv.Itoa(i)})
	}
	return tokens
}

// Tamper returns token with one signature character changed: a token every row must refuse.
func Tamper(token string) string { return tamper(token) }
