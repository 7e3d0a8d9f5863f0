// After: the app signs ES256 tokens with jwtauth.Issuer and verifies them with the Issuer's public keys, so a
// service that only verifies never holds a key that can mint tokens.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jwtauth-go/jwtauth"
)

func main() {
	keys, err := jwtauth.LoadSigningKeys(os.Getenv("SIGNING_KEYS_FILE")) // from: jwtauth keygen > keys.json
	if err != nil {
		log.Fatal(err)
	}
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer: "https://app.example.com", Audience: []string{"app"}, Keys: keys, TTL: 15 * time.Minute,
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
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password (jwtauth.PasswordHasher), then:
		token, err := issuer.Issue("user-1", nil)
		if err != nil {
			http.Error(w, "could not issue a token", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, token)
	})
	r.Get("/.well-known/jwks.json", issuer.JWKSHandler().ServeHTTP) // other services: jwtauth.RemoteJWKS(url)
	r.Group(func(r chi.Router) {
		r.Use(v.RequireAuth)
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := jwtauth.ClaimsFromContext(r.Context())
			fmt.Fprintf(w, "hello %s\n", claims.Subject)
		})
	})
	log.Fatal(http.ListenAndServe(":8080", r))
}
