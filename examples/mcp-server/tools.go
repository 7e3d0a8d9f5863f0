package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// tools is the one table of tools and the scope each needs: the scope middleware, the tool handlers and the
// metadata's scopes_supported all read it. "" means any valid token for this server may call the tool.
var tools = []struct{ name, scope string }{
	{"whoami", ""},
	{"echo", "mcp:echo"},
	{"time", "mcp:time"},
}

// toolScope is the scope the named tool requires, or "" when it needs none or does not exist.
func toolScope(name string) string {
	for _, t := range tools {
		if t.name == name {
			return t.scope
		}
	}
	return ""
}

// scopesSupported lists the scopes of the tools table, for scopes_supported.
func scopesSupported() []string {
	var out []string
	for _, t := range tools {
		if t.scope != "" && !slices.Contains(out, t.scope) {
			out = append(out, t.scope)
		}
	}
	return out
}

// WhoamiOutput describes the caller as the verified token does.
type WhoamiOutput struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// EchoInput is the argument of the echo tool.
type EchoInput struct {
	Text string `json:"text" jsonschema:"the text to send back"`
}

// EchoOutput is the result of the echo tool.
type EchoOutput struct {
	Text string `json:"text"`
}

// TimeInput is the argument of the time tool.
type TimeInput struct {
	Zone string `json:"zone,omitempty" jsonschema:"an IANA time zone such as Europe/Paris; UTC when empty"`
}

// TimeOutput is the result of the time tool.
type TimeOutput struct {
	Time string `json:"time"`
	Zone string `json:"zone"`
}

func (s *server) addTools() {
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "whoami", Description: "Who the access token says the caller is, and its scopes."},
		guard("whoami", func(_ context.Context, c *jwtauth.Claims, _ struct{}) (WhoamiOutput, error) {
			return WhoamiOutput{Subject: c.Subject, Issuer: c.Issuer, Scopes: c.Scopes, ExpiresAt: c.ExpiresAt}, nil
		}))
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "echo", Description: "Sends the text back. Needs scope mcp:echo."},
		guard("echo", func(_ context.Context, _ *jwtauth.Claims, in EchoInput) (EchoOutput, error) {
			return EchoOutput(in), nil
		}))
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "time", Description: "The current time in a time zone. Needs scope mcp:time."},
		guard("time", func(_ context.Context, _ *jwtauth.Claims, in TimeInput) (TimeOutput, error) {
			zone := in.Zone
			if zone == "" {
				zone = "UTC"
			}
			loc, err := time.LoadLocation(zone)
			if err != nil {
				return TimeOutput{}, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Paris", zone)
			}
			return TimeOutput{Time: s.now().In(loc).Format(time.RFC3339), Zone: zone}, nil
		}))
}

// guard wraps a tool with the check of its scope against the claims of the request that carried the call.
// requireToolScopes has refused such a call with 403 already; this check stands if a message ever reaches
// the SDK that the middleware read differently, and the tool then answers with a tool error.
func guard[In, Out any](name string, h func(context.Context, *jwtauth.Claims, In) (Out, error)) mcp.ToolHandlerFor[In, Out] {
	scope := toolScope(name)
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var zero Out
		c, ok := claimsOf(req)
		if !ok {
			return nil, zero, errors.New("no verified token for this call")
		}
		if scope != "" {
			if err := c.CheckScopes(scope); err != nil {
				return nil, zero, err
			}
		}
		out, err := h(ctx, c, in)
		return nil, out, err
	}
}
