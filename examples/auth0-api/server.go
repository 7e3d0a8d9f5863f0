package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/jwtauth-go/jwtauth"
	"github.com/redis/go-redis/v9"
)

// config is everything the server needs, read from the environment by loadConfig.
type config struct {
	addr string
	auth jwtauth.Config
	// redis is the client of REDIS_URL, nil without it; run closes it.
	redis       *redis.Client
	redisPrefix string
}

// missingError names every required variable that is not set.
type missingError struct{ names []string }

func (e *missingError) Error() string {
	hint := map[string]string{
		"AUTH0_DOMAIN":   "AUTH0_DOMAIN (tenant domain, e.g. dev-abc.us.auth0.com; not needed when AUTH0_ISSUER and JWKS_URL are both set)",
		"AUTH0_AUDIENCE": "AUTH0_AUDIENCE (API identifier, the aud of its tokens; alias AUTH0_API_AUDIENCE)",
	}
	parts := make([]string, len(e.names))
	for i, name := range e.names {
		parts[i] = hint[name]
	}
	return "missing required environment variables: " + strings.Join(parts, ", ") + "; see examples/auth0-api/README.md"
}

// loadConfig reads the environment variables of CONTRACTS.md through getenv (os.Getenv in main, a map in
// tests). It reports every missing variable at once; the values themselves are checked by jwtauth.New. With
// REDIS_URL the config holds a Redis client (not yet connected) for the caller to close.
func loadConfig(getenv func(string) string) (config, error) {
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	domain, issuer, jwksURL := env("AUTH0_DOMAIN"), env("AUTH0_ISSUER"), env("JWKS_URL")
	audience, alias := env("AUTH0_AUDIENCE"), env("AUTH0_API_AUDIENCE")

	var missing []string
	if domain == "" && (issuer == "" || jwksURL == "") {
		missing = append(missing, "AUTH0_DOMAIN")
	}
	switch {
	case audience == "":
		audience = alias
	case alias != "" && alias != audience:
		return config{}, errors.New("AUTH0_AUDIENCE and AUTH0_API_AUDIENCE are both set and differ: set only one")
	}
	if audience == "" {
		missing = append(missing, "AUTH0_AUDIENCE")
	}
	if len(missing) > 0 {
		return config{}, &missingError{missing}
	}

	// Start from the Auth0 preset (issuer https://DOMAIN/, its JWKS, RS256), then apply the overrides, so the
	// same server also trusts any OIDC provider or the login server. With both URLs overridden the domain is
	// not used at all (a bad or empty one is then no error).
	ti := jwtauth.TrustedIssuer{}
	if issuer == "" || jwksURL == "" {
		ti = jwtauth.Auth0(domain, audience) // an invalid domain makes New report it
	}
	ti.Audiences, ti.Algorithms = []string{audience}, []string{"RS256"}
	if issuer != "" {
		ti.Issuer = issuer
	}
	if jwksURL != "" {
		ti.Keys = jwtauth.RemoteJWKS(jwksURL)
	}
	if algs := splitList(env("AUTH0_ALGORITHMS")); len(algs) > 0 {
		ti.Algorithms = algs
	}

	cfg := config{addr: env("ADDR")}
	if err := loadShared(env, &ti, &cfg); err != nil {
		return config{}, err
	}
	cfg.auth.Issuers = []jwtauth.TrustedIssuer{ti}
	if cfg.addr == "" {
		cfg.addr = ":8080"
	}
	return cfg, nil
}

// splitList splits a comma list, trimming spaces and dropping empty items: " RS256, ,ES256 " is [RS256 ES256].
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// newHandler returns the API, with metrics (see newMetrics) at /metrics. Token errors are answered by the
// jwtauth middleware (RFC 6750).
func newHandler(v *jwtauth.Verifier, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /api/public", public)
	mux.Handle("GET /api/private", v.RequireAuth(http.HandlerFunc(private)))
	mux.Handle("GET /api/private-scoped", v.RequireAuth(jwtauth.RequireScope("read:messages")(http.HandlerFunc(privateScoped))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Ready's error (issuer, fetch failure) is for operators: jwtauth logs each failed fetch.
		if v.Ready() != nil {
			w.Header().Set("Retry-After", "5")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "unavailable", "error": "temporarily_unavailable", "error_description": "signing keys not loaded yet",
			})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Whatever the routes above do not match ends here: a known path with another method is a 405.
		get := r.Clone(r.Context())
		get.Method = http.MethodGet
		if _, pattern := mux.Handler(get); pattern != "/" {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this route answers GET only")
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return mux
}

func public(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Hello from a public endpoint! You don't need to be authenticated to see this.",
	})
}

// private runs behind RequireAuth, so the claims are always there.
func private(w http.ResponseWriter, r *http.Request) {
	claims, _ := jwtauth.ClaimsFromContext(r.Context())
	w.Header().Set("Cache-Control", "no-store") // the body holds the caller's claims
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Hello from a private endpoint! You need to be authenticated to see this.",
		"claims":  claims.RawJSON(), // the token's payload, custom claims included
	})
}

func privateScoped(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"message": "Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this.",
	})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // an error here is a client gone away: nothing left to tell it
}

// writeError answers in the shape of the jwtauth errors: {"error": code, "error_description": text}.
func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}
