package jwtauth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testResource = "https://api.example.test/mcp"

// withResource makes testResource the verifier's resource and, through empty Audiences, its audience.
func withResource(c *jwtauth.Config) {
	c.Resource = testResource
	c.Issuers[0].Audiences = nil
}

func localES256Keys() jwtauth.KeySource {
	return jwtauth.LocalKeys(jwksOf(map[string]string{"k1": "ES256"}, map[string]crypto.Signer{"k1": testKey("ES256", 0)}))
}

func TestResourceMetadata_PublishesTheConfiguration(t *testing.T) {
	f := newLocal(t, "ES256", withResource, func(c *jwtauth.Config) {
		c.ScopesSupported = []string{"read:messages", "write:messages"}
		c.TokenQuery = "access_token"
		c.Issuers[0].MTLS = jwtauth.MTLSAllowed
		c.Issuers = append(c.Issuers, jwtauth.TrustedIssuer{Issuer: "https://login.example.test/{tenantid}/v2.0",
			Tenants: []string{"t1", "t2"}, Algorithms: []string{"ES256"}, Keys: localES256Keys()})
	})
	mux := http.NewServeMux()
	mux.Handle(jwtauth.ResourceMetadataPath, f.v.ResourceMetadata())
	mux.Handle(jwtauth.ResourceMetadataPath+"/", f.v.ResourceMetadata())
	assert.Equal(t, "https://api.example.test/.well-known/oauth-protected-resource/mcp", f.v.ResourceMetadataURL())

	want := `{"resource":"https://api.example.test/mcp",
		"authorization_servers":["https://issuer.example.test/","https://login.example.test/t1/v2.0","https://login.example.test/t2/v2.0"],
		"scopes_supported":["read:messages","write:messages"],
		"bearer_methods_supported":["header","query"],
		"tls_client_certificate_bound_access_tokens":true}`
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, w.Code, path)
		assert.JSONEq(t, want, w.Body.String(), path)
		assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
		assert.Equal(t, "public, max-age=3600", w.Header().Get("Cache-Control"))
		assert.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
	}

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/.well-known/oauth-protected-resource/mcp", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, w.Body.String(), "HEAD has no body")
	assert.NotEmpty(t, w.Header().Get("Content-Length"))

	for method, status := range map[string]int{http.MethodPost: 405, http.MethodPut: 405, http.MethodDelete: 405, http.MethodOptions: 204} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, "/.well-known/oauth-protected-resource/mcp", nil))
		assert.Equal(t, status, w.Code, method)
		if status == 405 {
			assert.Equal(t, "GET, HEAD, OPTIONS", w.Header().Get("Allow"))
		}
	}
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/other", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "another resource's metadata path")
}

func TestResourceMetadata_MinimalDocumentOmitsDefaults(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Resource = testAudience + "/"
		c.Issuers[0].Audiences = nil
	})
	assert.Equal(t, "https://api.example.test/.well-known/oauth-protected-resource", f.v.ResourceMetadataURL(), "a root path adds nothing to the well-known path")
	w := httptest.NewRecorder()
	f.v.ResourceMetadata().ServeHTTP(w, httptest.NewRequest(http.MethodGet, jwtauth.ResourceMetadataPath, nil))
	require.Equal(t, http.StatusOK, w.Code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &doc))
	assert.Equal(t, map[string]any{"resource": testAudience + "/", "authorization_servers": []any{testIssuer},
		"bearer_methods_supported": []any{"header"}}, doc, "no signed metadata, no DPoP and no mTLS members")
}

// The resource is the audience (RFC 8707): tokens for it are accepted, tokens for another API are not.
func TestNew_ResourceIsTheAudience(t *testing.T) {
	f := newLocal(t, "ES256", withResource)
	_, err := f.verify(f.token(nil, map[string]any{"aud": testResource}))
	assert.NoError(t, err)
	_, err = f.verify(f.token(nil, map[string]any{"aud": testAudience}))
	assert.ErrorContains(t, err, `expected "`+testResource+`"`)
}

func TestRequireAuth_EveryChallengeNamesTheResourceMetadata(t *testing.T) {
	f := newLocal(t, "ES256", withResource, func(c *jwtauth.Config) { c.Realm = "api" })
	h := f.v.RequireAuth(jwtauth.RequireScope("admin")(&okHandler{}))
	const meta = `resource_metadata="https://api.example.test/.well-known/oauth-protected-resource/mcp"`
	cases := []struct {
		name   string
		auth   []string
		status int
		want   string
	}{
		{"no token", nil, 401, `Bearer realm="api", ` + meta},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, 401, `Bearer realm="api", ` + meta},
		{"malformed token", []string{"Bearer abc"}, 401, `Bearer realm="api", error="invalid_token", error_description="malformed token", ` + meta},
		{"expired token", []string{"Bearer " + f.token(nil, map[string]any{"aud": testResource, "exp": 1})}, 401,
			`Bearer realm="api", error="invalid_token", error_description="token expired", ` + meta},
		{"token for another audience", []string{"Bearer " + f.token(nil, nil)}, 401,
			`Bearer realm="api", error="invalid_token", error_description="audience not accepted", ` + meta},
		{"two tokens", []string{"Bearer a", "Bearer b"}, 400, `Bearer realm="api", error="invalid_request", error_description="malformed credentials", ` + meta},
		{"missing scope", []string{"Bearer " + f.token(nil, map[string]any{"aud": testResource})}, 403,
			`Bearer realm="api", error="insufficient_scope", scope="admin", ` + meta},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(h, tc.auth...)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, []string{tc.want}, w.Header().Values("WWW-Authenticate"))
		})
	}
	_, err := f.verify("abc")
	assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="malformed token", `+meta, f.v.Challenge(err),
		"other transports (gRPC) get the same challenge")
}

func TestNew_ValidatesResource(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*jwtauth.Config)
		want   string
	}{
		{"http for a public host", func(c *jwtauth.Config) { c.Resource = "http://api.example.com" }, "must be an https URL"},
		{"relative", func(c *jwtauth.Config) { c.Resource = "/api" }, "is not an absolute URL"},
		{"fragment", func(c *jwtauth.Config) { c.Resource = "https://api.example.com/#x" }, "has a fragment"},
		{"query", func(c *jwtauth.Config) { c.Resource = "https://api.example.com/?v=1" }, "has a query"},
		{"credentials", func(c *jwtauth.Config) { c.Resource = "https://u:p@api.example.com" }, "carries credentials"},
		{"quote", func(c *jwtauth.Config) { c.Resource = `https://api.example.com/"x` }, "printable ASCII"},
		{"not among Audiences", func(c *jwtauth.Config) { c.Resource = "https://other.example.test" }, "do not contain Config.Resource"},
		{"skipped audience check", func(c *jwtauth.Config) {
			c.Resource = testResource
			c.Issuers[0].Audiences, c.Issuers[0].InsecureSkipAudienceCheck = nil, true
		}, "InsecureSkipAudienceCheck contradicts Config.Resource"},
		{"issuer bound by azp", func(c *jwtauth.Config) {
			c.Resource = testResource
			c.Issuers[0].Audiences, c.Issuers[0].AuthorizedParties = nil, []string{"client"}
		}, "bound by AuthorizedParties instead of aud"},
		{"template without tenants", func(c *jwtauth.Config) {
			withResource(c)
			c.Issuers[0].Issuer = "https://login.example.test/{tenantid}/v2.0"
		}, "template without Tenants"},
		{"scopes without resource", func(c *jwtauth.Config) { c.ScopesSupported = []string{"read"} }, "Config.Resource is empty"},
		{"scope with a space", func(c *jwtauth.Config) {
			withResource(c)
			c.ScopesSupported = []string{"read write"}
		}, `"read write", which is not a scope token`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{testAudience},
				Algorithms: []string{"ES256"}, Keys: localES256Keys()}}}
			tc.mutate(&cfg)
			_, err := jwtauth.New(context.Background(), cfg)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	// http is fine on loopback, for tests and local development.
	cfg := jwtauth.Config{Resource: "http://127.0.0.1:8080/mcp", Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer,
		Algorithms: []string{"ES256"}, Keys: localES256Keys()}}}
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp", v.ResourceMetadataURL())
	_ = v.Close()
}

func TestResourceMetadata_PanicsWithoutResource(t *testing.T) {
	f := newLocal(t, "ES256")
	assert.Empty(t, f.v.ResourceMetadataURL())
	assert.PanicsWithValue(t, "jwtauth: ResourceMetadata needs Config.Resource: set it to this API's URL, the audience of its tokens",
		func() { f.v.ResourceMetadata() })
}

func TestResourceMetadata_PublishesTheDPoPPolicy(t *testing.T) {
	doc := func(policies ...jwtauth.DPoPPolicy) map[string]any {
		f := newLocal(t, "ES256", withResource, func(c *jwtauth.Config) {
			c.DPoP = jwtauth.DPoPOptions{ExternalURL: "https://api.example.test", Algorithms: []string{"ES256", "EdDSA"}}
			c.Issuers[0].DPoP = policies[0]
			for i, p := range policies[1:] {
				c.Issuers = append(c.Issuers, jwtauth.TrustedIssuer{Issuer: "https://other" + string(rune('a'+i)) + ".example.test/",
					Algorithms: []string{"ES256"}, Keys: localES256Keys(), DPoP: p})
			}
		})
		w := httptest.NewRecorder()
		f.v.ResourceMetadata().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil))
		require.Equal(t, http.StatusOK, w.Code)
		var m map[string]any
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
		return m
	}
	m := doc(jwtauth.DPoPOptional)
	assert.Equal(t, []any{"ES256", "EdDSA"}, m["dpop_signing_alg_values_supported"])
	assert.NotContains(t, m, "dpop_bound_access_tokens_required", "bearer tokens are still accepted")

	m = doc(jwtauth.DPoPRequired, jwtauth.DPoPOff)
	assert.NotContains(t, m, "dpop_bound_access_tokens_required", "one issuer still takes bearer tokens")

	m = doc(jwtauth.DPoPRequired, jwtauth.DPoPRequired)
	assert.Equal(t, true, m["dpop_bound_access_tokens_required"])
	assert.Equal(t, []any{"ES256", "EdDSA"}, m["dpop_signing_alg_values_supported"])
}
