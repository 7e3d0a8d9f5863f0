package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jwtauth-go/jwtauth"
)

// Config is what the router examples (chi, gin) read from the environment.
type Config struct {
	Addr string
	Auth jwtauth.Config
}

// LoadIssuer reads ISSUER, AUDIENCE, JWKS_URL (required), ALGORITHMS (comma list, default RS256) and ADDR
// (default :8080) through getenv. It names every missing variable at once; the values are checked by
// jwtauth.New.
func LoadIssuer(getenv func(string) string) (Config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var missing []string
	for _, name := range []string{"ISSUER", "AUDIENCE", "JWKS_URL"} {
		if env(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("missing required environment variables: %s", strings.Join(missing, ", "))
	}
	algs := []string{"RS256"}
	if list := strings.FieldsFunc(env("ALGORITHMS"), func(r rune) bool { return r == ',' || r == ' ' }); len(list) > 0 {
		algs = list
	}
	cfg := Config{Addr: env("ADDR"), Auth: jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer:     env("ISSUER"),
		Audiences:  []string{env("AUDIENCE")},
		Algorithms: algs,
		Keys:       jwtauth.RemoteJWKS(env("JWKS_URL")),
	}}}}
	if cfg.Addr == "" {
		cfg.Addr = ":8080"
	}
	return cfg, nil
}

// Verified builds the Verifier of cfg, logging JSON to stderr, and serves routes(v) with Run. It returns the
// exit code: 2 when jwtauth.New refuses the configuration (its message names each problem), else Run's.
func Verified(name string, cfg Config, stderr io.Writer, routes func(*jwtauth.Verifier) http.Handler) int {
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg.Auth.Logger = logger
	v, err := jwtauth.New(context.Background(), cfg.Auth)
	if err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%v\n", name, err)
		return 2
	}
	defer v.Close()
	return Run(logger, cfg.Addr, routes(v))
}
