// Package migrating holds the before/after programs of docs/migrating.md. This test checks the peers'
// behaviour that the guide's tables state, by running each peer as its "before" program configures it
// against an in-process IdP on loopback.
package migrating

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jwtmiddlewarev2 "github.com/auth0/go-jwt-middleware/v2"
	jwksv2 "github.com/auth0/go-jwt-middleware/v2/jwks"
	validatorv2 "github.com/auth0/go-jwt-middleware/v2/validator"
	jwtmiddlewarev3 "github.com/auth0/go-jwt-middleware/v3"
	jwksv3 "github.com/auth0/go-jwt-middleware/v3/jwks"
	validatorv3 "github.com/auth0/go-jwt-middleware/v3/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	chijwtauth "github.com/go-chi/jwtauth/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })

func auth0v2(t *testing.T, idp *jwtauthtest.IdP) http.Handler {
	u, err := url.Parse(idp.Issuer())
	require.NoError(t, err)
	provider := jwksv2.NewCachingProvider(u, 5*time.Minute)
	v, err := validatorv2.New(provider.KeyFunc, validatorv2.RS256, idp.Issuer(), []string{idp.Audience()})
	require.NoError(t, err)
	return jwtmiddlewarev2.New(v.ValidateToken).CheckJWT(ok)
}

func auth0v3(t *testing.T, idp *jwtauthtest.IdP) http.Handler {
	u, err := url.Parse(idp.Issuer())
	require.NoError(t, err)
	provider, err := jwksv3.NewCachingProvider(jwksv3.WithIssuerURL(u), jwksv3.WithCacheTTL(5*time.Minute))
	require.NoError(t, err)
	v, err := validatorv3.New(validatorv3.WithKeyFunc(provider.KeyFunc), validatorv3.WithAlgorithm(validatorv3.RS256),
		validatorv3.WithIssuer(idp.Issuer()), validatorv3.WithAudience(idp.Audience()))
	require.NoError(t, err)
	m, err := jwtmiddlewarev3.New(jwtmiddlewarev3.WithValidator(v))
	require.NoError(t, err)
	return m.CheckJWT(ok)
}

func chi(t *testing.T, idp *jwtauthtest.IdP) http.Handler {
	ja := chijwtauth.New("RS256", nil, idp.Signer().Public())
	return chijwtauth.Verifier(ja)(chijwtauth.Authenticator(ja)(ok))
}

func ours(t *testing.T, idp *jwtauthtest.IdP) http.Handler {
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		JWKS: jwtauth.JWKSOptions{FetchTimeout: time.Second, MaxWait: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v.RequireAuth(ok)
}

type answer struct {
	status int
	www    string // WWW-Authenticate values joined by " | "
	body   string
}

func call(h http.Handler, authorization string) answer {
	r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return answer{w.Code, strings.Join(w.Header().Values("WWW-Authenticate"), " | "), strings.TrimSpace(w.Body.String())}
}

// TestPeerResponses pins the status codes, challenges and bodies of the guide's tables.
func TestPeerResponses(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	handlers := map[string]http.Handler{
		"auth0v2": auth0v2(t, idp), "auth0v3": auth0v3(t, idp), "chi": chi(t, idp), "jwtauth": ours(t, idp),
	}
	good := "Bearer " + idp.Mint(map[string]any{"sub": "u1"})
	expired := "Bearer " + idp.Mint(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	noExp := "Bearer " + idp.Mint(map[string]any{"exp": nil})
	kidless := "Bearer " + idp.Sign(map[string]any{"kid": nil}, map[string]any{
		"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
	wrongAud := "Bearer " + idp.Mint(map[string]any{"aud": "another-api"})
	v3Bare := `Bearer realm="api" | DPoP algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"`

	rows := []struct {
		name, auth string
		want       map[string]answer
	}{
		{"valid", good, map[string]answer{
			"auth0v2": {200, "", "ok"}, "auth0v3": {200, "", "ok"}, "chi": {200, "", "ok"}, "jwtauth": {200, "", "ok"}}},
		{"no token", "", map[string]answer{
			"auth0v2": {400, "", `{"message":"JWT is missing."}`},
			"auth0v3": {401, v3Bare, `{"error":"invalid_token"}`},
			"chi":     {401, "", "no token found"},
			"jwtauth": {401, "Bearer", `{"error":"unauthorized","error_description":"bearer token required"}`}}},
		{"Basic credentials", "Basic dXNlcjpwYXNz", map[string]answer{
			"auth0v2": {500, "", `{"message":"Something went wrong while checking the JWT."}`},
			"auth0v3": {400, v3Bare, `{"error":"invalid_request","error_code":"invalid_request"}`},
			"chi":     {401, "", "no token found"},
			"jwtauth": {401, "Bearer", `{"error":"unauthorized","error_description":"bearer token required"}`}}},
		{"expired", expired, map[string]answer{
			"auth0v2": {401, "", `{"message":"JWT is invalid."}`},
			"auth0v3": {401, `Bearer realm="api", error="invalid_token", error_description="The access token expired" | DPoP algs="ES256 ES384 ES512 RS256 RS384 RS512 PS256 PS384 PS512 EdDSA"`, `{"error":"invalid_token","error_description":"The access token expired","error_code":"token_expired"}`},
			"chi":     {401, "", "token is expired"},
			"jwtauth": {401, `Bearer error="invalid_token", error_description="token expired"`, `{"error":"invalid_token","error_description":"token expired"}`}}},
		{"no exp", noExp, map[string]answer{
			"auth0v2": {200, "", "ok"}, "auth0v3": {200, "", "ok"}, "chi": {200, "", "ok"},
			"jwtauth": {401, `Bearer error="invalid_token", error_description="missing required claim"`, `{"error":"invalid_token","error_description":"missing required claim"}`}}},
		{"another audience", wrongAud, map[string]answer{
			"auth0v2": {401, "", `{"message":"JWT is invalid."}`},
			"chi":     {200, "", "ok"}, // no audience check unless jwt.WithAudience is passed to New
			"jwtauth": {401, `Bearer error="invalid_token", error_description="audience not accepted"`, `{"error":"invalid_token","error_description":"audience not accepted"}`}}},
		{"no kid, one key in the set", kidless, map[string]answer{
			"auth0v2": {401, "", `{"message":"JWT is invalid."}`},
			"jwtauth": {200, "", "ok"}}},
	}
	for _, r := range rows {
		for lib, want := range r.want {
			got := call(handlers[lib], r.auth)
			t.Logf("%-28s %-8s %d %q %s", r.name, lib, got.status, got.www, got.body)
			assert.Equal(t, want.status, got.status, "%s: %s", r.name, lib)
			assert.Equal(t, want.www, got.www, "%s: %s", r.name, lib)
			assert.Equal(t, want.body, got.body, "%s: %s", r.name, lib)
		}
	}
}

// TestPeerRotation pins what happens to a token signed by a key published after the key set was cached.
func TestPeerRotation(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	handlers := map[string]http.Handler{"auth0v2": auth0v2(t, idp), "auth0v3": auth0v3(t, idp), "jwtauth": ours(t, idp)}
	for lib, h := range handlers {
		require.Equal(t, 200, call(h, "Bearer "+idp.Mint(nil)).status, "%s: precondition: keys cached", lib)
	}
	idp.Rotate()
	rotated := "Bearer " + idp.Mint(nil)
	assert.Equal(t, 401, call(handlers["auth0v2"], rotated).status, "v2: refused until the cache TTL ends")
	got := call(handlers["auth0v3"], rotated)
	assert.Equal(t, 401, got.status, "v3: refused until the cache TTL ends")
	assert.Contains(t, got.body, "Unable to verify the access token")
	assert.Equal(t, 200, call(handlers["jwtauth"], rotated).status, "jwtauth: the unknown kid triggers a refresh")
}

// TestPeerKeySetDown pins what each library answers when the key set cannot be fetched at all.
func TestPeerKeySetDown(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	idp.SetFault(jwtauthtest.FaultStatus500)
	tok := "Bearer " + idp.Mint(nil)
	assert.Equal(t, 401, call(auth0v2(t, idp), tok).status)
	assert.Equal(t, 401, call(auth0v3(t, idp), tok).status)
	got := call(ours(t, idp), tok)
	assert.Equal(t, 503, got.status)
	assert.Equal(t, `{"error":"temporarily_unavailable","error_description":"signing keys unavailable"}`, got.body)
}

// TestOIDCVerifier pins go-oidc's IDTokenVerifier defaults that the guide states.
func TestOIDCVerifier(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, idp.Issuer())
	require.NoError(t, err)
	verifier := provider.Verifier(&oidc.Config{ClientID: idp.Audience()})

	_, err = verifier.Verify(ctx, idp.Mint(nil))
	require.NoError(t, err)

	_, err = verifier.Verify(ctx, idp.Mint(map[string]any{"exp": nil}))
	var expired *oidc.TokenExpiredError
	assert.ErrorAs(t, err, &expired, "a token without exp is reported as expired")

	_, err = verifier.Verify(ctx, idp.Mint(map[string]any{"exp": time.Now().Add(-30 * time.Second).Unix()}))
	assert.ErrorAs(t, err, &expired, "no leeway on exp")

	_, err = verifier.Verify(ctx, idp.Sign(map[string]any{"typ": "dpop+jwt"}, map[string]any{
		"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}))
	assert.NoError(t, err, "typ is not checked")

	// A fetch that has just ended is shared by a request arriving before it is cleared, so the tokens are
	// spaced out; with a rate limit (jwtauth: 5 s) the count could not grow past one.
	before := idp.Fetches()
	for i := 0; i < 200 && idp.Fetches() < before+5; i++ {
		_, err = verifier.Verify(ctx, idp.Sign(map[string]any{"kid": "unknown"}, map[string]any{
			"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}))
		assert.Error(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	assert.GreaterOrEqual(t, idp.Fetches(), before+5, "unknown kids keep fetching the key set: no rate limit")
}
