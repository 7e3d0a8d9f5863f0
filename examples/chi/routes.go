package main

import (
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jwtauth-go/jwtauth"
)

// newRouter wires jwtauth into chi. v.RequireAuth, v.OptionalAuth and jwtauth.RequireScope are all
// func(http.Handler) http.Handler, so they go wherever chi takes middleware: r.Use, r.With, r.Group.
func newRouter(v *jwtauth.Verifier) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "no such route"})
	})

	// Public: no token needed.
	r.Get("/api/public", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"message": "Hello from a public endpoint!"})
	})

	// Optional: anonymous callers are welcome, signed-in ones are greeted by name; a bad token is still a 401.
	r.With(v.OptionalAuth).Get("/api/greeting", func(w http.ResponseWriter, r *http.Request) {
		claims, ok := jwtauth.ClaimsFromContext(r.Context())
		if !ok {
			writeJSON(w, http.StatusOK, map[string]any{"message": "Hello, stranger! Sign in for a personal greeting.", "signed_in": false})
			return
		}
		name, err := jwtauth.GetClaim[string](claims, "name")
		if err != nil || name == "" {
			name = claims.Subject
		}
		writeJSON(w, http.StatusOK, map[string]any{"message": "Welcome back, " + name + "!", "signed_in": true})
	})

	// Everything in this group needs a valid token.
	r.Group(func(r chi.Router) {
		r.Use(v.RequireAuth)

		r.Get("/api/me", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := jwtauth.ClaimsFromContext(r.Context())
			writeJSON(w, http.StatusOK, map[string]any{"sub": claims.Subject, "scopes": claims.Scopes})
		})

		// Reading messages needs read:messages.
		r.Group(func(r chi.Router) {
			r.Use(jwtauth.RequireScope("read:messages"))
			r.Get("/api/messages", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]any{"messages": []string{"Hello from chi!"}})
			})
		})

		// Writing needs write:messages, or admin.
		r.Group(func(r chi.Router) {
			r.Use(jwtauth.RequireAnyScope("admin", "write:messages"))
			r.Post("/api/messages", func(w http.ResponseWriter, r *http.Request) {
				claims, _ := jwtauth.ClaimsFromContext(r.Context())
				writeJSON(w, http.StatusCreated, map[string]any{"message": "message posted", "author": claims.Subject})
			})
		})
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // an error here is a client gone away
}
