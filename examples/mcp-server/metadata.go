package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/jwtauth-go/jwtauth"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// wellKnown is the RFC 9728 §3 well-known path of protected-resource metadata.
const wellKnown = "/.well-known/oauth-protected-resource"

// metadataURL is the most specific metadata location of resource (RFC 9728 §3.1: the well-known path inserted
// between the host and the resource's path), the one the MCP specification has clients try first.
func metadataURL(resource *url.URL) string {
	u := url.URL{Scheme: resource.Scheme, Host: resource.Host, Path: wellKnown}
	if p := resource.EscapedPath(); p != "" && p != "/" {
		u.Path += resource.Path
	}
	return u.String()
}

// metadataHandler serves the RFC 9728 §2 document. Every member comes from the configuration the verifier
// enforces: resource is the audience tokens must carry, authorization_servers the one issuer trusted,
// scopes_supported the scopes of the tools table.
//
// jwtauth has no metadata handler yet; when it has one built from the Verifier's configuration, this function
// and challenge below are the only places to change.
func (s *server) metadataHandler() http.Handler {
	return auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:               s.cfg.resource.String(),
		AuthorizationServers:   []string{s.cfg.issuer},
		ScopesSupported:        scopesSupported(),
		BearerMethodsSupported: []string{"header"}, // RFC 6750 §2.1 only: the MCP specification forbids tokens in the query
		ResourceName:           "jwtauth MCP example",
	})
}

// challenge is the WWW-Authenticate value for a refusal: jwtauth's RFC 6750 challenge plus resource_metadata
// (RFC 9728 §5.1), which the MCP specification asks for on 401 and, "for consistency", on 403. The URL was
// checked at startup to hold no quote or backslash. "" for 503, which carries Retry-After instead.
func (s *server) challenge(err error) string {
	ch := s.v.Challenge(err)
	switch ch {
	case "":
		return ""
	case "Bearer":
		return `Bearer resource_metadata="` + s.metadataURL + `"`
	default:
		return ch + `, resource_metadata="` + s.metadataURL + `"`
	}
}

// rpcIDKey marks a refusal of a JSON-RPC call whose id is known, so the body can be a JSON-RPC error.
type rpcIDKey struct{}

// refuse is the verifier's ErrorHandler, so every refusal (no token, bad token, missing scope, no keys) gets
// jwtauth's status and fixed phrases with the challenge above. The body is the RFC 6750 JSON error; for a
// refused tools/call it is a JSON-RPC error response carrying the same members, because the SDK client keeps
// its session alive only for a JSON-RPC error body and can then retry after stepping up.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var e *jwtauth.Error
	if !errors.As(err, &e) {
		e = jwtauth.Reject(err)
	}
	h := w.Header()
	if ch := s.challenge(e); ch != "" {
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
