package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

// fetchTimeout bounds every HTTP request verify makes, its own and the Verifier's.
const fetchTimeout = 10 * time.Second

func cmdVerify() *command {
	return &command{
		name:     "verify",
		synopsis: "(-jwks URL_OR_FILE | -key FILE | -discover ISSUER_URL) -iss ISSUER -aud AUDIENCE... [-alg LIST] [TOKEN | -]",
		summary:  "verify a token exactly as the jwtauth middleware does",
		about: `Verifies TOKEN (or the token on standard input, when TOKEN is - or absent) with the same
jwtauth Verifier the middleware uses, so the verdict and its reason are the same. Valid: prints
the token's claims and exits 0. Invalid: prints the reason on standard error and exits 1.
The keys come from exactly one of -jwks, -key or -discover. -alg defaults to what the keys
imply: a key with an alg member verifies that algorithm only, a key without one every
algorithm of its type (RSA: RS256..PS512; EC P-256, P-384, P-521: ES256, ES384, ES512;
Ed25519: EdDSA); none and HMAC are never accepted. Remote URLs must be https, or http on
localhost, 127.0.0.0/8 or ::1 (any host with -insecure-allow-http).`,
		example: `jwtauth verify -key key.json -iss https://login.example.com -aud orders-api "$TOKEN"
jwtauth verify -jwks https://dev-abc.us.auth0.com/.well-known/jwks.json \
  -iss https://dev-abc.us.auth0.com/ -aud https://api.example.com -alg RS256 < token.txt
jwtauth verify -discover http://localhost:8000 -aud login-server -`,
		run: runVerify,
	}
}

func runVerify(e *env, args []string) int {
	c := cmdVerify()
	fs := newFlags(c)
	jwks := fs.String("jwks", "", "public keys: a JWK Set `URL_OR_FILE` (URLs: https, or http on loopback)")
	keyFile := fs.String("key", "", "public or private key `FILE`: PEM, JWK, JWK Set, or base64 of those (private parts are ignored)")
	discover := fs.String("discover", "", "`ISSUER_URL` whose keys are found through OpenID discovery; it is also the default -iss")
	iss := fs.String("iss", "", "expected `ISSUER` (iss), compared exactly: a trailing slash matters")
	var auds stringList
	fs.Var(&auds, "aud", "accepted `AUDIENCE` (aud); repeat to accept any of several")
	insecureHTTP := fs.Bool("insecure-allow-http", false, "accept plain http -jwks and -discover URLs on any host, not only loopback (a docker-compose network); anyone on the path can substitute the keys")
	algFlag := fs.String("alg", "", "comma-separated `LIST` of accepted algorithms, e.g. RS256,ES256 (default: what the keys imply)")
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}

	var sources []string
	for _, s := range []struct{ name, value string }{{"-jwks", *jwks}, {"-key", *keyFile}, {"-discover", *discover}} {
		if s.value != "" {
			sources = append(sources, s.name)
		}
	}
	switch {
	case len(sources) == 0:
		return e.usageError(c, fs, "no key source: give one of -jwks, -key or -discover")
	case len(sources) > 1:
		return e.usageError(c, fs, "%s are key sources: give only one", strings.Join(sources, " and "))
	}
	issuer := *iss
	if *discover != "" {
		if issuer == "" {
			issuer = *discover
		} else if issuer != *discover {
			return e.usageError(c, fs, "-iss %q differs from -discover %q: with -discover, the issuer is the discovery URL (omit -iss)", issuer, *discover)
		}
	}
	var missing []string
	if issuer == "" {
		missing = append(missing, "-iss")
	}
	if len(auds) == 0 {
		missing = append(missing, "-aud")
	}
	if len(missing) > 0 {
		return e.usageError(c, fs, "%s required", plural(missing, "is", "are"))
	}
	for _, a := range auds {
		if a == "" {
			return e.usageError(c, fs, "-aud is empty")
		}
	}
	if len(positional) > 1 {
		return e.usageError(c, fs, "one token at a time: got %d arguments", len(positional))
	}
	algs, err := parseAlgList(*algFlag)
	if err != nil {
		return e.usageError(c, fs, "-alg: %v", err)
	}
	if len(algs) == 0 {
		// The library pins every key to its own type, and to its JWK alg when it has one, so allowing every
		// algorithm here means exactly "what the keys imply".
		algs = supportedAlgorithms()
	}
	remoteURL := *discover
	if isURL(*jwks) {
		remoteURL = *jwks
	}

	token, err := e.readToken(positional)
	if err != nil {
		return e.fail(c, err)
	}

	ctx := context.Background()
	var source jwtauth.KeySource
	switch {
	case *discover != "":
		source = jwtauth.Discover(*discover)
	case remoteURL != "":
		source = jwtauth.RemoteJWKS(remoteURL)
	case *keyFile != "":
		source = jwtauth.LocalKeysFile(*keyFile)
	default:
		source = jwtauth.LocalKeysFile(*jwks)
	}

	v, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: issuer, Audiences: auds, Algorithms: algs, Keys: source}},
		Clock:   e.now,
		JWKS:    jwtauth.JWKSOptions{FetchTimeout: fetchTimeout, InsecureAllowHTTP: *insecureHTTP},
		Logger:  newLogger(e),
	})
	if err != nil {
		return e.fail(c, err)
	}
	defer v.Close()
	if remoteURL != "" {
		if err := v.Ready(); err != nil { // never loaded: say why now instead of waiting for a refresh
			return e.fail(c, err)
		}
	}
	claims, err := v.Verify(ctx, token)
	if err != nil {
		return e.fail(c, err)
	}
	out, err := indentJSON(claims.RawJSON())
	if err != nil {
		return e.fail(c, err)
	}
	if _, err := e.stdout.Write(out); err != nil {
		return e.fail(c, err)
	}
	return exitOK
}

// parseAlgList reads -alg: comma-separated algorithm names, each supported.
func parseAlgList(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var algs []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !isAlgorithm(name) {
			return nil, fmt.Errorf("%q is not supported: use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA (case-sensitive; none and HMAC are never accepted)", name)
		}
		algs = appendNew(algs, name)
	}
	return algs, nil
}

func isURL(s string) bool { return strings.Contains(s, "://") }

// supportedAlgorithms lists the asymmetric JWS algorithms jwtauth verifies.
func supportedAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// appendNew appends s unless list has it already.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// newLogger sends the Verifier's warnings (unusable keys skipped, failed fetches) to stderr, without
// timestamps: a CLI run is short.
func newLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}
