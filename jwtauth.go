// Package jwtauth verifies JSON Web Tokens presented as OAuth 2.0 bearer tokens and protects net/http handlers
// with them.
//
// A Verifier checks a token's signature against the keys of a trusted issuer (a remote JWKS with caching and
// rotation, OIDC discovery, or local keys; profiles such as Auth0, Okta, EntraID, Cognito and Keycloak set
// them up as each provider documents), then its registered claims. RequireAuth wraps any http.Handler;
// RequireScope checks scopes. Defaults follow RFC 8725 (JWT best current practices): an algorithm
// allow-list is always enforced, "none" and HMAC are never accepted, exp is required, and the token is decoded
// strictly.
//
//	v, err := jwtauth.New(ctx, jwtauth.Config{
//		Issuers: []jwtauth.TrustedIssuer{jwtauth.Auth0("dev-abc.us.auth0.com", "https://api.example.com")},
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("/api/private", v.RequireAuth(private))
//	http.Handle("/api/admin", v.RequireAuth(jwtauth.RequireScope("admin")(admin)))
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults and bounds of Config.
const (
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat when Config.Leeway is zero.
	DefaultLeeway = 60 * time.Second
	// MaxLeeway is the largest Config.Leeway accepted: more would keep expired tokens alive for too long.
	MaxLeeway = 5 * time.Minute
	// DefaultMaxTokenSize is the token length limit when Config.MaxTokenSize is zero.
	DefaultMaxTokenSize = 16 << 10
)

// Config configures a Verifier. Only Issuers is required; zero values of the other fields mean the documented
// defaults. New validates the whole Config at once and reports every problem it finds.
type Config struct {
	// Issuers lists the issuers whose tokens are accepted, each with its own keys, audiences and algorithms.
	// A token's iss only selects among these; keys of one issuer never verify another issuer's tokens.
	Issuers []TrustedIssuer

	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means DefaultLeeway (60 s); at most MaxLeeway.
	Leeway time.Duration
	// MaxAge, when set, refuses tokens whose iat is older than this, and tokens without iat.
	MaxAge time.Duration
	// RequiredType, when set, is the only typ header accepted, compared case-insensitively with an optional
	// "application/" prefix (e.g. "at+jwt" for RFC 9068 access tokens). When empty, tokens whose typ is absent,
	// "JWT" or "at+jwt" are accepted and any other typ (dpop+jwt, logout+jwt, ...) is refused.
	RequiredType string
	// MaxTokenSize bounds the token length in bytes, checked before anything is decoded.
	// Zero means DefaultMaxTokenSize (16 KiB).
	MaxTokenSize int
	// CacheBytes bounds the memory of the verified-token cache, counted from each entry's real size (token,
	// payload JSON, claims, bookkeeping). Zero means DefaultCacheBytes (32 MiB); CacheOff turns the cache off;
	// at least 256 KiB otherwise. A hit skips the signature check only: exp, nbf and MaxAge are checked against
	// the clock, the key must still be in the issuer's key set, cnf bindings (DPoP, certificates), Validate
	// and Revocations are checked as on a miss, and failures are never cached. Tokens over 4 KiB are not cached.
	CacheBytes int
	// Deprecated: CacheSize counted entries; the cache is now bounded in bytes by CacheBytes and on by
	// default. New refuses a non-zero CacheSize with a hint: remove it, or set CacheBytes.
	CacheSize int
	// Clock returns the current time. Nil means time.Now. Tests inject a fixed clock here.
	Clock func() time.Time
	// JWKS holds the rarely changed knobs of remote key sets (refresh, timeouts, size caps).
	JWKS JWKSOptions
	// DPoP configures the checks of DPoP proofs (RFC 9449) for issuers whose TrustedIssuer.DPoP accepts them.
	DPoP DPoPOptions

	// Revocations, when set, is asked about every token that passed all other checks of Verify (cache hits
	// too); a revoked token is refused with 401 ErrTokenRevoked, and an error of Revocations refuses it with
	// 503 ErrRevocationUnavailable (fail closed). NewRevocationList is the in-memory implementation.
	Revocations Revocations

	// Logger receives operational events: key set fetches and their failures, skipped keys, each refused token
	// at INFO with its reason (at most 10 lines per reason per minute, then a count of those not logged), and,
	// at debug level, each verification's outcome. Tokens are never logged. Nil means slog.Default().
	Logger *slog.Logger
	// OnVerify, when set, is called after each verification with its outcome, for metrics and audit.
	OnVerify func(ctx context.Context, o Outcome)
	// OnFetch, when set, is called after each fetch of a remote key set with its outcome, for metrics. It runs
	// on the fetch's goroutine, outside any lock and after waiting requests are released, possibly
	// concurrently with itself; it must be fast and never block, since Close waits for it. Gauges of the keys
	// in use (count, age) are better read at scrape time from Verifier.KeySets.
	OnFetch func(FetchOutcome)

	// Resource is this API's resource identifier (RFC 8707; RFC 9728 §2): an https URL without query or
	// fragment, e.g. "https://api.example.com" or "https://example.com/mcp" (http only for loopback hosts).
	// Clients ask authorization servers for tokens for it, so it is the audience: an issuer with empty Audiences
	// checks aud against Resource, and one with Audiences must list it. Setting it turns on protected-resource
	// metadata (Verifier.ResourceMetadata) and adds resource_metadata="<its URL>" to every challenge (§5.1).
	Resource string
	// ScopesSupported lists the scopes published as scopes_supported in the protected-resource metadata, for
	// clients to know what to ask for. Requires Resource.
	ScopesSupported []string

	// ForwardedClientCert names the header a TLS-terminating proxy forwards client certificates in, and the
	// proxies believed, for certificate-bound tokens (TrustedIssuer.MTLS). Without it only the certificate of
	// the request's own TLS connection counts.
	ForwardedClientCert ForwardedClientCert

	// Realm, when set, is sent as the realm attribute of WWW-Authenticate challenges.
	Realm string
	// TokenCookie names a cookie that may carry the token, besides the Authorization header. Off when empty.
	// A request carrying both is refused (400). Read the CSRF advice in the README before turning it on.
	TokenCookie string
	// TokenQuery names a URL query parameter that may carry the token (RFC 6750 §2.3). Off when empty;
	// tokens in URLs end up in logs and browser history, so prefer the header.
	TokenQuery string
	// AllowPreflight makes RequireAuth and OptionalAuth answer CORS preflight requests (OPTIONS with
	// Access-Control-Request-Method), which browsers send without credentials, themselves: 204 with no body,
	// and the wrapped handler is never called, so handlers behind RequireAuth always see claims. The CORS
	// headers come from a CORS handler wrapped OUTSIDE the middleware: cors(v.RequireAuth(h)). Off by default:
	// a preflight is then refused with 401 like any request without a token.
	AllowPreflight bool
	// ErrorHandler, when set, writes the response for a request the middleware refuses. err is an *Error.
	// Nil means the RFC 6750 response described in the README.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// TrustedIssuer is one issuer whose tokens a Verifier accepts. The provider profiles (Auth0, Okta, EntraID,
// Cognito, Keycloak, Google, Firebase, OIDC) fill it in for you, including checks of their own.
type TrustedIssuer struct {
	// Issuer is the expected iss claim, compared exactly: a trailing slash matters. It may contain the
	// placeholder {tenantid} once (Entra ID multi-tenant apps); such an issuer matches a token only when the
	// part of iss in place of the placeholder equals the token's tid claim, so one tenant's token can never
	// pass as another's.
	Issuer string
	// Tenants, for an Issuer with {tenantid}, lists the tenant IDs (tid) accepted. Empty accepts every
	// tenant the issuer's keys sign for.
	Tenants []string
	// Audiences lists accepted audiences; the token's aud (a string or an array) must contain one of them.
	Audiences []string
	// InsecureSkipAudienceCheck accepts tokens whatever their aud. Without an audience check, a token minted
	// for any other API of the same issuer is accepted here too; set it only when the issuer mints tokens for
	// this service alone.
	InsecureSkipAudienceCheck bool
	// AuthorizedParties, when set, lists the client IDs whose tokens are accepted: the token's azp claim (the
	// client the token was issued to) must be one of them. Profiles whose tokens name the client in another
	// claim read that one (Cognito: client_id). With Audiences empty, it alone binds tokens to this service.
	AuthorizedParties []string
	// Algorithms lists the accepted signature algorithms (RS256, RS384, RS512, PS256, PS384, PS512, ES256,
	// ES384, ES512, EdDSA). With RemoteJWKS or Discover it may be left empty: each key then verifies only its
	// own JWK alg, or, without one, the algorithms of its type (RSA: RS and PS; EC: the ES of its curve;
	// Ed25519: EdDSA), so a provider rotating from RS256 to ES256 keeps working. For local keys it is
	// required. "none" and HMAC are never accepted.
	Algorithms []string
	// Keys is where the issuer's public keys come from: RemoteJWKS, Discover, LocalKeys, LocalKeysFile or
	// PublicKeys.
	Keys KeySource
	// MTLS says whether certificate-bound tokens (RFC 8705 §3, cnf x5t#S256) are accepted: MTLSOff (the
	// default) refuses them, MTLSAllowed checks each against the request's client certificate (of the TLS
	// connection, or forwarded per Config.ForwardedClientCert) and accepts unbound tokens too, MTLSRequired
	// accepts bound tokens only. Verify, which sees no connection, refuses every certificate-bound token.
	MTLS MTLSPolicy
	// Roles lists the claims this issuer's tokens carry roles or groups in (RolesAt, RoleMapAt); Verify
	// collects them into Claims.Roles for RequireRole. Empty means no roles, at no cost.
	Roles []RoleClaim
	// Validate, when set, runs inside Verify after every built-in check has passed (on cached tokens too), for
	// rules of this issuer's tokens: an azp, client_id or token_use check, a tenant allow-list. A non-nil error
	// refuses the token as Reject(err) does (401 invalid_token, "token not accepted"), or as the *Error it is
	// or wraps (Deny for 403). Validate must be safe for concurrent use, fast (it runs on every request) and
	// must not modify the claims.
	Validate func(*Claims) error
	// DPoP says whether this issuer's tokens come with DPoP proofs (RFC 9449): DPoPOff (the default: bearer
	// tokens only), DPoPOptional or DPoPRequired. A DPoP-bound token (cnf.jkt) sent as a bearer token is
	// refused whatever the policy. Turning it on for any issuer requires Config.DPoP.ExternalURL.
	DPoP DPoPPolicy

	// Set by profiles only.
	aliases      []string                // other spellings of Issuer (Google: accounts.google.com)
	azpClaim     string                  // claim AuthorizedParties is checked against; "" means azp
	profileCheck func(*Claims) error     // the profile's own claim checks, run before Validate
	issuerHint   func(iss string) string // why a token of this provider names another issuer, or ""
}

// Outcome describes one verification, for Config.OnVerify and logs. It never holds the token.
type Outcome struct {
	// Err is nil when the token was accepted.
	Err error
	// Reason is "ok" or the fixed phrase of the failure ("token expired", "signature invalid", ...).
	Reason string
	// Issuer, KeyID and Algorithm are as read from the token, possibly before it was verified: treat them as
	// untrusted text when Err is not nil, and cut them before logging (jwtauth's own logs keep 64 bytes).
	Issuer, KeyID, Algorithm string
	// ConfiguredIssuer is the Issuer of the TrustedIssuer the token was checked against, exactly as configured
	// (a template stays a template), or "" when its iss matched none. Unlike Issuer it is never token text, so
	// it is the one to use as a metrics label.
	ConfiguredIssuer string
	// Cached is true when the verified-token cache answered.
	Cached bool
}

// Verifier verifies tokens. It is safe for concurrent use. Build one with New and share it.
type Verifier struct {
	trusts       []*trust
	byIssuer     map[string]*trust
	templates    []*trust // issuers matched by template, in configuration order
	leeway       time.Duration
	maxAge       time.Duration
	requiredType string // normalized; "" when none
	maxSize      int
	maxWait      time.Duration
	now          func() time.Time
	logger       *slog.Logger
	onVerify     func(context.Context, Outcome)
	cache        *tokenCache
	refusals     *refusalLog
	revocations  Revocations
	dpop         *dpopVerifier // nil when no issuer accepts DPoP

	realm          string
	tokenCookie    string
	tokenQuery     string
	allowPreflight bool
	errorHandler   func(http.ResponseWriter, *http.Request, error)
	fwdCert        forwardedCert
	meta           *metadata // nil unless Config.Resource is set

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// trust is a TrustedIssuer as the Verifier uses it.
type trust struct {
	issuer       string
	aliases      []string        // other spellings of issuer (Google)
	template     *issuerTemplate // nil unless Issuer has {tenantid}
	tenants      []string
	audiences    []string
	skipAud      bool
	azps         []string
	azpClaim     string
	profileCheck func(*Claims) error
	issuerHint   func(iss string) string
	algs         algSet
	algNames     []string // as configured; nil when taken from the keys
	keys         keyProvider
	roles        []RoleClaim
	validate     func(*Claims) error
	mtls         MTLSPolicy
	dpop         DPoPPolicy
}

// New validates cfg and returns a Verifier. Remote key sets are fetched before New returns, waiting at most
// JWKSOptions.FetchTimeout; a key set that cannot be fetched yet is not an error: it is retried in the
// background, Ready reports it, and verification answers ErrKeysUnavailable until it loads.
// ctx bounds only how long New waits for those first fetches (a startup timeout is fine: cancelling it after
// New returns changes nothing); background refreshes keep ctx's values but not its deadline or cancellation,
// and run until Close.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	v := &Verifier{
		leeway:         cfg.Leeway,
		maxAge:         cfg.MaxAge,
		maxSize:        cfg.MaxTokenSize,
		now:            cfg.Clock,
		logger:         cfg.Logger,
		onVerify:       cfg.OnVerify,
		revocations:    cfg.Revocations,
		realm:          cfg.Realm,
		tokenCookie:    cfg.TokenCookie,
		tokenQuery:     cfg.TokenQuery,
		allowPreflight: cfg.AllowPreflight,
		errorHandler:   cfg.ErrorHandler,
		byIssuer:       make(map[string]*trust, len(cfg.Issuers)),
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.logger == nil {
		v.logger = slog.Default()
	}
	v.refusals = newRefusalLog(v.logger, v.now)

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("jwtauth: "+format, args...)) }
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		bad("Config.Leeway %s is out of range: use 0 (default %s) up to %s", cfg.Leeway, DefaultLeeway, MaxLeeway)
	}
	if cfg.MaxAge < 0 {
		bad("Config.MaxAge %s is negative: use 0 for no limit", cfg.MaxAge)
	}
	if cfg.MaxTokenSize < 0 || cfg.MaxTokenSize > 1<<20 {
		bad("Config.MaxTokenSize %d is out of range: use 0 (default %d) up to 1 MiB", cfg.MaxTokenSize, DefaultMaxTokenSize)
	}
	if cfg.CacheSize != 0 {
		bad("Config.CacheSize is replaced by Config.CacheBytes, a bound in bytes, and the cache is on by default (%d MiB): remove CacheSize %d, or set CacheBytes (an entry takes about 2.5 KiB) or CacheBytes: jwtauth.CacheOff", DefaultCacheBytes>>20, cfg.CacheSize)
	}
	if cfg.CacheBytes < CacheOff || cfg.CacheBytes > 0 && cfg.CacheBytes < minCacheBytes {
		bad("Config.CacheBytes %d is out of range: use 0 (default %d MiB), at least %d KiB, or jwtauth.CacheOff (-1) for no cache", cfg.CacheBytes, DefaultCacheBytes>>20, minCacheBytes>>10)
	}
	if cfg.RequiredType != "" {
		v.requiredType = normalizeType(cfg.RequiredType)
		if !isToken(v.requiredType) {
			bad("Config.RequiredType %q is not a media type name", cfg.RequiredType)
		}
	}
	if !isQuotable(cfg.Realm) {
		bad(`Config.Realm %q must be printable ASCII without '"' or '\'`, cfg.Realm)
	}
	if cfg.TokenCookie != "" && !isToken(cfg.TokenCookie) {
		bad("Config.TokenCookie %q is not a valid cookie name", cfg.TokenCookie)
	}
	if cfg.TokenQuery != "" && strings.ContainsAny(cfg.TokenQuery, "&=#? ") {
		bad("Config.TokenQuery %q is not a valid query parameter name", cfg.TokenQuery)
	}
	jwksOpts, jerrs := cfg.JWKS.withDefaults()
	errs = append(errs, jerrs...)
	v.maxWait = jwksOpts.MaxWait

	if len(cfg.Issuers) == 0 {
		bad("Config.Issuers is empty: add a TrustedIssuer, e.g. jwtauth.Auth0(domain, audience)")
	}
	anyMTLS := false
	var meta *metadata
	if cfg.Resource != "" {
		meta = checkResource(cfg.Resource, bad)
	} else if len(cfg.ScopesSupported) > 0 {
		bad("Config.ScopesSupported is set but Config.Resource is empty: scopes are published in the protected-resource metadata of Resource")
	}
	env := sourceEnv{opts: jwksOpts, now: v.now, logger: v.logger, onFetch: cfg.OnFetch}
	for i, ti := range cfg.Issuers {
		where := fmt.Sprintf("Config.Issuers[%d]", i)
		if ti.Issuer != "" {
			where = fmt.Sprintf("Config.Issuers[%d] (%q)", i, ti.Issuer)
		}
		ti.Audiences = audiencesFor(cfg.Resource, &ti, where, bad)
		if es, ok := ti.Keys.(errSource); ok { // a profile given bad arguments: one error says which
			bad("%s: %v", where, es.err)
			continue
		}
		t := &trust{issuer: ti.Issuer, audiences: append([]string(nil), ti.Audiences...), skipAud: ti.InsecureSkipAudienceCheck,
			roles: cloneRoleClaims(ti.Roles), validate: ti.Validate,
			tenants: append([]string(nil), ti.Tenants...), azps: append([]string(nil), ti.AuthorizedParties...),
			azpClaim: ti.azpClaim, profileCheck: ti.profileCheck, issuerHint: ti.issuerHint, aliases: append([]string(nil), ti.aliases...)}
		t.mtls = ti.MTLS
		if ti.MTLS > MTLSRequired {
			bad("%s: MTLS %d is unknown: use MTLSOff, MTLSAllowed or MTLSRequired", where, ti.MTLS)
		}
		anyMTLS = anyMTLS || ti.MTLS != MTLSOff
		// A token carries one binding (the DPoP check refuses cnf with both), so requiring one kind refuses the other.
		if (ti.MTLS == MTLSRequired && ti.DPoP != DPoPOff) || (ti.DPoP == DPoPRequired && ti.MTLS != MTLSOff) {
			bad("%s: MTLS and DPoP contradict: MTLSRequired refuses DPoP-bound tokens and DPoPRequired refuses certificate-bound ones; to accept both kinds use MTLSAllowed with DPoPOptional", where)
		}
		t.dpop = ti.DPoP
		if ti.DPoP > DPoPRequired {
			bad("%s: DPoP %d is unknown: use DPoPOff, DPoPOptional or DPoPRequired", where, ti.DPoP)
		}
		if err := checkRoleClaims(ti.Roles); err != nil {
			bad("%s: %v", where, err)
		}
		if t.azpClaim == "" {
			t.azpClaim = "azp"
		}
		names := append([]string{ti.Issuer}, ti.aliases...)
		switch {
		case ti.Issuer == "":
			bad("%s: Issuer is empty: set it to the exact iss your tokens carry", where)
		case hasOuterSpace(ti.Issuer) || strings.ContainsFunc(ti.Issuer, unicode.IsControl):
			bad("%s: Issuer has leading or trailing whitespace or a control character (a newline from a file or environment variable?): remove it", where)
		default:
			for _, name := range names {
				if v.byIssuer[name] != nil || v.templateListed(name) {
					bad("%s: Issuer is listed twice (as %q): merge the entries", where, name)
				}
			}
		}
		tmpl, terr := parseIssuerTemplate(ti.Issuer)
		if terr != nil {
			bad("%s: %v", where, terr)
		}
		t.template = tmpl
		if len(ti.Tenants) > 0 && tmpl == nil {
			bad("%s: Tenants is set but Issuer has no {tenantid} placeholder: Tenants restricts multi-tenant issuers only", where)
		}
		for _, tid := range ti.Tenants {
			if tid == "" || strings.ContainsAny(tid, "/?#{} ") {
				bad("%s: Tenants contains %q, which is not a tenant ID", where, tid)
			}
		}
		switch {
		case len(ti.Audiences) == 0 && len(ti.AuthorizedParties) == 0 && !ti.InsecureSkipAudienceCheck:
			bad("%s: Audiences is empty: set the API identifier your tokens carry in aud (or, knowingly, InsecureSkipAudienceCheck)", where)
		case len(ti.Audiences) > 0 && ti.InsecureSkipAudienceCheck:
			bad("%s: InsecureSkipAudienceCheck contradicts Audiences: remove InsecureSkipAudienceCheck to check aud against Audiences (recommended), or remove Audiences", where)
		}
		if len(ti.Audiences) == 0 && len(ti.AuthorizedParties) > 0 {
			t.skipAud = true // the client binding replaces the audience one (Cognito access tokens have no aud)
		}
		for _, a := range ti.Audiences {
			switch {
			case a == "":
				bad("%s: Audiences contains an empty string", where)
			case hasOuterSpace(a):
				bad("%s: audience %q has leading or trailing whitespace: remove it", where, a)
			}
		}
		for _, a := range ti.AuthorizedParties {
			switch {
			case a == "":
				bad("%s: AuthorizedParties contains an empty string", where)
			case hasOuterSpace(a):
				bad("%s: authorized party %q has leading or trailing whitespace: remove it", where, a)
			}
		}
		remote, isRemote := ti.Keys.(remoteJWKS)
		if tmpl != nil && isRemote && remote.discover {
			bad("%s: Discover cannot be used with an Issuer template (the discovery document names one tenant's issuer): use RemoteJWKS with the provider's keys URL", where)
		}
		if len(ti.Algorithms) == 0 {
			if isRemote {
				t.algs = allAlgs // each key stays pinned to its own alg or type
			} else {
				bad("%s: Algorithms is empty: list what your issuer signs with, e.g. []string{\"RS256\"} (only RemoteJWKS and Discover take them from the keys)", where)
			}
		}
		for _, name := range ti.Algorithms {
			a := lookupAlg(name)
			if a == nil {
				bad("%s: algorithm %q is not supported: %s", where, name, algAdvice(name))
				continue
			}
			t.algs |= a.bit
			t.algNames = append(t.algNames, name)
		}
		if ti.Keys == nil {
			bad("%s: Keys is nil: use RemoteJWKS, Discover, LocalKeys, LocalKeysFile or PublicKeys", where)
		} else {
			kp, err := ti.Keys.provider(ti.Issuer, t.algs, env)
			if err != nil {
				bad("%s: %v", where, err)
			}
			t.keys = kp
		}
		if ti.Issuer != "" {
			if tmpl != nil {
				if !v.templateListed(ti.Issuer) {
					v.templates = append(v.templates, t)
				}
			} else {
				for _, name := range names {
					if v.byIssuer[name] == nil {
						v.byIssuer[name] = t
					}
				}
			}
		}
		v.trusts = append(v.trusts, t)
	}
	v.fwdCert = cfg.ForwardedClientCert.check(anyMTLS, bad)
	dv, derrs := newDPoPVerifier(cfg.DPoP, v.trusts, v.now)
	errs = append(errs, derrs...)
	v.dpop = dv
	if meta != nil {
		v.buildMetadata(meta, cfg.ScopesSupported, bad)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	switch {
	case cfg.CacheBytes == 0:
		v.cache = newTokenCache(DefaultCacheBytes)
	case cfg.CacheBytes > 0:
		v.cache = newTokenCache(cfg.CacheBytes)
	}

	// Background work must outlive a startup context (a timeout cancelled once New returns): only Close ends it.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	v.cancel = cancel
	started := make([]<-chan struct{}, 0, len(v.trusts))
	for _, t := range v.trusts {
		if ch := t.keys.start(bg, &v.wg); ch != nil {
			started = append(started, ch)
		}
	}
	// Startup waits for the first fetches, but never longer than one fetch timeout.
	if len(started) > 0 {
		timer := time.NewTimer(jwksOpts.FetchTimeout)
		defer timer.Stop()
	wait:
		for _, ch := range started {
			select {
			case <-ch:
			case <-timer.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
	}
	// A first load that failed in a way no retry can fix (4xx, another issuer, no key for Algorithms) is a
	// configuration error; network errors, timeouts and 5xx are retried in the background.
	for i, t := range v.trusts {
		if s, ok := t.keys.(interface{ startupError() error }); ok {
			if err := s.startupError(); err != nil {
				bad("Config.Issuers[%d] (%q): %v", i, t.issuer, err)
			}
		}
	}
	if len(errs) > 0 {
		v.Close()
		return nil, errors.Join(errs...)
	}
	return v, nil
}

// schemeHint explains a malformed token that still carries its Authorization scheme; it runs on failures only.
func schemeHint(token string) string {
	if len(token) > len("Bearer ") && strings.EqualFold(token[:len("Bearer ")], "Bearer ") {
		return `: the token starts with "Bearer "; pass Verify the token alone, without the Authorization scheme`
	}
	return ""
}

// hasOuterSpace reports whether s starts or ends with white space.
func hasOuterSpace(s string) bool { return strings.TrimSpace(s) != s }

// Close stops the background refreshes. Verification keeps working with the keys already loaded until they
// pass the stale bound. Close always returns nil.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.cancel()
		for _, t := range v.trusts {
			t.keys.stop()
		}
		v.wg.Wait()
		v.refusals.flush()
	})
	return nil
}

// Ready reports whether every trusted issuer has usable keys. Use it for readiness probes: nil means tokens
// can be verified; otherwise the error names the issuer and why its keys are missing.
func (v *Verifier) Ready() error {
	var errs []error
	now := v.now()
	for _, t := range v.trusts {
		if _, err := t.keys.current(now); err != nil {
			errs = append(errs, fmt.Errorf("jwtauth: issuer %q: %w", t.issuer, err))
		}
	}
	return errors.Join(errs...)
}

// Verify checks token and returns its claims. Checks run cheapest first: size, structure, algorithm, issuer,
// key lookup, signature; the claims are checked only once the signature holds. Every error is an *Error.
// A sender-constrained token (cnf) is refused: Verify has no request to check its binding against.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	return v.verifyRequest(ctx, token, nil)
}

// verifyRequest is Verify for a token that came with r, which proves what a cnf binding asks for; r is nil
// for Verify.
func (v *Verifier) verifyRequest(ctx context.Context, token string, r *http.Request) (*Claims, error) {
	c, o := v.verify(ctx, token, r, nil)
	v.revoked(ctx, &c, &o)
	return v.finish(ctx, c, o)
}

// revoked runs the Config.Revocations check on a token that passed every other check.
func (v *Verifier) revoked(ctx context.Context, c **Claims, o *Outcome) {
	if o.Err == nil && v.revocations != nil {
		if o.Err = v.checkRevoked(ctx, *c); o.Err != nil {
			*c = nil
		}
	}
}

// finish reports a verification's outcome to OnVerify, the debug log and the refusal log.
func (v *Verifier) finish(ctx context.Context, c *Claims, o Outcome) (*Claims, error) {
	if v.onVerify != nil || v.logger.Enabled(ctx, slog.LevelDebug) {
		v.observe(ctx, o)
	}
	if o.Err != nil {
		v.refusals.log(ctx, o.Err)
		return nil, o.Err
	}
	return c, nil
}

func (v *Verifier) observe(ctx context.Context, o Outcome) {
	o.Reason = "ok"
	var e *Error
	if errors.As(o.Err, &e) {
		o.Reason = e.Description()
	}
	if v.onVerify != nil {
		v.onVerify(ctx, o)
	}
	// Cut as in error messages: a refused token's iss, kid and alg are whatever its sender chose.
	v.logger.DebugContext(ctx, "jwtauth: token verification", "result", o.Reason, "issuer", cut(o.Issuer),
		"kid", cut(o.KeyID), "alg", cut(o.Algorithm), "cached", o.Cached)
}

// verify does the work of Verify; the Outcome carries the error.
func (v *Verifier) verify(ctx context.Context, token string, r *http.Request, dp *dpopProof) (*Claims, Outcome) {
	var o Outcome
	fail := func(kind *failure, msg string) (*Claims, Outcome) {
		o.Err = newError(kind, msg)
		return nil, o
	}
	if len(token) > v.maxSize {
		return fail(failTooLarge, fmt.Sprintf("token is %d bytes, more than the %d allowed (Config.MaxTokenSize)", len(token), v.maxSize))
	}
	if v.cache != nil {
		if c, t, ok := v.cache.get(v, token); ok {
			o.Issuer, o.KeyID, o.Algorithm, o.Cached = c.Issuer, c.KeyID, c.Algorithm, true
			o.ConfiguredIssuer = t.issuer
			if e := v.checkConfirmation(t, &c.cnf, c.hasCnf, r, dp); e != nil {
				o.Err = e
				return nil, o
			}
			if o.Err = t.check(c); o.Err != nil {
				return nil, o
			}
			return c, o
		}
	}
	raw, ok := splitToken(token)
	if !ok {
		return fail(failMalformed, "token is not three non-empty base64url segments separated by dots"+schemeHint(token))
	}

	var hbuf [512]byte
	hb, ok := decodeSegment(hbuf[:0], raw.header)
	if !ok {
		return fail(failMalformed, "header is not canonical base64url"+schemeHint(token))
	}
	var h header
	if err := parseHeader(hb, &h); err != nil {
		return fail(failMalformed, err.Error())
	}
	o.KeyID, o.Algorithm = h.kid, h.alg
	alg := lookupAlg(h.alg)
	if alg == nil {
		return fail(failAlg, fmt.Sprintf("algorithm %s is never accepted: %s", quote(h.alg), algAdvice(h.alg)))
	}
	if h.crit {
		return fail(failCrit, "header lists crit parameters; none are supported")
	}
	if !v.typeAccepted(h) {
		return fail(failType, fmt.Sprintf("typ %s is not accepted%s", quote(h.typ), v.typeAdvice()))
	}

	pb, ok := decodeSegment(nil, raw.payload)
	if !ok {
		return fail(failMalformed, "payload is not canonical base64url")
	}
	var p payload
	if err := parsePayload(pb, &p); err != nil {
		return fail(failMalformed, err.Error())
	}
	o.Issuer = p.iss
	t := v.byIssuer[p.iss]
	if t == nil && len(v.templates) > 0 && p.hasIss {
		var msg string
		if t, msg = v.matchTemplate(p.iss, pb); msg != "" {
			return fail(failIssuer, msg)
		}
	}
	if t == nil {
		if !p.hasIss {
			return fail(failIssuer, "token has no iss claim")
		}
		return fail(failIssuer, fmt.Sprintf("issuer %s is not trusted; expected one of %s%s", quote(p.iss), v.issuerList(), v.issuerHint(p.iss)))
	}
	o.ConfiguredIssuer = t.issuer
	if t.algs&alg.bit == 0 {
		return fail(failAlg, fmt.Sprintf("algorithm %s is not allowed for issuer %q: its TrustedIssuer.Algorithms are %s; add %s there if the issuer signs with it",
			quote(h.alg), t.issuer, strings.Join(t.algNames, ", "), quote(h.alg)))
	}

	key, kerr := v.findKey(ctx, t, &h, alg)
	if kerr != nil {
		o.Err = kerr
		return nil, o
	}
	if key.issuer != "" {
		tid, _, _ := topLevelString(pb, "tid")
		if msg := keyIssuerMismatch(key, p.iss, tid); msg != "" {
			return fail(failUnknownKey, msg)
		}
	}

	sig, ok := decodeSegment(nil, raw.signature)
	if !ok {
		return fail(failMalformed, "signature is not canonical base64url")
	}
	if err := alg.method.Verify(raw.signingInput, sig, key.key); err != nil {
		return fail(failSignature, fmt.Sprintf("signature does not verify with key %s of issuer %q", quote(key.kid), t.issuer))
	}

	now := v.now()
	if f, msg := v.checkClaims(t, &p, now); f != nil {
		return fail(f, msg)
	}
	if e := v.checkConfirmation(t, &p.cnf, p.hasCnf, r, dp); e != nil {
		o.Err = e
		return nil, o
	}
	c := newClaims(&p, &h, pb, v)
	if f, msg := t.issuerChecks(c, pb); f != nil {
		return fail(f, msg)
	}
	if o.Err = t.check(c); o.Err != nil {
		return nil, o
	}
	if v.cache != nil && len(token) <= maxCachedTokenSize {
		v.cache.put(token, c, &p, t, key)
	}
	return c, o
}

func cloneRoleClaims(rcs []RoleClaim) []RoleClaim {
	out := make([]RoleClaim, len(rcs))
	for i, rc := range rcs {
		out[i] = RoleClaim{Path: append([]string(nil), rc.Path...), MemberNames: rc.MemberNames}
	}
	return out
}

// issuerChecks collects the roles of claims c (payload pb) and runs the issuer's own claim checks: its
// profile's (Cognito token_use, Keycloak typ, ...) and AuthorizedParties. Verify and Keyfunc share them.
func (t *trust) issuerChecks(c *Claims, pb []byte) (*failure, string) {
	if len(t.roles) > 0 {
		roles, msg := extractRoles(pb, t.roles)
		if msg != "" {
			return failRolesTooLarge, msg + " (TrustedIssuer.Roles of issuer " + quote(t.issuer) + ")"
		}
		c.Roles = roles
	}
	if t.profileCheck != nil {
		if err := t.profileCheck(c); err != nil {
			return failRejected, err.Error()
		}
	}
	if len(t.azps) > 0 {
		if msg := checkAuthorizedParty(t, pb); msg != "" {
			return failRejected, msg
		}
	}
	return nil, ""
}

// check runs the issuer's Validate hook on claims that passed every built-in check.
func (t *trust) check(c *Claims) error {
	if t.validate == nil {
		return nil
	}
	if err := t.validate(c); err != nil {
		return Reject(fmt.Errorf("TrustedIssuer.Validate of issuer %q refused the token: %w", t.issuer, err))
	}
	return nil
}

// checkClaims checks the registered claims of a token whose signature holds.
func (v *Verifier) checkClaims(t *trust, p *payload, now time.Time) (*failure, string) {
	if !p.hasExp {
		return failMissingClaim, "token has no exp claim; jwtauth requires every token to expire"
	}
	if f, msg := v.checkTimes(p.exp, p.hasNbf, p.nbf, p.hasIat, p.iat, now); f != nil {
		return f, msg
	}
	if !t.skipAud && !audienceMatches(t.audiences, p) {
		return failAudience, fmt.Sprintf("audience %s does not contain any of the expected %s", quoteAud(p), quoteList(t.audiences))
	}
	return nil, ""
}

// checkTimes checks exp, nbf, iat and the max age; cached tokens are re-checked with it on every hit.
func (v *Verifier) checkTimes(exp float64, hasNbf bool, nbf float64, hasIat bool, iat float64, now time.Time) (*failure, string) {
	if !now.Before(numericTime(exp).Add(v.leeway)) {
		return failExpired, fmt.Sprintf("token expired at %s (now %s, leeway %s)", fmtTime(exp), now.UTC().Format(time.RFC3339), v.leeway)
	}
	if hasNbf && now.Before(numericTime(nbf).Add(-v.leeway)) {
		return failNotYetValid, fmt.Sprintf("token is not valid before %s (now %s, leeway %s)", fmtTime(nbf), now.UTC().Format(time.RFC3339), v.leeway)
	}
	if hasIat && numericTime(iat).After(now.Add(v.leeway)) {
		return failIssuedFuture, fmt.Sprintf("token issued at %s, in the future (now %s, leeway %s)", fmtTime(iat), now.UTC().Format(time.RFC3339), v.leeway)
	}
	if v.maxAge > 0 {
		if !hasIat {
			return failTooOld, "token has no iat claim, so its age cannot be checked against Config.MaxAge"
		}
		if now.After(numericTime(iat).Add(v.maxAge + v.leeway)) {
			return failTooOld, fmt.Sprintf("token issued at %s is older than Config.MaxAge %s", fmtTime(iat), v.maxAge)
		}
	}
	return nil, ""
}

func numericTime(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

func fmtTime(f float64) string { return numericTime(f).UTC().Format(time.RFC3339) }

func audienceMatches(want []string, p *payload) bool {
	if !p.hasAud {
		return false
	}
	for _, w := range want {
		if !p.audIsArray {
			if p.audOne == w {
				return true
			}
			continue
		}
		for _, a := range p.audMany {
			if a == w {
				return true
			}
		}
	}
	return false
}

func quoteAud(p *payload) string {
	switch {
	case !p.hasAud:
		return "(absent)"
	case !p.audIsArray:
		return quote(p.audOne)
	case len(p.audMany) > 4:
		return fmt.Sprintf("[%s, %s, ... %d more]", quote(p.audMany[0]), quote(p.audMany[1]), len(p.audMany)-2)
	}
	q := make([]string, len(p.audMany))
	for i, a := range p.audMany {
		q[i] = quote(a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// issuerHint asks the profiles why a token names an issuer none of them trusts (an Entra v1.0 token at a
// v2.0 profile, an Okta org-server token): the common mistakes, said where the user sees the refusal.
func (v *Verifier) issuerHint(iss string) string {
	for _, t := range v.trusts {
		if t.issuerHint != nil {
			if h := t.issuerHint(iss); h != "" {
				return ": " + h
			}
		}
	}
	return ""
}

func (v *Verifier) issuerList() string {
	names := make([]string, len(v.trusts))
	for i, t := range v.trusts {
		names[i] = t.issuer
	}
	return quoteList(names)
}

// typeAccepted applies Config.RequiredType, or the default set of bearer-token types.
func (v *Verifier) typeAccepted(h header) bool {
	if v.requiredType != "" {
		return h.hasTyp && typeIs(h.typ, v.requiredType)
	}
	return !h.hasTyp || typeIs(h.typ, "jwt") || typeIs(h.typ, "at+jwt")
}

func (v *Verifier) typeAdvice() string {
	if v.requiredType != "" {
		return fmt.Sprintf("; Config.RequiredType is %q", v.requiredType)
	}
	return `; accepted are no typ, "JWT" and "at+jwt" (or set Config.RequiredType)`
}

// normalizeType lower-cases a typ and drops an "application/" prefix (RFC 7515 §4.1.9). It allocates only
// when the value has upper-case letters.
func normalizeType(t string) string {
	if len(t) > len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	for i := 0; i < len(t); i++ {
		if 'A' <= t[i] && t[i] <= 'Z' {
			return strings.ToLower(t)
		}
	}
	return t
}

// typeIs reports whether normalizeType(typ) == want, without allocating when typ is ASCII (as "JWT" is):
// then it is want but for the case of its letters.
func typeIs(typ, want string) bool {
	t := typ
	if len(t) > len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	for i := 0; i < len(t); i++ {
		if t[i] >= utf8.RuneSelf {
			return normalizeType(typ) == want
		}
	}
	if len(t) != len(want) {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty RFC 7230 token (cookie names, media types).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			if c == '/' && i > 0 { // media types like at+jwt never need it, but keep "application/x" legal
				continue
			}
			return false
		}
	}
	return true
}

// isQuotable reports whether s can go inside a quoted-string of a challenge without escaping.
func isQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
