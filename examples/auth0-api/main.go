// Command auth0-api is the Auth0 API quickstart in Go: a resource server with a public route, a route for any
// valid access token and a route that needs the read:messages scope. Configure it with the environment:
//
//	AUTH0_DOMAIN=dev-abc.us.auth0.com AUTH0_AUDIENCE=https://api.example.com go -C examples run ./auth0-api
//
// AUTH0_ISSUER, JWKS_URL and AUTH0_ALGORITHMS point it at any other OpenID Connect provider; see README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/serve"
	"github.com/redis/go-redis/v9"
)

func main() {
	os.Exit(run(os.Getenv, os.Stderr))
}

// run starts the server and blocks until SIGINT or SIGTERM. It returns the exit code: 2 for a configuration
// problem, 1 when the server fails, 0 after a clean shutdown.
func run(getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "auth0-api:", err)
		return 2
	}
	if cfg.redis != nil {
		defer cfg.redis.Close()
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg.auth.Logger = logger
	if cfg.redis != nil {
		redis.SetLogger(&redisLogger{logger: logger}) // go-redis has one logger per process: this is the process
		checkRedis(logger, cfg.redis, cfg.redisPrefix)
	}
	metrics := newMetrics(&cfg.auth)

	// The verifier outlives the signal: requests still in flight during shutdown may need a key refresh.
	v, err := jwtauth.New(context.Background(), cfg.auth)
	if err != nil {
		fmt.Fprintf(stderr, "auth0-api: invalid configuration:\n%v\n", err)
		return 2
	}
	defer v.Close()
	if err := v.Ready(); err != nil {
		logger.Warn("signing keys not loaded yet: retrying in the background, /healthz answers 503 until then",
			"error", err.Error())
	}

	return serve.Run(logger, cfg.addr, logRequests(logger, newHandler(v, metrics.handler(v))))
}

// logRequests logs one line per request: method, path, status and duration. Never the headers: Authorization
// holds a credential.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (Flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
