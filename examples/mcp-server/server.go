package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Bounds of the MCP endpoint.
const (
	// maxBodyBytes bounds a JSON-RPC request body, for the scope check that reads it and for the SDK alike.
	maxBodyBytes = 1 << 20
	// sessionIdle closes MCP sessions that saw no request for this long, so abandoned sessions do not pile up.
	sessionIdle = 10 * time.Minute
)

// server is the MCP server with its verifier. Close releases the verifier's background refreshes.
type server struct {
	v           *jwtauth.Verifier
	mcp         *mcp.Server
	now         func() time.Time
	metadataURL string // where the RFC 9728 document is served, named by every challenge
	endpoint    string // path of the MCP endpoint: the path of the canonical URI
}

// newServer builds the verifier for cfg and the MCP server with its tools. now is the clock of the time
// tool and of the verifier; nil means time.Now.
func newServer(ctx context.Context, cfg config, logger *slog.Logger, now func() time.Time) (*server, error) {
	if now == nil {
		now = time.Now
	}
	s := &server{now: now, endpoint: cfg.resource.EscapedPath()}
	if s.endpoint == "" {
		s.endpoint = "/"
	}
	ac := cfg.auth()
	ac.Clock, ac.Logger, ac.ErrorHandler = now, logger, s.refuse
	v, err := jwtauth.New(ctx, ac)
	if err != nil {
		return nil, err
	}
	s.v = v
	s.metadataURL = v.ResourceMetadataURL()
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "jwtauth-mcp-example", Version: "1.0.0"}, &mcp.ServerOptions{Logger: logger})
	s.addTools()
	return s, nil
}

// Close stops the verifier's key refreshes.
func (s *server) Close() error { return s.v.Close() }

// Handler serves the MCP endpoint at the path of the canonical URI and the protected-resource metadata at both
// well-known locations the MCP specification lists.
func (s *server) Handler() http.Handler {
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		SessionTimeout:      sessionIdle,
		MaxRequestBodyBytes: maxBodyBytes,
	})
	// Outside in: jwtauth verifies the token (every refusal: 401/400/503 with the challenge); the SDK's
	// middleware turns the verified claims into its TokenInfo, which binds each session to its user and
	// reaches tool handlers as req.Extra.TokenInfo; requireToolScopes answers 403 for a tool the token may
	// not call, before the SDK starts a 200 response.
	endpoint := s.v.RequireAuth(auth.RequireBearerToken(tokenInfo, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: s.metadataURL,
		ClockSkew:           jwtauth.DefaultLeeway, // jwtauth accepted the token with this leeway already
	})(s.requireToolScopes(streamable)))

	// The metadata at the path-suffixed URL of RFC 9728 §3.1 (the one challenges name) and at the bare
	// well-known path, the two locations MCP clients try; the handler answers 404 for any other path.
	mux := http.NewServeMux()
	mux.Handle(jwtauth.ResourceMetadataPath, s.v.ResourceMetadata())
	mux.Handle(jwtauth.ResourceMetadataPath+"/", s.v.ResourceMetadata())
	mux.Handle(s.endpoint, endpoint)
	return mux
}

// tokenInfoExtraKey is where the verified *jwtauth.Claims travel inside the SDK's TokenInfo.
const tokenInfoExtraKey = "jwtauth.claims"

// tokenInfo is the SDK's TokenVerifier, behind RequireAuth: it never parses the token, it hands on the claims
// RequireAuth verified for this very request.
func tokenInfo(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	c, ok := jwtauth.ClaimsFromContext(r.Context())
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{
		Scopes:     c.Scopes,
		Expiration: c.ExpiresAt,
		// The SDK refuses a request whose session was opened by another user (session hijacking).
		UserID: c.Issuer + " " + c.Subject,
		Extra:  map[string]any{tokenInfoExtraKey: c},
	}, nil
}

// claimsOf returns the verified claims of the HTTP request that carried a tool call. They come from the
// request itself, not from the session: a client that stepped up to a token with more scopes is judged by
// the new token.
func claimsOf(req *mcp.CallToolRequest) (*jwtauth.Claims, bool) {
	if req == nil || req.Extra == nil || req.Extra.TokenInfo == nil {
		return nil, false
	}
	c, ok := req.Extra.TokenInfo.Extra[tokenInfoExtraKey].(*jwtauth.Claims)
	return c, ok && c != nil
}
