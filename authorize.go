package jwtauth

import (
	"net/http"
)

// Require returns middleware that lets a request through only when check accepts its verified claims, for
// any rule the scope and role helpers do not express:
//
//	jwtauth.Require(func(c *jwtauth.Claims) error {
//		if c.IssuedAt.IsZero() || time.Since(c.IssuedAt) > 10*time.Minute {
//			return errors.New("a fresh login is required")
//		}
//		return nil
//	})
//
// check sees the claims only; a rule that needs the request (does the caller own /users/{id}?) belongs in the
// handler, which refuses with Verifier.Refuse.
//
// A non-nil error refuses the request exactly as the library's own checks do: through Config.ErrorHandler
// when set, else 403 with error="insufficient_scope", error_description="access denied" and the realm. The
// error passed to ErrorHandler is an *Error that matches ErrAccessDenied and wraps check's error (errors.Is
// and errors.As reach it); check's message goes to logs only, never on the wire. Return Reject(err) for a 401
// instead, when the token itself is not acceptable. Put Require behind RequireAuth: without verified claims
// in the context it answers 401. check must not modify the claims. It panics if check is nil.
func Require(check func(*Claims) error) func(http.Handler) http.Handler {
	if check == nil {
		panic("jwtauth: Require needs a check function")
	}
	return authorize("Require", func(c *Claims) *Error {
		if err := check(c); err != nil {
			return Deny(err)
		}
		return nil
	})
}

// authorize is the one shape of every authorization middleware (scopes, roles, predicates): find the
// verified claims, run check, and refuse through the Verifier that verified them.
func authorize(name string, check func(*Claims) *Error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFromContext(r.Context())
			if !ok {
				writeError(w, newError(failNoToken, name+" found no verified claims: put it behind RequireAuth"), nil)
				return
			}
			if e := check(c); e != nil {
				c.v.refuseAuthorization(w, r, e)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Refuse answers r as the middleware answers a refused request, through Config.ErrorHandler when set, else
// with the RFC 6750 status, challenge (with the realm) and JSON body of err. err that is or wraps an *Error
// (Deny, Reject, an error of Verify) keeps that answer; any other error is answered as Deny(err). Use it for
// checks made inside a handler, such as whether the caller owns the requested record.
func (v *Verifier) Refuse(w http.ResponseWriter, r *http.Request, err error) {
	v.refuseAuthorization(w, r, Deny(err))
}

// refuseAuthorization logs (rate-limited, like token refusals) and answers a refusal after authentication.
// v is nil for claims that no Verifier made (a test's NewContext).
func (v *Verifier) refuseAuthorization(w http.ResponseWriter, r *http.Request, e *Error) {
	if v != nil {
		v.refusals.log(r.Context(), e)
	}
	v.refuse(w, r, e)
}
