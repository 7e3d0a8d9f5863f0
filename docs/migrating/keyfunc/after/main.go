// After: the same parser call with the Verifier's keys (v.Keyfunc), or the strict path (v.Verify).
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
)

func main() {
	trusted := jwtauth.TrustedIssuer{
		Issuer:     os.Getenv("ISSUER"),
		Audiences:  []string{os.Getenv("AUDIENCE")},
		Algorithms: []string{"RS256"},
		Keys:       jwtauth.RemoteJWKS(os.Getenv("JWKS_URL")),
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{trusted}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	// Step 1: keep jwt.Parse and its options; only the Keyfunc changes.
	k, err := v.Keyfunc(trusted.Issuer)
	if err != nil {
		log.Fatal(err)
	}
	token, err := jwt.Parse(os.Args[1], k.Keyfunc,
		jwt.WithValidMethods(trusted.Algorithms),
		jwt.WithIssuer(trusted.Issuer),
		jwt.WithAudience(trusted.Audiences[0]),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	sub, _ := token.Claims.GetSubject()
	fmt.Println("verified token of", sub)

	// Step 2: the strict path, which checks the claims too.
	claims, err := v.Verify(context.Background(), os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified token of", claims.Subject)
}
