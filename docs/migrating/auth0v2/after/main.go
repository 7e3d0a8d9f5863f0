// After: the same API with jwtauth. The Auth0 preset sets the issuer, the JWKS URL and RS256.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/jwtauth-go/jwtauth"
)

func main() {
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{jwtauth.Auth0(os.Getenv("AUTH0_DOMAIN"), os.Getenv("AUTH0_AUDIENCE"))},
	})
	if err != nil {
		log.Fatal(err) // names every missing or invalid setting
	}
	defer v.Close()

	http.Handle("GET /api/private", v.RequireAuth(http.HandlerFunc(private)))
	http.Handle("GET /api/private-scoped", v.RequireAuth(jwtauth.RequireScope("read:messages")(http.HandlerFunc(scoped))))
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func private(w http.ResponseWriter, r *http.Request) {
	claims, _ := jwtauth.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "hello %s\n", claims.Subject)
}

// scoped runs only for tokens with read:messages in scope, scp or permissions; others get a 403 challenge.
func scoped(w http.ResponseWriter, r *http.Request) {
	claims, _ := jwtauth.ClaimsFromContext(r.Context())
	fmt.Fprintf(w, "messages for %s\n", claims.Subject)
}
