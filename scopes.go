package jwtauth

import (
	"fmt"
	"net/http"
	"strings"
)

// HasScope reports whether the token grants scope, exactly and case-sensitively, through scope, scp or
// permissions.
func (c *Claims) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// HasAllScopes reports whether the token grants every one of scopes.
func (c *Claims) HasAllScopes(scopes ...string) bool {
	for _, s := range scopes {
		if !c.HasScope(s) {
			return false
		}
	}
	return true
}

// HasAnyScope reports whether the token grants at least one of scopes.
func (c *Claims) HasAnyScope(scopes ...string) bool {
	for _, s := range scopes {
		if c.HasScope(s) {
			return true
		}
	}
	return false
}

// CheckScopes returns nil when the token grants every one of scopes, and otherwise the *Error that RequireScope
// refuses with (ErrInsufficientScope, status 403, RequiredScopes set). It is for other transports, such as gRPC.
func (c *Claims) CheckScopes(scopes ...string) error {
	if e := c.scopeError(scopes, true); e != nil {
		return e
	}
	return nil
}

// CheckAnyScope is CheckScopes satisfied by any one of scopes.
func (c *Claims) CheckAnyScope(scopes ...string) error {
	if e := c.scopeError(scopes, false); e != nil {
		return e
	}
	return nil
}

// scopeError is the refusal of a token that lacks scopes, or nil when it has them.
func (c *Claims) scopeError(scopes []string, all bool) *Error {
	if all && c.HasAllScopes(scopes...) || !all && c.HasAnyScope(scopes...) {
		return nil
	}
	e := newError(failScope, scopeMessage(scopes, all))
	e.scopes = append([]string(nil), scopes...)
	return e
}

// RequireScope returns middleware that lets a request through only when its token grants every one of scopes;
// otherwise it answers 403 with error="insufficient_scope" and the required scopes. Put it behind RequireAuth:
// without verified claims in the context it answers 401. It panics if a scope is not a valid RFC 6749 scope
// token (no spaces, quotes or backslashes), since that is a programming error.
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return scopeMiddleware(scopes, true)
}

// RequireAnyScope is RequireScope satisfied by any one of scopes.
func RequireAnyScope(scopes ...string) func(http.Handler) http.Handler {
	return scopeMiddleware(scopes, false)
}

func scopeMiddleware(scopes []string, all bool) func(http.Handler) http.Handler {
	if len(scopes) == 0 {
		panic("jwtauth: RequireScope needs at least one scope")
	}
	for _, s := range scopes {
		if !isScopeToken(s) {
			panic(fmt.Sprintf("jwtauth: %q is not a valid scope (RFC 6749 §3.3: printable ASCII without space, '\"' or '\\')", s))
		}
	}
	scopes = append([]string(nil), scopes...)
	return authorize("RequireScope", func(c *Claims) *Error { return c.scopeError(scopes, all) })
}

func scopeMessage(scopes []string, all bool) string {
	if all {
		return fmt.Sprintf("token lacks a required scope; all of %s are required", quoteList(scopes))
	}
	return fmt.Sprintf("token lacks a required scope; one of %s is required", quoteList(scopes))
}

// isScopeToken follows RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return !strings.ContainsRune(s, ' ')
}
