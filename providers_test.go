package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Provider fixtures: testdata/providers/<provider>/ holds the provider-shaped key sets (jwks*.json, written by
// testdata/providers/generate.go) and tokens.json, the header and claims of each case as that provider
// documents them (sources in NOTES.md). The tests sign each case with the test-only key it names
// (testdata/providers/keys.pem), serve the key sets from loopback in place of the provider's https URL, and
// verify through the profile.

// providerNow is the fixtures' clock: their tokens are valid from 1799999400 to 1800003000.
var providerNow = time.Unix(1_800_000_000, 0)

type providerCase struct {
	Name   string         `json:"name"`
	Config string         `json:"config"`
	Key    string         `json:"key"`
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
	Want   string         `json:"want"` // "ok", or the Error.Description of the refusal
	Says   string         `json:"says"` // part of the error message
	Scopes []string       `json:"scopes"`
	Roles  []string       `json:"roles"`
}

// providerConfig is one TrustedIssuer of a provider's cases, with the fixture key set that stands in for its
// remote one and the URL the profile must name.
type providerConfig struct {
	ti      jwtauth.TrustedIssuer
	jwks    string
	keysURL string
}

func providerKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	data, err := os.ReadFile("testdata/providers/keys.pem")
	require.NoError(t, err)
	keys := map[string]crypto.Signer{}
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		require.NoError(t, err)
		keys[b.Headers["Key-Name"]] = k.(crypto.Signer)
	}
	require.NotEmpty(t, keys)
	return keys
}

// jwkFor finds the JWK of key in a key set, for the {kid} and {x5t} placeholders of a case's header.
func jwkFor(t *testing.T, set []byte, key crypto.Signer) map[string]any {
	t.Helper()
	var s struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(set, &s))
	for _, k := range s.Keys {
		switch pub := key.Public().(type) {
		case *rsa.PublicKey:
			if k["n"] == base64.RawURLEncoding.EncodeToString(pub.N.Bytes()) {
				return k
			}
		default:
			if j := jwtauthtest.PublicJWK(pub, "", ""); k["x"] == j["x"] && k["y"] == j["y"] {
				return k
			}
		}
	}
	return nil
}

// runProviderFixtures verifies every case of testdata/providers/<provider>/tokens.json.
func runProviderFixtures(t *testing.T, provider string, configs map[string]providerConfig) {
	t.Helper()
	dir := filepath.Join("testdata/providers", provider)
	raw, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	var cases []providerCase
	require.NoError(t, json.Unmarshal(raw, &cases))
	notes, err := os.ReadFile(filepath.Join(dir, "NOTES.md"))
	require.NoError(t, err, "every provider's fixtures name their sources")
	require.Contains(t, string(notes), "https://")
	keys := providerKeys(t)

	sets := map[string][]byte{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, ok := sets[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	t.Cleanup(srv.Close)

	verifiers := map[string]*jwtauth.Verifier{}
	for name, c := range configs {
		set, err := os.ReadFile(filepath.Join(dir, c.jwks))
		require.NoError(t, err)
		sets[c.jwks] = set
		assert.Equal(t, "RemoteJWKS("+c.keysURL+")", fmt.Sprint(c.ti.Keys), "%s: the profile's key location", name)
		ti := c.ti
		ti.Keys = jwtauth.RemoteJWKS(srv.URL + "/" + c.jwks) // the fixture stands in for the provider's URL
		v, err := jwtauth.New(context.Background(), jwtauth.Config{
			Issuers: []jwtauth.TrustedIssuer{ti},
			Clock:   func() time.Time { return providerNow },
			Logger:  quietLogger(t),
		})
		require.NoError(t, err, name)
		t.Cleanup(func() { _ = v.Close() })
		require.NoError(t, v.Ready(), name)
		verifiers[name] = v
	}

	seenOK, seenRefused := false, false
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			v := verifiers[tc.Config]
			require.NotNil(t, v, "unknown config %q", tc.Config)
			key := keys[tc.Key]
			require.NotNil(t, key, "unknown key %q", tc.Key)
			jwk := jwkFor(t, sets[configs[tc.Config].jwks], key)
			for _, set := range sets { // a key of another of the provider's sets (Okta's org server)
				if jwk == nil {
					jwk = jwkFor(t, set, key)
				}
			}
			for name, val := range tc.Header {
				switch val {
				case "{kid}", "{x5t}":
					require.NotNil(t, jwk, "key %s is in none of the provider's key sets", tc.Key)
					tc.Header[name] = jwk[strings.Trim(val.(string), "{}")]
				}
			}
			hb, _ := json.Marshal(tc.Header)
			cb, _ := json.Marshal(tc.Claims)
			tok := jwtauthtest.SignRaw(tc.Header["alg"].(string), key, hb, cb)

			c, err := v.Verify(context.Background(), tok)
			if tc.Want == "ok" {
				seenOK = true
				require.NoError(t, err)
				assert.Equal(t, tc.Claims["sub"], c.Subject)
				assert.Equal(t, tc.Claims["iss"], c.Issuer)
				if tc.Scopes != nil {
					assert.Equal(t, tc.Scopes, c.Scopes)
				}
				if tc.Roles != nil {
					assert.Equal(t, tc.Roles, c.Roles)
				}
				return
			}
			seenRefused = true
			var e *jwtauth.Error
			require.True(t, errors.As(err, &e), "want a refusal (%s), got %v", tc.Want, err)
			assert.Equal(t, tc.Want, e.Description(), "refusal kind; message: %v", err)
			assert.Equal(t, http.StatusUnauthorized, e.Status())
			assert.Contains(t, err.Error(), tc.Says)
			assert.Nil(t, c)
		})
	}
	assert.True(t, seenOK && seenRefused, "each provider has positive and negative cases")
}

func TestAuth0_FixtureTokens(t *testing.T) {
	keys := "https://dev-abc.us.auth0.com/.well-known/jwks.json"
	runProviderFixtures(t, "auth0", map[string]providerConfig{
		"auth0":        {jwtauth.Auth0("dev-abc.us.auth0.com", "https://api.example.com"), "jwks.json", keys},
		"auth0-custom": {jwtauth.Auth0("login.example.com", "https://api.example.com"), "jwks.json", "https://login.example.com/.well-known/jwks.json"},
	})
}

func TestOkta_FixtureTokens(t *testing.T) {
	runProviderFixtures(t, "okta", map[string]providerConfig{
		"okta-default": {jwtauth.Okta("https://dev-123.okta.com/oauth2/default", "api://default"), "custom-jwks.json",
			"https://dev-123.okta.com/oauth2/default/v1/keys"},
		"okta-org": {jwtauth.Okta("https://dev-123.okta.com", "https://dev-123.okta.com"), "org-jwks.json",
			"https://dev-123.okta.com/oauth2/v1/keys"},
	})
}

const (
	entraTenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraClient  = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
)

func TestEntraID_FixtureTokens(t *testing.T) {
	allow := jwtauth.EntraID("organizations", entraClient)
	allow.Tenants = []string{entraTenantA}
	runProviderFixtures(t, "entra", map[string]providerConfig{
		"single": {jwtauth.EntraID(entraTenantA, entraClient), "jwks.json",
			"https://login.microsoftonline.com/" + entraTenantA + "/discovery/v2.0/keys"},
		"multi": {jwtauth.EntraID("organizations", entraClient), "jwks.json",
			"https://login.microsoftonline.com/organizations/discovery/v2.0/keys"},
		"multi-allow": {allow, "jwks.json", "https://login.microsoftonline.com/organizations/discovery/v2.0/keys"},
		"common": {jwtauth.EntraID("common", entraClient), "jwks.json",
			"https://login.microsoftonline.com/common/discovery/v2.0/keys"},
		"v1": {jwtauth.EntraIDv1(entraTenantA, "api://"+entraClient), "jwks-v1.json",
			"https://login.microsoftonline.com/" + entraTenantA + "/discovery/keys"},
	})
}

func TestCognito_FixtureTokens(t *testing.T) {
	runProviderFixtures(t, "cognito", map[string]providerConfig{
		"pool": {jwtauth.Cognito("us-east-1_example", "1example23456789"), "jwks.json",
			"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example/.well-known/jwks.json"},
	})
}

func TestKeycloak_FixtureTokens(t *testing.T) {
	azp := jwtauth.Keycloak("https://sso.example.com", "main")
	azp.AuthorizedParties = []string{"web-app"}
	keys := "https://sso.example.com/realms/main/protocol/openid-connect/certs"
	runProviderFixtures(t, "keycloak", map[string]providerConfig{
		"realm": {jwtauth.Keycloak("https://sso.example.com/", "main", "my-api"), "jwks.json", keys},
		"azp":   {azp, "jwks.json", keys},
	})
}

func TestGoogle_FixtureTokens(t *testing.T) {
	runProviderFixtures(t, "google", map[string]providerConfig{
		"google": {jwtauth.Google("1234987819200.apps.googleusercontent.com"), "jwks.json", "https://www.googleapis.com/oauth2/v3/certs"},
	})
}

func TestFirebase_FixtureTokens(t *testing.T) {
	runProviderFixtures(t, "firebase", map[string]providerConfig{
		"firebase": {jwtauth.Firebase("my-project"), "jwks.json",
			"https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"},
	})
}

func TestProfiles_DeriveIssuers(t *testing.T) {
	for _, tc := range []struct {
		ti     jwtauth.TrustedIssuer
		issuer string
		algs   []string
	}{
		{jwtauth.Auth0("https://dev-abc.us.auth0.com/", "x"), "https://dev-abc.us.auth0.com/", []string{"RS256"}},
		{jwtauth.Okta("https://dev-123.okta.com/oauth2/default/", "x"), "https://dev-123.okta.com/oauth2/default", []string{"RS256"}},
		{jwtauth.EntraID(strings.ToUpper(entraTenantA), "x"), "https://login.microsoftonline.com/" + entraTenantA + "/v2.0", []string{"RS256"}},
		{jwtauth.EntraID("common", "x"), "https://login.microsoftonline.com/{tenantid}/v2.0", []string{"RS256"}},
		{jwtauth.EntraID("consumers", "x"), "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", []string{"RS256"}},
		{jwtauth.EntraIDv1("organizations", "x"), "https://sts.windows.net/{tenantid}/", []string{"RS256"}},
		{jwtauth.Cognito("eu-west-1_AbC123", "c"), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123", []string{"RS256"}},
		{jwtauth.Keycloak("https://sso.example.com/auth", "main", "x"), "https://sso.example.com/auth/realms/main", nil},
		{jwtauth.Google("x"), "https://accounts.google.com", []string{"RS256"}},
		{jwtauth.Firebase("my-project"), "https://securetoken.google.com/my-project", []string{"RS256"}},
		{jwtauth.OIDC("https://idp.example.com", "x"), "https://idp.example.com", nil},
	} {
		assert.Equal(t, tc.issuer, tc.ti.Issuer)
		assert.Equal(t, tc.algs, tc.ti.Algorithms, "%s: nil means taken from the keys", tc.issuer)
	}
	assert.Equal(t, "Discover(https://idp.example.com)", fmt.Sprint(jwtauth.OIDC("https://idp.example.com", "x").Keys))
	assert.Equal(t, []string{"c1", "c2"}, jwtauth.Cognito("eu-west-1_AbC123", "c1", "c2").AuthorizedParties)
	assert.Empty(t, jwtauth.Cognito("eu-west-1_AbC123", "c1").Audiences, "Cognito access tokens have no aud")
}

func TestProfiles_BadArgumentsFailNewWithOneMessage(t *testing.T) {
	for _, tc := range []struct {
		ti   jwtauth.TrustedIssuer
		says string
	}{
		{jwtauth.Auth0("", "api"), `Auth0 domain "" is not a host name`},
		{jwtauth.Auth0("dev/abc", "api"), "Auth0 domain"},
		{jwtauth.Okta("dev-123.okta.com", "api"), "is not an https URL"},
		{jwtauth.Okta("https://dev-123.okta.com/api/v1", "api"), `has the path "/api/v1"`},
		{jwtauth.EntraID("contoso.onmicrosoft.com", "api"), "Directory (tenant) ID"},
		{jwtauth.EntraIDv1("", "api"), `EntraIDv1 tenant ""`},
		{jwtauth.Cognito("AbC123", "c"), "is not REGION_ID"},
		{jwtauth.Cognito("us-east-1_AbC123"), "list the app client IDs"},
		{jwtauth.Keycloak("sso.example.com", "main", "api"), "is not an http(s) URL"},
		{jwtauth.Keycloak("https://sso.example.com", "", "api"), `realm ""`},
		{jwtauth.Google(), "OAuth client IDs"},
		{jwtauth.Firebase("my project"), "is not a project ID"},
		{jwtauth.OIDC("", ""), "Discover: the issuer URL is empty"},
	} {
		_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{tc.ti}, Logger: quietLogger(t)})
		require.Error(t, err, tc.says)
		assert.Contains(t, err.Error(), tc.says)
		assert.NotContains(t, err.Error(), "https:///")
		assert.NotContains(t, err.Error(), "RemoteJWKS:", "a profile's argument error names the profile")
		if !strings.Contains(tc.says, "Discover") {
			assert.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "one message: %v", err)
		}
	}
}

func TestNew_IssuerTemplateRules(t *testing.T) {
	keys := jwtauth.RemoteJWKS("https://login.microsoftonline.com/common/discovery/v2.0/keys")
	for _, tc := range []struct {
		ti   jwtauth.TrustedIssuer
		says string
	}{
		{jwtauth.TrustedIssuer{Issuer: "https://login.microsoftonline.com/{tenantid}/{tenantid}", Audiences: []string{"a"}, Keys: keys}, "more than once"},
		{jwtauth.TrustedIssuer{Issuer: "https://{tenantid}.example.com/", Audiences: []string{"a"}, Keys: keys}, "whole path segment"},
		{jwtauth.TrustedIssuer{Issuer: "https://login.example.com/t{tenantid}/v2.0", Audiences: []string{"a"}, Keys: keys}, "whole path segment"},
		{jwtauth.TrustedIssuer{Issuer: "https://login.example.com/{tenant}/v2.0", Audiences: []string{"a"}, Keys: keys}, "other than {tenantid}"},
		{jwtauth.TrustedIssuer{Issuer: "https://login.example.com/t/v2.0", Tenants: []string{"t"}, Audiences: []string{"a"}, Keys: keys}, "Tenants restricts multi-tenant issuers only"},
		{jwtauth.TrustedIssuer{Issuer: "https://login.example.com/{tenantid}/v2.0", Audiences: []string{"a"},
			Keys: jwtauth.Discover("https://login.example.com/{tenantid}/v2.0")}, "Discover cannot be used with an Issuer template"},
	} {
		_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{tc.ti}, Logger: quietLogger(t)})
		assert.ErrorContains(t, err, tc.says)
	}
}

func TestNew_AlgorithmsFromKeysOnlyForPublishedKeySets(t *testing.T) {
	_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer: testIssuer, Audiences: []string{testAudience}, Keys: jwtauth.PublicKeys(testKey("ES256", 0).Public()),
	}}})
	assert.ErrorContains(t, err, "Algorithms is empty")
	assert.ErrorContains(t, err, "only RemoteJWKS and Discover take them from the keys")
}

// The first trial: OIDC(issuer, aud) against an ES256 login server used to answer
// `algorithm "ES256" is not allowed by any trusted issuer`. Without Algorithms it takes them from the keys.
func TestOIDC_TakesAlgorithmsFromTheKeys(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{jwtauth.OIDC(idp.Issuer(), idp.Audience())},
		Logger:  quietLogger(t),
	})
	require.NoError(t, err)
	defer v.Close()
	c, err := v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err)
	assert.Equal(t, "ES256", c.Algorithm)

	// Pinned to RS256 against this ES256-only key set, New says so at once.
	pinned := jwtauth.OIDC(idp.Issuer(), idp.Audience())
	pinned.Algorithms = []string{"RS256"}
	_, err = jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{pinned}, Logger: quietLogger(t)})
	assert.ErrorContains(t, err, "add one of ES256 to Algorithms")

	// With keys of both types, an ES256 token is refused by a message naming the issuer and its Algorithms.
	es, rs := testKey("ES256", 0), testKey("RS256", 0)
	both := jwksOf(map[string]string{"es": "", "rs": ""}, map[string]crypto.Signer{"es": es, "rs": rs})
	v2, err := jwtauth.New(context.Background(), jwtauth.Config{Logger: quietLogger(t),
		Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256"}, Keys: jwtauth.LocalKeys(both)}}})
	require.NoError(t, err)
	defer v2.Close()
	tok := jwtauthtest.SignRaw("ES256", es, []byte(`{"alg":"ES256","kid":"es"}`),
		[]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d}`, testIssuer, testAudience, time.Now().Add(time.Hour).Unix())))
	_, err = v2.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)
	assert.EqualError(t, err, fmt.Sprintf(`jwtauth: algorithm "ES256" is not allowed for issuer %q: its TrustedIssuer.Algorithms are RS256; add "ES256" there if the issuer signs with it`, testIssuer))
}

// A provider that rotates from RS256 to ES256 keeps working when the algorithms come from the keys, and a key
// without alg still verifies only the algorithms of its own type.
func TestRemoteJWKS_AlgorithmsFromKeysFollowARotation(t *testing.T) {
	rs, es := testKey("RS256", 0), testKey("ES256", 0)
	var set atomic.Pointer[[]byte]
	first := jwksOf(map[string]string{"rs": ""}, map[string]crypto.Signer{"rs": rs})
	set.Store(&first)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(*set.Load()) }))
	defer srv.Close()
	clock := newClock()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{testAudience}, Keys: jwtauth.RemoteJWKS(srv.URL)}},
		Clock:   clock.Now, Logger: quietLogger(t),
	})
	require.NoError(t, err)
	defer v.Close()
	sign := func(alg, kid string, key crypto.Signer) string {
		h := fmt.Sprintf(`{"alg":%q,"kid":%q}`, alg, kid)
		p := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"u","exp":%d}`, testIssuer, testAudience, clock.Now().Add(time.Hour).Unix())
		return jwtauthtest.SignRaw(alg, key, []byte(h), []byte(p))
	}
	for _, alg := range []string{"RS256", "PS384", "RS512"} {
		_, err := v.Verify(context.Background(), sign(alg, "rs", rs))
		assert.NoError(t, err, "an RSA key without alg verifies %s", alg)
	}
	rotated := jwksOf(map[string]string{"rs": "", "es": "ES256"}, map[string]crypto.Signer{"rs": rs, "es": es})
	set.Store(&rotated)
	c, err := v.Verify(context.Background(), sign("ES256", "es", es))
	require.NoError(t, err, "the rotated ES256 key is picked up on its unknown kid")
	assert.Equal(t, "ES256", c.Algorithm)

	_, err = v.Verify(context.Background(), sign("ES256", "rs", es))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "an RSA key never verifies ES256")
}

func TestAuth0_PresetDerivesIssuerAndKeySet(t *testing.T) {
	ti := jwtauth.Auth0("dev-abc.us.auth0.com", "https://api.example.com")
	assert.Equal(t, "https://dev-abc.us.auth0.com/", ti.Issuer)
	assert.Equal(t, []string{"https://api.example.com"}, ti.Audiences)
	assert.Equal(t, []string{"RS256"}, ti.Algorithms)
	assert.Equal(t, "RemoteJWKS(https://dev-abc.us.auth0.com/.well-known/jwks.json)", fmt.Sprint(ti.Keys))
	assert.Equal(t, jwtauth.Auth0("https://dev-abc.us.auth0.com/", "x").Issuer, ti.Issuer, "a pasted URL is forgiven")
	assert.Equal(t, "Discover(https://a.example)", fmt.Sprint(jwtauth.OIDC("https://a.example", "x").Keys))
	assert.Equal(t, "PublicKeys(1 keys)", fmt.Sprint(jwtauth.PublicKeys(testKey("ES256", 0).Public())))

	for _, bad := range []string{"", "dev/abc", "a b"} {
		_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{jwtauth.Auth0(bad, "api")}})
		assert.ErrorContains(t, err, "Auth0 domain")
	}
}

func TestPresets_ReportBadInputInTheirOwnTerms(t *testing.T) {
	cases := []struct {
		name    string
		ti      jwtauth.TrustedIssuer
		want    string
		unwants []string
	}{
		{"Auth0 with an empty domain", jwtauth.Auth0("", "api"),
			`jwtauth: Config.Issuers[0]: Auth0 domain "" is not a host name: use the tenant domain, e.g. dev-abc.us.auth0.com`,
			[]string{"https:///", "Issuer is empty"}},
		{"Auth0 with a newline", jwtauth.Auth0("dev-abc.us.auth0.com\n", "api"), `Auth0 domain "dev-abc.us.auth0.com\n" is not a host name`, nil},
		{"OIDC with an empty issuer", jwtauth.OIDC("", "api"), "Discover: the issuer URL is empty", []string{"RemoteJWKS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{tc.ti}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for _, u := range tc.unwants {
				assert.NotContains(t, err.Error(), u)
			}
		})
	}
}
