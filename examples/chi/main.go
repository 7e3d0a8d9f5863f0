// Command chi protects a go-chi/chi router with jwtauth: route groups that need a token and a scope, a route
// where signing in is optional, and a public route.
//
//	ISSUER=https://login.example.com/ AUDIENCE=messages-api \
//	JWKS_URL=https://login.example.com/.well-known/jwks.json go -C examples run ./chi
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/jwtauth-go/jwtauth/examples/internal/serve"
)

func main() {
	os.Exit(run(os.Getenv, os.Stderr))
}

// loadConfig reads ISSUER, AUDIENCE, JWKS_URL (required), ALGORITHMS (comma list, default RS256) and ADDR
// (default :8080). It names every missing variable at once.
func loadConfig(getenv func(string) string) (serve.Config, error) { return serve.LoadIssuer(getenv) }

// run serves until SIGINT or SIGTERM and returns the exit code: 2 for bad configuration, 1 for a failure.
func run(getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "chi:", err)
		return 2
	}
	return serve.Verified("chi", cfg, stderr, newRouter)
}
