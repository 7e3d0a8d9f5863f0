// Command gin protects a gin router with jwtauth through a ten-line adapter (ginauth.go): a group that needs a
// valid token, a route that needs a scope, a subgroup that needs a role, and a public route.
//
//	ISSUER=https://login.example.com/ AUDIENCE=messages-api \
//	JWKS_URL=https://login.example.com/.well-known/jwks.json go -C examples run ./gin
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/serve"
)

func main() {
	gin.SetMode(gin.ReleaseMode) // no debug banner; gin keeps its mode in a global
	os.Exit(run(os.Getenv, os.Stderr))
}

// loadConfig reads ISSUER, AUDIENCE, JWKS_URL (required), ALGORITHMS (comma list, default RS256), ROLES_CLAIM
// (the claim holding roles, a dotted path such as realm_access.roles; default roles) and ADDR (default
// :8080). It names every missing variable at once.
func loadConfig(getenv func(string) string) (serve.Config, error) {
	cfg, err := serve.LoadIssuer(getenv)
	if err != nil {
		return cfg, err
	}
	rolesClaim := "roles"
	if c := strings.TrimSpace(getenv("ROLES_CLAIM")); c != "" {
		rolesClaim = c
	}
	cfg.Auth.Issuers[0].Roles = []jwtauth.RoleClaim{jwtauth.RolesAt(strings.Split(rolesClaim, ".")...)}
	return cfg, nil
}

// run serves until SIGINT or SIGTERM and returns the exit code: 2 for bad configuration, 1 for a failure.
func run(getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "gin:", err)
		return 2
	}
	return serve.Verified("gin", cfg, stderr, func(v *jwtauth.Verifier) http.Handler { return newRouter(v) })
}
