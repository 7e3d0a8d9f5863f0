// Before: an Auth0 API protected with auth0/go-jwt-middleware v2.3.1, as in Auth0's Go API quickstart.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
)

// CustomClaims carries the scope claim.
type CustomClaims struct {
	Scope string `json:"scope"`
}

// Validate does nothing; v2 requires it.
func (c CustomClaims) Validate(context.Context) error { return nil }

// HasScope reports whether the space-delimited scope contains expected.
func (c CustomClaims) HasScope(expected string) bool {
	for _, s := range strings.Split(c.Scope, " ") {
		if s == expected {
			return true
		}
	}
	return false
}

func main() {
	issuerURL, err := url.Parse("https://" + os.Getenv("AUTH0_DOMAIN") + "/")
	if err != nil {
		log.Fatal(err)
	}
	provider := jwks.NewCachingProvider(issuerURL, 5*time.Minute)
	jwtValidator, err := validator.New(provider.KeyFunc, validator.RS256, issuerURL.String(),
		[]string{os.Getenv("AUTH0_AUDIENCE")},
		validator.WithCustomClaims(func() validator.CustomClaims { return &CustomClaims{} }),
		validator.WithAllowedClockSkew(time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	middleware := jwtmiddleware.New(jwtValidator.ValidateToken)

	http.Handle("GET /api/private", middleware.CheckJWT(http.HandlerFunc(private)))
	http.Handle("GET /api/private-scoped", middleware.CheckJWT(http.HandlerFunc(scoped)))
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func private(w http.ResponseWriter, r *http.Request) {
	claims := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
	fmt.Fprintf(w, "hello %s\n", claims.RegisteredClaims.Subject)
}

func scoped(w http.ResponseWriter, r *http.Request) {
	claims := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
	if !claims.CustomClaims.(*CustomClaims).HasScope("read:messages") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Insufficient scope."}`))
		return
	}
	fmt.Fprintf(w, "messages for %s\n", claims.RegisteredClaims.Subject)
}
