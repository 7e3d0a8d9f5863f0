package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadConfig_DefaultsMatchTheLoginServer(t *testing.T) {
	cfg, err := loadConfig(env(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.addr)
	assert.Equal(t, "http://localhost:8000", cfg.issuer)
	assert.Equal(t, "http://localhost:8080/mcp", cfg.resource.String())
	assert.Nil(t, cfg.algorithms)
	ac := cfg.auth()
	assert.Equal(t, "http://localhost:8080/mcp", ac.Resource)
	require.Len(t, ac.Issuers, 1)
	assert.Empty(t, ac.Issuers[0].Audiences, "no second audience setting: Resource is the audience")
	assert.Equal(t, []string{"mcp:echo", "mcp:time"}, ac.ScopesSupported)
}

func TestLoadConfig_AudienceIsAnAliasOfResource(t *testing.T) {
	cfg, err := loadConfig(env(map[string]string{"AUDIENCE": "https://mcp.example.com/mcp", "ALGORITHMS": "ES256, RS256"}))
	require.NoError(t, err)
	assert.Equal(t, "https://mcp.example.com/mcp", cfg.resource.String())
	assert.Equal(t, []string{"ES256", "RS256"}, cfg.algorithms)

	cfg, err = loadConfig(env(map[string]string{"RESOURCE": "https://mcp.example.com", "AUDIENCE": "https://mcp.example.com"}))
	require.NoError(t, err)
	assert.Equal(t, "https://mcp.example.com", cfg.auth().Resource)
}

func TestLoadConfig_RefusesResourcesThatAreNotCanonicalURIs(t *testing.T) {
	tests := []struct{ resource, want string }{
		{"mcp.example.com", "not an absolute URL"},
		{"ftp://mcp.example.com/mcp", "scheme must be https"},
		{"http://mcp.example.com/mcp", "http is allowed only for a loopback host"},
		{"https://mcp.example.com/mcp#x", "fragment"},
		{"https://mcp.example.com/mcp?tenant=a", "query"},
		{"https://MCP.example.com/mcp", "lowercase"},
		{"https://mcp.example.com/mcp/", "trailing slash"},
		{`https://mcp.example.com/m"cp`, "quote"},
		{"https://user@mcp.example.com/mcp", "user information"},
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			_, err := loadConfig(env(map[string]string{"RESOURCE": tt.resource}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "RESOURCE")
		})
	}
}

func TestLoadConfig_ReportsEveryProblemAtOnce(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"RESOURCE": "https://a.example.com/mcp", "AUDIENCE": "https://b.example.com/mcp", "ISSUER": "login-server",
	}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "RESOURCE \"https://a.example.com/mcp\" and AUDIENCE \"https://b.example.com/mcp\" differ")
	assert.Contains(t, err.Error(), "ISSUER \"login-server\" is not an absolute URL")
}

func TestRun_BadConfigurationExits2(t *testing.T) {
	var stderr strings.Builder
	code := run(env(map[string]string{"RESOURCE": "http://mcp.example.com/mcp"}), &stderr)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr.String(), "mcp-server: invalid configuration")
	assert.Contains(t, stderr.String(), "loopback")
}
