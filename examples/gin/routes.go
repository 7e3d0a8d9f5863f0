package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/jwtauth-go/jwtauth"
)

// newRouter wires jwtauth into gin through Wrap: a public route, a group that needs a valid token, a route
// in it that needs a scope, and a subgroup that needs a role. Refusals are jwtauth's own responses.
func newRouter(v *jwtauth.Verifier) *gin.Engine {
	r := gin.New()
	r.Use(gin.Recovery())
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not_found", "error_description": "no such route"})
	})

	r.GET("/api/public", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": "Hello from a public endpoint!"})
	})

	// Optional: anonymous callers are welcome, signed-in ones are greeted by name; a bad token is still a 401.
	// Registered on r, not on api, so api's RequireAuth does not apply.
	r.GET("/api/greeting", Wrap(v.OptionalAuth), func(c *gin.Context) {
		if claims, ok := Claims(c); ok {
			c.JSON(http.StatusOK, gin.H{"message": "Welcome back, " + claims.Subject + "!", "signed_in": true})
			return
		}
		c.JSON(http.StatusOK, gin.H{"message": "Hello, stranger!", "signed_in": false})
	})

	api := r.Group("/api", Wrap(v.RequireAuth)) // a valid token from here on
	api.GET("/me", func(c *gin.Context) {
		claims, _ := Claims(c)
		c.JSON(http.StatusOK, gin.H{"sub": claims.Subject, "scopes": claims.Scopes, "roles": claims.Roles})
	})
	api.GET("/messages", Wrap(jwtauth.RequireScope("read:messages")), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"messages": []string{"Hello from gin!"}})
	})

	admin := api.Group("/admin", Wrap(jwtauth.RequireRole("admin")))
	admin.GET("/stats", func(c *gin.Context) {
		claims, _ := Claims(c)
		c.JSON(http.StatusOK, gin.H{"requests": 42, "admin": claims.Subject})
	})
	return r
}
