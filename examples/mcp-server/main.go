// Command mcp-server is a Model Context Protocol server (streamable HTTP transport) protected the way the MCP
// authorization specification asks: it is an OAuth 2.1 resource server that accepts only access tokens issued
// for its canonical URI, publishes RFC 9728 protected-resource metadata naming its authorization server, and
// requires a scope per tool. With the login server of examples/login-server running on its defaults:
//
//	go -C examples run ./mcp-server
//
// See README.md for the whole walkthrough and which requirement each piece implements.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/serve"
)

func main() {
	os.Exit(run(os.Getenv, os.Stderr))
}

// Defaults: the login server's own defaults, so both examples work together with no environment at all.
const (
	defaultAddr     = ":8080"
	defaultIssuer   = "http://localhost:8000"
	defaultResource = "http://localhost:8080/mcp"
)

// config is what the server reads from the environment.
type config struct {
	addr string
	// issuer is the authorization server: the iss of accepted tokens, where its keys are discovered, and the
	// authorization_servers member of the metadata.
	issuer string
	// resource is the canonical URI of this MCP server (RFC 8707 §2, RFC 9728 §1.2): the audience every
	// token must carry, the resource member of the metadata, and, by its path, where the MCP endpoint is served.
	resource *url.URL
	// algorithms, when set, is the allow-list of token algorithms; empty means each discovered key's own alg.
	algorithms []string
}

// run starts the server and blocks until SIGINT or SIGTERM. It returns the exit code: 2 for a configuration
// problem, 1 when the server fails, 0 after a clean shutdown.
func run(getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "mcp-server: invalid configuration:\n%v\n", err)
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	s, err := newServer(context.Background(), cfg, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "mcp-server: invalid configuration:\n%v\n", err)
		return 2
	}
	defer s.Close()
	if err := s.v.Ready(); err != nil {
		logger.Warn("signing keys not loaded yet: retrying in the background; requests get 503 until then",
			"issuer", cfg.issuer, "error", err.Error())
	}
	logger.Info("mcp endpoint", "resource", cfg.resource.String(), "metadata", s.metadataURL, "issuer", cfg.issuer)
	return serve.Run(logger, cfg.addr, s.Handler())
}

// loadConfig reads ADDR (default :8080), ISSUER (default http://localhost:8000), RESOURCE (alias AUDIENCE;
// default http://localhost:8080/mcp) and ALGORITHMS (comma list; default: each key's own alg). It reports every
// problem at once.
func loadConfig(getenv func(string) string) (config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var problems []error
	cfg := config{addr: env("ADDR", defaultAddr), issuer: env("ISSUER", defaultIssuer)}

	resource, audience := strings.TrimSpace(getenv("RESOURCE")), strings.TrimSpace(getenv("AUDIENCE"))
	switch {
	case resource != "" && audience != "" && resource != audience:
		problems = append(problems, fmt.Errorf("RESOURCE %q and AUDIENCE %q differ: the audience of this server's tokens is its canonical URI, so set only RESOURCE", resource, audience))
	case resource == "":
		resource = audience
	}
	if resource == "" {
		resource = defaultResource
	}
	u, err := parseResource(resource)
	if err != nil {
		problems = append(problems, err)
	}
	cfg.resource = u
	if _, err := url.Parse(cfg.issuer); err != nil || !strings.Contains(cfg.issuer, "://") {
		problems = append(problems, fmt.Errorf("ISSUER %q is not an absolute URL: give the login server's issuer, e.g. http://localhost:8000", cfg.issuer))
	}
	if list := strings.FieldsFunc(getenv("ALGORITHMS"), func(r rune) bool { return r == ',' || r == ' ' }); len(list) > 0 {
		cfg.algorithms = list
	}
	return cfg, errors.Join(problems...)
}

// parseResource checks a canonical server URI as RFC 8707 §2 and the MCP specification ("Canonical Server
// URI") define it: absolute, https (http only for loopback), no fragment, no query, lowercase scheme and host,
// no trailing slash unless it is the whole path.
func parseResource(raw string) (*url.URL, error) {
	bad := func(why string) error {
		return fmt.Errorf("RESOURCE %q: %s; give the URL clients use for the MCP endpoint, e.g. https://mcp.example.com/mcp", raw, why)
	}
	if strings.ContainsAny(raw, "\"\\ \t\r\n") {
		return nil, bad("contains a quote, backslash or whitespace")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, bad("not an absolute URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, bad("the scheme must be https")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, bad("http is allowed only for a loopback host (localhost, 127.0.0.1, ::1): the MCP specification requires https")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, bad("a resource indicator must not have a fragment (RFC 8707 §2)")
	case u.RawQuery != "" || strings.Contains(raw, "?"):
		return nil, bad("a resource indicator should not have a query (RFC 8707 §2)")
	case u.User != nil:
		return nil, bad("user information does not belong in a resource indicator")
	case raw != strings.ToLower(u.Scheme)+"://"+strings.ToLower(u.Host)+u.EscapedPath():
		return nil, bad("write the scheme and host in lowercase, as clients send it")
	case len(u.Path) > 1 && strings.HasSuffix(u.Path, "/"):
		return nil, bad("drop the trailing slash (the MCP specification's canonical form)")
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// auth is the jwtauth configuration. Resource is the canonical URI, and with it the one audience tokens must
// carry (an issuer without Audiences checks aud against it), the resource of the RFC 9728 metadata, and the
// resource_metadata of every challenge: one setting, so they cannot drift apart. The authorization server's
// keys come by OpenID discovery (http is accepted by jwtauth for loopback issuers only).
func (c config) auth() jwtauth.Config {
	return jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     c.issuer,
			Algorithms: c.algorithms,
			Keys:       jwtauth.Discover(c.issuer),
		}},
		Resource:        c.resource.String(),
		ScopesSupported: scopesSupported(),
	}
}
