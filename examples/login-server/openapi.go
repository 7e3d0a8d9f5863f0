package main

import (
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDoc describes every route of the server; TestOpenAPI_DescribesEveryRoute keeps it in step with
// routeTable.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPIHandler serves openapi.json.
func openAPIHandler() http.Handler {
	length := strconv.Itoa(len(openAPIDoc))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", length)
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(openAPIDoc)
	})
}
