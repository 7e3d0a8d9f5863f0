// During: routes move one group at a time, so both packages are imported in one file. Both are named jwtauth:
// alias go-chi's.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
	chijwtauth "github.com/go-chi/jwtauth/v5"
	"github.com/jwtauth-go/jwtauth"
)

func main() {
	legacy := chijwtauth.New("HS256", []byte(os.Getenv("JWT_SECRET")), nil)
	keys, err := jwtauth.LoadSigningKeys(os.Getenv("SIGNING_KEYS_FILE")) // from: jwtauth keygen > keys.json
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer: "https://app.example.com", Audience: []string{"app"}, Keys: keys,
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := issuer.Verifier(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	r := chi.NewRouter()
	r.Group(func(r chi.Router) { // not moved yet: old HS256 tokens
		r.Use(chijwtauth.Verifier(legacy), chijwtauth.Authenticator(legacy))
		r.Get("/v1/me", func(w http.ResponseWriter, r *http.Request) {
			_, claims, _ := chijwtauth.FromContext(r.Context())
			fmt.Fprintf(w, "hello %v\n", claims["sub"])
		})
	})
	r.Group(func(r chi.Router) { // moved: ES256 tokens from issuer
		r.Use(v.RequireAuth)
		r.Get("/v2/me", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := jwtauth.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "hello %s\n", claims.Subject)
		})
	})
	log.Fatal(http.ListenAndServe(":8080", r))
}
