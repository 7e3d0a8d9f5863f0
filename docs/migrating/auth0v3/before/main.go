// Before: an API protected with auth0/go-jwt-middleware v3.3.0, custom claims read with GetClaims.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v3"
	"github.com/auth0/go-jwt-middleware/v3/jwks"
	"github.com/auth0/go-jwt-middleware/v3/validator"
)

// CustomClaims carries the claims the handlers use besides the registered ones.
type CustomClaims struct {
	Scope string `json:"scope"`
	Email string `json:"email"`
}

// Validate does nothing; v3 requires it.
func (c *CustomClaims) Validate(context.Context) error { return nil }

func main() {
	issuerURL, err := url.Parse("https://" + os.Getenv("AUTH0_DOMAIN") + "/")
	if err != nil {
		log.Fatal(err)
	}
	provider, err := jwks.NewCachingProvider(jwks.WithIssuerURL(issuerURL), jwks.WithCacheTTL(5*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	jwtValidator, err := validator.New(
		validator.WithKeyFunc(provider.KeyFunc),
		validator.WithAlgorithm(validator.RS256),
		validator.WithIssuer(issuerURL.String()),
		validator.WithAudience(os.Getenv("AUTH0_AUDIENCE")),
		validator.WithCustomClaims(func() *CustomClaims { return &CustomClaims{} }),
		validator.WithAllowedClockSkew(time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	middleware, err := jwtmiddleware.New(jwtmiddleware.WithValidator(jwtValidator))
	if err != nil {
		log.Fatal(err)
	}

	http.Handle("GET /api/messages", middleware.CheckJWT(http.HandlerFunc(messages)))
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func messages(w http.ResponseWriter, r *http.Request) {
	claims, err := jwtmiddleware.GetClaims[*validator.ValidatedClaims](r.Context())
	if err != nil {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	custom := claims.CustomClaims.(*CustomClaims)
	if !slices.Contains(strings.Fields(custom.Scope), "read:messages") {
		http.Error(w, `{"message":"Insufficient scope."}`, http.StatusForbidden)
		return
	}
	fmt.Fprintf(w, "messages for %s <%s>\n", claims.RegisteredClaims.Subject, custom.Email)
}
