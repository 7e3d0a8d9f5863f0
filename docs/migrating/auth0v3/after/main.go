// After: the same API with jwtauth; custom claims are read from the verified claims, no type to register.
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
		log.Fatal(err)
	}
	defer v.Close()

	http.Handle("GET /api/messages", v.RequireAuth(jwtauth.RequireScope("read:messages")(http.HandlerFunc(messages))))
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func messages(w http.ResponseWriter, r *http.Request) {
	claims, _ := jwtauth.ClaimsFromContext(r.Context())
	email, _ := jwtauth.GetClaim[string](claims, "email") // or claims.Decode(&yourStruct) for all of them
	fmt.Fprintf(w, "messages for %s <%s>\n", claims.Subject, email)
}
