// Before: a chi app that mints its own HS256 tokens and verifies them with go-chi/jwtauth v5.3.3.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/jwtauth/v5"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func main() {
	tokenAuth := jwtauth.New("HS256", []byte(os.Getenv("JWT_SECRET")), nil, jwt.WithAcceptableSkew(time.Minute))

	r := chi.NewRouter()
	r.Post("/login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then:
		claims := map[string]any{"sub": "user-1"}
		jwtauth.SetExpiryIn(claims, 15*time.Minute)
		_, token, err := tokenAuth.Encode(claims)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, token)
	})
	r.Group(func(r chi.Router) {
		r.Use(jwtauth.Verifier(tokenAuth))
		r.Use(jwtauth.Authenticator(tokenAuth))
		r.Get("/me", func(w http.ResponseWriter, r *http.Request) {
			_, claims, _ := jwtauth.FromContext(r.Context())
			fmt.Fprintf(w, "hello %v\n", claims["sub"])
		})
	})
	log.Fatal(http.ListenAndServe(":8080", r))
}
