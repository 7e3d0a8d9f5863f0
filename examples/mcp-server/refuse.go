package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jwtauth-go/jwtauth"
)

// rpcIDKey marks a refusal of a JSON-RPC call whose id is known, so the body can be a JSON-RPC error.
type rpcIDKey struct{}

// refuse is the verifier's ErrorHandler, so every refusal (no token, bad token, missing scope, no keys) gets
// jwtauth's status, fixed phrases and challenge, which names the metadata (resource_metadata, RFC 9728 §5.1)
// on 401 and, as the MCP specification asks "for consistency", on 403. The body is the RFC 6750 JSON error;
// for a refused tools/call it is a JSON-RPC error response carrying the same members, because the SDK client
// keeps its session usable only after a JSON-RPC error body, and can then retry after stepping up.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var e *jwtauth.Error
	if !errors.As(err, &e) {
		e = jwtauth.Reject(err)
	}
	h := w.Header()
	if ch := s.v.Challenge(e); ch != "" {
		h.Set("WWW-Authenticate", ch)
	} else {
		h.Set("Retry-After", "5")
	}
	code := e.Code()
	if code == "" {
		code = "unauthorized"
	}
	body := map[string]any{"error": code, "error_description": e.Description()}
	if scopes := e.RequiredScopes(); len(scopes) > 0 {
		body["scope"] = scopes
	}
	var out any = body
	if id, ok := r.Context().Value(rpcIDKey{}).(json.RawMessage); ok {
		// -32001: implementation-defined server error (JSON-RPC 2.0 §5.1); MCP assigns no code to authorization.
		out = map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{
			"code": -32001, "message": code + ": " + e.Description(), "data": body,
		}}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status())
	_ = json.NewEncoder(w).Encode(out)
}

// withRPCID returns ctx marked with the JSON-RPC id of the call being refused.
func withRPCID(ctx context.Context, id json.RawMessage) context.Context {
	return context.WithValue(ctx, rpcIDKey{}, id)
}
