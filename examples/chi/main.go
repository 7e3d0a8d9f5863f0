// Command chi protects a go-chi/chi router with jwtauth: route groups that need a token and a scope, a route
// where signing in is optional, and a public route.
//
//	ISSUER=https://login.example.com/ AUDIENCE=messages-api \
//	JWKS_URL=https://login.example.com/.well-known/jwks.json go -C examples run ./chi
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

func main() {
	os.Exit(run(os.Getenv, os.Stderr))
}

// config is what loadConfig reads from the environment.
type config struct {
	addr string
	auth jwtauth.Config
}

// loadConfig reads ISSUER, AUDIENCE, JWKS_URL (required), ALGORITHMS (comma list, default RS256) and ADDR
// (default :8080). It names every missing variable at once.
func loadConfig(getenv func(string) string) (config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var missing []string
	for _, name := range []string{"ISSUER", "AUDIENCE", "JWKS_URL"} {
		if env(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return config{}, fmt.Errorf("missing required environment variables: %s", strings.Join(missing, ", "))
	}
	algs := []string{"RS256"}
	if list := strings.FieldsFunc(env("ALGORITHMS"), func(r rune) bool { return r == ',' || r == ' ' }); len(list) > 0 {
		algs = list
	}
	cfg := config{addr: env("ADDR"), auth: jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer:     env("ISSUER"),
		Audiences:  []string{env("AUDIENCE")},
		Algorithms: algs,
		Keys:       jwtauth.RemoteJWKS(env("JWKS_URL")),
	}}}}
	if cfg.addr == "" {
		cfg.addr = ":8080"
	}
	return cfg, nil
}

// run serves until SIGINT or SIGTERM and returns the exit code: 2 for bad configuration, 1 for a failure.
func run(getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "chi:", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg.auth.Logger = logger
	v, err := jwtauth.New(context.Background(), cfg.auth)
	if err != nil {
		fmt.Fprintf(stderr, "chi: invalid configuration:\n%v\n", err)
		return 2
	}
	defer v.Close()

	srv := &http.Server{
		Addr:              cfg.addr,
		Handler:           newRouter(v),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", cfg.addr)

	select {
	case err := <-serveErr:
		logger.Error("server failed", "error", err.Error())
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil { // lets requests in flight finish
		logger.Error("shutdown", "error", err.Error())
		return 1
	}
	return 0
}
