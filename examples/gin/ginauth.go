package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jwtauth-go/jwtauth"
)

// Wrap runs net/http middleware of the func(http.Handler) http.Handler shape (v.RequireAuth, v.OptionalAuth,
// jwtauth.RequireScope, jwtauth.RequireRole, ...) as a gin handler. When the middleware lets the request
// through, the rest of the gin chain runs with the request it passed on, so the verified claims are in
// c.Request's context (and Claims finds them). When it refuses, it has written jwtauth's own response (status,
// WWW-Authenticate, JSON body, exactly as with net/http) and the chain is aborted. It fits middleware that
// pass the ResponseWriter on unchanged, as jwtauth's do.
func Wrap(mw func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		passed := false
		mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !passed {
			c.Abort()
		}
	}
}

// Claims returns the verified claims of the request behind Wrap(v.RequireAuth) or Wrap(v.OptionalAuth);
// ok is false when the request was not authenticated.
func Claims(c *gin.Context) (claims *jwtauth.Claims, ok bool) {
	return jwtauth.ClaimsFromContext(c.Request.Context())
}
