package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/jwtauth-go/jwtauth"
)

// requireToolScopes answers 403 insufficient_scope, with the challenge of the MCP specification's "Runtime
// Insufficient Scope Errors", to a tools/call for a tool the token may not call. Every MCP message is a POST to
// one endpoint, so the tool is known only from the JSON-RPC body, and a tool handler cannot choose the HTTP
// status (the SDK has begun a 200 response by then): the body is read here, bounded, and handed on unchanged.
// The tool handlers check the same scope again (guard), so a message this parser reads differently from the
// SDK's is still refused, as a tool error.
func (s *server) requireToolScopes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		if err != nil {
			status, code := http.StatusBadRequest, "invalid_request"
			if errors.As(err, new(*http.MaxBytesError)) {
				status, code = http.StatusRequestEntityTooLarge, "request_too_large"
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "the request body could not be read"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		required, id := toolCallScopes(body)
		if len(required) > 0 {
			c, ok := jwtauth.ClaimsFromContext(r.Context())
			if !ok { // unreachable behind RequireAuth; refuse rather than serve
				s.refuse(w, r, jwtauth.Reject(errors.New("requireToolScopes found no verified claims")))
				return
			}
			if !c.HasAllScopes(required...) {
				if id != nil {
					r = r.WithContext(withRPCID(r.Context(), id))
				}
				s.v.Refuse(w, r, c.CheckScopes(challengeScopes(c, required)...))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// challengeScopes is the scope attribute of a refusal: the scopes the request needs plus those of this
// server the token already has, the specification's "recommended approach", so a client that re-authorizes
// with exactly these does not lose what it could do before. Only configured scope names are ever sent.
func challengeScopes(c *jwtauth.Claims, required []string) []string {
	out := slices.Clone(required)
	for _, s := range scopesSupported() {
		if c.HasScope(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// rpcCall is the part of a JSON-RPC message the scope check reads. Members are matched exactly, as the SDK's
// decoder matches them (encoding/json's struct decoding would also take "NAME" for "name").
type rpcCall struct {
	id     json.RawMessage
	method string
	name   string
}

// parseCall reads one JSON-RPC message; ok is false when it is not a JSON object.
func parseCall(raw []byte) (c rpcCall, ok bool) {
	var msg map[string]json.RawMessage
	if json.Unmarshal(raw, &msg) != nil {
		return c, false
	}
	c.id = msg["id"]
	_ = json.Unmarshal(msg["method"], &c.method)
	var params map[string]json.RawMessage
	if json.Unmarshal(msg["params"], &params) == nil {
		_ = json.Unmarshal(params["name"], &c.name)
	}
	return c, true
}

// toolCallScopes returns the scopes the tools/call messages of body require, and the id of the call when body
// is a single message with a string or number id. A body that is not JSON-RPC requires nothing here: the SDK
// refuses it. Batches (allowed by protocol 2025-03-26 only) require the scopes of all their calls.
func toolCallScopes(body []byte) (required []string, id json.RawMessage) {
	var calls []rpcCall
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(body, &batch) != nil {
			return nil, nil
		}
		for _, raw := range batch {
			if c, ok := parseCall(raw); ok {
				calls = append(calls, c)
			}
		}
	} else {
		one, ok := parseCall(body)
		if !ok {
			return nil, nil
		}
		calls = []rpcCall{one}
		if len(one.id) > 0 && (one.id[0] == '"' || one.id[0] == '-' || one.id[0] >= '0' && one.id[0] <= '9') {
			id = one.id
		}
	}
	for _, c := range calls {
		if c.method != "tools/call" {
			continue
		}
		if scope := toolScope(c.name); scope != "" && !slices.Contains(required, scope) {
			required = append(required, scope)
		}
	}
	return required, id
}
