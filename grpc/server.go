// Package jwtauthgrpc protects gRPC services with jwtauth: server interceptors that verify the bearer token of
// each call and check per-method scopes and roles, and per-RPC credentials that send tokens from a client.
//
// The token comes from the "authorization" metadata under the same rules as the HTTP middleware (see
// jwtauth.BearerToken), the claims reach handlers through jwtauth.ClaimsFromContext, and refusals carry the
// fixed phrases of the HTTP challenges as their status message:
//
//	auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{
//		Verifier: v,
//		Methods: map[string]jwtauthgrpc.Rule{
//			"/grpc.health.v1.Health/*": {Public: true},
//			"/shop.Orders/CancelOrder": {Scopes: []string{"orders:write"}, AnyRole: []string{"support", "admin"}},
//		},
//	})
//	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
//
// Refusals map jwtauth.Error.Status() to gRPC codes: 401 → Unauthenticated, 400 (two authorization values,
// Bearer without a token) → InvalidArgument, 403 (scope, role, Check) → PermissionDenied, 503 (no usable
// keys) → Unavailable, which clients may retry. Every refusal except Unavailable also carries the HTTP challenge in a "www-authenticate"
// trailer, so a client can read the required scopes.
package jwtauthgrpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/jwtauth-go/jwtauth"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Config configures the server interceptors. New validates it.
type Config struct {
	// Verifier checks the tokens. Required.
	Verifier *jwtauth.Verifier
	// Methods gives the rule of a method by its full name ("/pkg.Service/Method") or of every method of a
	// service ("/pkg.Service/*"). A method's own entry wins over its service's. Health checks and reflection
	// are protected like any other service unless listed here as Public:
	//
	//	"/grpc.health.v1.Health/*":                    {Public: true},
	//	"/grpc.reflection.v1.ServerReflection/*":      {Public: true},
	//	"/grpc.reflection.v1alpha.ServerReflection/*": {Public: true},
	Methods map[string]Rule
	// Default is the rule of methods not in Methods. The zero Rule requires a valid token and nothing more.
	Default Rule
}

// Rule is what a call must present besides a valid token. The checks add up: a token must pass every one
// that is set, in the order of the fields.
type Rule struct {
	// Public lets calls through without looking at their metadata: no token is read, none is needed and
	// handlers get no claims. It cannot be combined with the other fields.
	Public bool
	// Scopes must all be granted by the token (scope, scp or permissions claims), as jwtauth.RequireScope.
	Scopes []string
	// AnyScope, when set, needs at least one of its scopes granted, as jwtauth.RequireAnyScope.
	AnyScope []string
	// Roles must all be carried by the token (Claims.Roles, read from TrustedIssuer.Roles), as
	// jwtauth.RequireRole.
	Roles []string
	// AnyRole, when set, needs at least one of its roles, as jwtauth.RequireAnyRole.
	AnyRole []string
	// Check, when set, runs last with the verified claims, as a jwtauth.Require predicate: a non-nil error
	// refuses the call with PermissionDenied "access denied" (Unauthenticated "token not accepted" for
	// jwtauth.Reject(err)); the error's text goes to no client.
	Check func(*jwtauth.Claims) error
}

// Interceptor holds the unary and stream server interceptors. It is safe for concurrent use.
type Interceptor struct {
	v        *jwtauth.Verifier
	methods  map[string]*rule // full method name → rule
	services map[string]*rule // "/pkg.Service/" → rule
	def      *rule
}

type rule struct {
	public                           bool
	scopes, anyScope, roles, anyRole []string
	check                            func(*jwtauth.Claims) error
}

// New validates cfg and returns the interceptors. Every problem found is reported in one error.
func New(cfg Config) (*Interceptor, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwtauthgrpc: Config."+format, args...))
	}
	if cfg.Verifier == nil {
		bad("Verifier is nil: build one with jwtauth.New")
	}
	compile := func(where string, r Rule) *rule {
		if r.Public && (len(r.Scopes)+len(r.AnyScope)+len(r.Roles)+len(r.AnyRole) > 0 || r.Check != nil) {
			bad("%s is Public and also requires scopes, roles or a Check: a public method reads no token, so drop one of the two", where)
		}
		for _, f := range []struct {
			name  string
			list  []string
			scope bool
		}{{"Scopes", r.Scopes, true}, {"AnyScope", r.AnyScope, true}, {"Roles", r.Roles, false}, {"AnyRole", r.AnyRole, false}} {
			for i, s := range f.list {
				switch {
				case f.scope && !isScopeToken(s):
					bad("%s.%s[%d] %q is not a valid scope (RFC 6749 §3.3: printable ASCII without space, '\"' or '\\'), so no token could grant it", where, f.name, i, s)
				case s == "":
					bad("%s.%s[%d] is empty: no token carries an empty role", where, f.name, i)
				}
			}
		}
		return &rule{public: r.Public, scopes: slices.Clone(r.Scopes), anyScope: slices.Clone(r.AnyScope),
			roles: slices.Clone(r.Roles), anyRole: slices.Clone(r.AnyRole), check: r.Check}
	}
	a := &Interceptor{v: cfg.Verifier, methods: map[string]*rule{}, services: map[string]*rule{}}
	a.def = compile("Default", cfg.Default)
	for name, r := range cfg.Methods {
		where := fmt.Sprintf("Methods[%q]", name)
		svc, method, ok := splitMethod(name)
		if !ok {
			bad(`%s: a key is a full method name "/pkg.Service/Method" or "/pkg.Service/*" for a whole service`, where)
			continue
		}
		c := compile(where, r)
		if method == "*" {
			a.services["/"+svc+"/"] = c
		} else {
			a.methods[name] = c
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// splitMethod splits "/pkg.Service/Method" (or "/pkg.Service/*") into its service and method names.
func splitMethod(name string) (svc, method string, ok bool) {
	rest, ok := strings.CutPrefix(name, "/")
	if !ok {
		return "", "", false
	}
	svc, method, ok = strings.Cut(rest, "/")
	ok = ok && svc != "" && method != "" && !strings.ContainsAny(svc, "* \t") &&
		!strings.ContainsAny(method, "/ \t") && (method == "*" || !strings.Contains(method, "*"))
	return svc, method, ok
}

// isScopeToken follows RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// ruleFor finds the rule of a full method name: its own, its service's, or the default.
func (a *Interceptor) ruleFor(fullMethod string) *rule {
	if !strings.HasPrefix(fullMethod, "/") {
		// Older gRPC servers route "pkg.Service/Method" like "/pkg.Service/Method": give it that method's rule.
		fullMethod = "/" + fullMethod
	}
	if r, ok := a.methods[fullMethod]; ok {
		return r
	}
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		if r, ok := a.services[fullMethod[:i+1]]; ok {
			return r
		}
	}
	return a.def
}

// Unary is a grpc.UnaryServerInterceptor: grpc.UnaryInterceptor(auth.Unary).
func (a *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := a.authorize(ctx, info.FullMethod)
	if err != nil {
		a.setChallenge(err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
		return nil, toStatus(err)
	}
	return handler(ctx, req)
}

// Stream is a grpc.StreamServerInterceptor: grpc.StreamInterceptor(auth.Stream). The handler's stream
// carries the claims in its Context.
func (a *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := a.authorize(ss.Context(), info.FullMethod)
	if err != nil {
		a.setChallenge(err, ss.SetTrailer)
		return toStatus(err)
	}
	if ctx != ss.Context() {
		ss = &stream{ServerStream: ss, ctx: ctx}
	}
	return handler(srv, ss)
}

// stream is a ServerStream whose Context carries the claims.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// authorize checks the call against its method's rule and returns the context with the claims.
// Its errors are *jwtauth.Error.
func (a *Interceptor) authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	r := a.ruleFor(fullMethod)
	if r.public {
		return ctx, nil
	}
	// All values of the key, so that two of them are refused; this copies them, not the whole metadata.
	token, err := jwtauth.BearerToken(metadata.ValueFromIncomingContext(ctx, "authorization"))
	if err != nil {
		a.v.LogRefusal(ctx, err) // as RequireAuth does; Verify logs its own refusals
		return ctx, err
	}
	c, err := a.v.Verify(ctx, token)
	if err != nil {
		return ctx, err
	}
	if err := r.authorize(c); err != nil {
		a.v.LogRefusal(ctx, err)
		return ctx, err
	}
	return jwtauth.NewContext(ctx, c), nil
}

// authorize runs the rule's checks on verified claims, in the order of Rule's fields.
func (r *rule) authorize(c *jwtauth.Claims) error {
	if len(r.scopes) > 0 {
		if err := c.CheckScopes(r.scopes...); err != nil {
			return err
		}
	}
	if len(r.anyScope) > 0 {
		if err := c.CheckAnyScope(r.anyScope...); err != nil {
			return err
		}
	}
	if len(r.roles) > 0 {
		if err := c.CheckRoles(r.roles...); err != nil {
			return err
		}
	}
	if len(r.anyRole) > 0 {
		if err := c.CheckAnyRole(r.anyRole...); err != nil {
			return err
		}
	}
	if r.check != nil {
		if err := r.check(c); err != nil {
			return jwtauth.Deny(err)
		}
	}
	return nil
}

// setChallenge hands the HTTP challenge for err to set as a www-authenticate trailer, when there is one.
func (a *Interceptor) setChallenge(err error, set func(metadata.MD)) {
	if ch := a.v.Challenge(err); ch != "" {
		set(metadata.Pairs("www-authenticate", ch))
	}
}

// toStatus turns a refusal into a gRPC status whose message is the fixed phrase of the HTTP challenge.
func toStatus(err error) error {
	var e *jwtauth.Error
	if !errors.As(err, &e) { // not reached: every refusal is an *Error; answer as writeError does
		return status.Error(codes.Unauthenticated, "malformed token")
	}
	code := codes.Unauthenticated
	switch e.Status() {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	}
	return status.Error(code, e.Description())
}
