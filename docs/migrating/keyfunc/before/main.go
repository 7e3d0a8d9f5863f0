// Before: hand-rolled golang-jwt v5.3.1 verification with MicahParks/keyfunc v3.9.2.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

func main() {
	k, err := keyfunc.NewDefaultCtx(context.Background(), []string{os.Getenv("JWKS_URL")})
	if err != nil {
		log.Fatal(err)
	}
	token, err := jwt.Parse(os.Args[1], k.Keyfunc,
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(os.Getenv("ISSUER")),
		jwt.WithAudience(os.Getenv("AUDIENCE")),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	)
	if err != nil {
		log.Fatal(err)
	}
	sub, _ := token.Claims.GetSubject()
	fmt.Println("verified token of", sub)
}
