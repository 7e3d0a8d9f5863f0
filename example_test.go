package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// Protect an API with tokens from an Auth0 tenant: issuer https://DOMAIN/, keys from the tenant's JWKS, RS256.
func Example_auth0() {
	ctx := context.Background()
	v, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{jwtauth.Auth0(os.Getenv("AUTH0_DOMAIN"), os.Getenv("AUTH0_AUDIENCE"))},
	})
	if err != nil {
		log.Fatal(err) // names every missing or invalid setting
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /api/private", v.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := jwtauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s\n", claims.Subject)
	})))
	log.Fatal(http.ListenAndServe(":8080", mux))
}

// Trust any OpenID Connect provider through discovery (issuer + "/.well-known/openid-configuration").
func ExampleOIDC() {
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{jwtauth.OIDC("https://accounts.example.com", "my-api")},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	if err := v.Ready(); err != nil {
		log.Printf("keys not loaded yet, retrying in the background: %v", err)
	}
}

// Trust a multi-tenant Entra ID app for two customer tenants, and one Cognito user pool's access tokens.
// A multi-tenant issuer matches a token only together with its tid, so one tenant's token never passes as
// another's; pass both to Config.Issuers.
func ExampleEntraID() {
	entra := jwtauth.EntraID("organizations", "6e74172b-be56-4843-9ff4-e66a39bb12e3")
	entra.Tenants = []string{"72f988bf-86f1-41af-91ab-2d7cd011db47", "b1a2c3d4-0000-4000-8000-000000000001"}
	cognito := jwtauth.Cognito("us-east-1_AbC123", "1example23456789")
	fmt.Println(entra.Issuer)
	fmt.Println(entra.Keys)
	fmt.Println(cognito.Issuer, cognito.AuthorizedParties)
	// Output:
	// https://login.microsoftonline.com/{tenantid}/v2.0
	// RemoteJWKS(https://login.microsoftonline.com/organizations/discovery/v2.0/keys)
	// https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123 [1example23456789]
}

// Verify tokens with a local public key in PEM form: no network at all.
func ExampleLocalKeys() {
	// In a real service the PEM comes from a file (LocalKeysFile) or an environment variable.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     "https://login.example.com",
			Audiences:  []string{"orders-api"},
			Algorithms: []string{"ES256"},
			Keys:       jwtauth.LocalKeys(publicPEM),
		}},
	})
	if err != nil {
		log.Fatal(err)
	}

	token := jwtauthtest.SignRaw("ES256", priv, []byte(`{"alg":"ES256","typ":"JWT"}`), mustJSON(map[string]any{
		"iss": "https://login.example.com", "aud": "orders-api", "sub": "user-42",
		"exp": time.Now().Add(time.Hour).Unix(),
	}))
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject)

	_, err = v.Verify(context.Background(), token+"x")
	fmt.Println(err)
	// Output:
	// user-42
	// jwtauth: signature is not canonical base64url
}

// The verified-token cache is on by default (Config.CacheBytes 0: 32 MiB): a token that comes back skips the
// signature check, never the clock, its key or a revocation. CacheOff checks every signature.
func ExampleConfig_cacheBytes() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	issuer := jwtauth.TrustedIssuer{
		Issuer:     "https://login.example.com",
		Audiences:  []string{"orders-api"},
		Algorithms: []string{"ES256"},
		Keys:       jwtauth.LocalKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
	token := jwtauthtest.SignRaw("ES256", priv, []byte(`{"alg":"ES256","typ":"JWT"}`), mustJSON(map[string]any{
		"iss": "https://login.example.com", "aud": "orders-api", "sub": "user-42",
		"exp": time.Now().Add(time.Hour).Unix(),
	}))
	for _, cacheBytes := range []int{0, jwtauth.CacheOff} {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{
			Issuers:    []jwtauth.TrustedIssuer{issuer},
			CacheBytes: cacheBytes,
			OnVerify: func(_ context.Context, o jwtauth.Outcome) {
				fmt.Printf("CacheBytes %d: %s, cached %v\n", cacheBytes, o.Reason, o.Cached)
			},
		})
		if err != nil {
			log.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := v.Verify(context.Background(), token); err != nil {
				log.Fatal(err)
			}
		}
		_ = v.Close()
	}
	// Output:
	// CacheBytes 0: ok, cached false
	// CacheBytes 0: ok, cached true
	// CacheBytes -1: ok, cached false
	// CacheBytes -1: ok, cached false
}

// Require scopes per route. Scopes come from scope (space-delimited), scp, or Auth0's permissions.
func ExampleRequireScope() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	messages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "messages") })
	handler := v.RequireAuth(jwtauth.RequireScope("read:messages")(messages))

	for _, scope := range []string{"read:messages", "profile"} {
		r := httptest.NewRequest("GET", "/api/messages", nil)
		r.Header.Set("Authorization", "Bearer "+idp.Mint(map[string]any{"sub": "u1", "scope": scope}))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%d %s\n", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	// Output:
	// 200 []
	// 403 [Bearer error="insufficient_scope", scope="read:messages"]
}

// Require roles per route. Where an issuer puts roles is set per issuer (the provider profiles set it): here
// Keycloak's realm roles and the client roles of "orders-api".
func ExampleRequireRole() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	ti := idp.TrustedIssuer()
	ti.Roles = []jwtauth.RoleClaim{
		jwtauth.RolesAt("realm_access", "roles"),
		jwtauth.RolesAt("resource_access", "orders-api", "roles"),
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	refunds := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "refunds") })
	handler := v.RequireAuth(jwtauth.RequireRole("refunds")(refunds))

	for _, roles := range [][]string{{"refunds"}, {"viewer"}} {
		r := httptest.NewRequest("GET", "/api/refunds", nil)
		r.Header.Set("Authorization", "Bearer "+idp.Mint(map[string]any{
			"sub":             "u1",
			"realm_access":    map[string]any{"roles": []string{"offline_access"}},
			"resource_access": map[string]any{"orders-api": map[string]any{"roles": roles}},
		}))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		fmt.Printf("%d %s\n", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	// Output:
	// 200 []
	// 403 [Bearer error="insufficient_scope", error_description="insufficient role"]
}

// Any other rule is a predicate on the claims, and a rule that needs the request is checked in the handler
// with Verifier.Refuse. Both refuse with the library's own answer (403, or 401 for Reject), through
// Config.ErrorHandler when one is set; the reason goes to the ErrorHandler (for logs), never to the client.
func ExampleRequire() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("refused:", err)
			var e *jwtauth.Error
			if errors.As(err, &e) {
				http.Error(w, e.Description(), e.Status())
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	verifiedEmail := jwtauth.Require(func(c *jwtauth.Claims) error {
		if ok, _ := jwtauth.GetClaim[bool](c, "email_verified"); !ok {
			return errors.New("email not verified")
		}
		return nil
	})
	account := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		if c.Subject != r.PathValue("id") {
			v.Refuse(w, r, fmt.Errorf("subject %q does not own account %q", c.Subject, r.PathValue("id")))
			return
		}
		fmt.Fprintln(w, "account")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/{id}", v.RequireAuth(verifiedEmail(account)))

	for _, tc := range []struct {
		path     string
		verified bool
	}{{"/accounts/u1", true}, {"/accounts/u2", true}, {"/accounts/u1", false}} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("Authorization", "Bearer "+idp.Mint(map[string]any{"sub": "u1", "email_verified": tc.verified}))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Printf("%s %d %s", tc.path, w.Code, w.Body.String())
	}
	// Output:
	// /accounts/u1 200 account
	// refused: jwtauth: access denied: subject "u1" does not own account "u2"
	// /accounts/u2 403 access denied
	// refused: jwtauth: access denied: email not verified
	// /accounts/u1 403 access denied
}

// Check what only your issuer's tokens can tell, inside Verify, so RequireAuth, gRPC and every other caller
// get it: here Keycloak's azp, the client a token was issued to.
func ExampleTrustedIssuer_validate() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	ti := idp.TrustedIssuer()
	ti.Validate = func(c *jwtauth.Claims) error {
		if azp, _ := jwtauth.GetClaim[string](c, "azp"); azp != "orders-web" {
			return fmt.Errorf("azp %q is not orders-web", azp)
		}
		return nil
	}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	for _, azp := range []string{"orders-web", "billing-cli"} {
		_, err := v.Verify(context.Background(), idp.Mint(map[string]any{"sub": "u1", "azp": azp}))
		var e *jwtauth.Error
		if errors.As(err, &e) {
			fmt.Println(azp, e.Status(), e.Description(), errors.Is(err, jwtauth.ErrTokenRejected))
			continue
		}
		fmt.Println(azp, "accepted")
	}
	// Output:
	// orders-web accepted
	// billing-cli 401 token not accepted true
}

// Test a handler without an identity provider: build verified-looking claims and put them in the context.
func ExampleNewContext() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	claims := jwtauthtest.Claims(&exampleTB{}, map[string]any{"sub": "ada"}) // in a test: pass t
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, r.WithContext(jwtauth.NewContext(r.Context(), claims)))
	fmt.Println(w.Body.String())
	// Output:
	// hello ada
}

// Decode your own claims type once per request, wherever it is needed.
func ExampleClaimsAs() {
	type tenantClaims struct {
		Tenant string `json:"https://example.com/tenant"`
	}
	claims := jwtauthtest.Claims(&exampleTB{}, map[string]any{"sub": "ada", "https://example.com/tenant": "acme"})
	tc, err := jwtauth.ClaimsAs[tenantClaims](claims)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tc.Tenant)
	// Output:
	// acme
}

// Read a custom claim, or decode every claim into your own struct.
func ExampleGetClaim() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	v, _ := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()}})
	defer v.Close()
	claims, err := v.Verify(context.Background(), idp.Mint(map[string]any{
		"sub": "u1", "email": "ada@example.com", "https://example.com/roles": []string{"admin"},
	}))
	if err != nil {
		log.Fatal(err)
	}
	email, _ := jwtauth.GetClaim[string](claims, "email")
	roles, _ := jwtauth.GetClaim[[]string](claims, "https://example.com/roles")
	fmt.Println(email, roles)

	var mine struct {
		Email string `json:"email"`
	}
	_ = claims.Decode(&mine)
	fmt.Println(mine.Email)
	// Output:
	// ada@example.com [admin]
	// ada@example.com
}

// Observe key set fetches for metrics, and read the keys in use at scrape time.
func ExampleVerifier_KeySets() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	fetches := make(chan jwtauth.FetchOutcome, 1)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		// In a service: count fetches by issuer, trigger and result. The hook must be fast and never block.
		OnFetch: func(o jwtauth.FetchOutcome) {
			select {
			case fetches <- o:
			default:
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	o := <-fetches
	fmt.Println("fetch:", o.Trigger, o.Result, o.Keys, "keys")

	for _, ks := range v.KeySets() { // gauges: ks.Keys, time.Since(ks.LoadedAt)
		fmt.Println("in use:", ks.Keys, "keys, loaded", !ks.LoadedAt.IsZero(), "last error", ks.LastError)
	}
	// Output:
	// fetch: startup ok 1 keys
	// in use: 1 keys, loaded true last error <nil>
}

// Hand the Verifier's keys to golang-jwt's parser. The Keyfunc picks the key (alg allow-list, kid, key type,
// pinning, refresh); the parser options check the claims.
func ExampleVerifier_Keyfunc() {
	idp := jwtauthtest.NewIdP(&exampleTB{}, jwtauthtest.WithAlgorithm("ES256"))
	defer idp.Close()
	trusted := idp.TrustedIssuer()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{trusted}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	k, err := v.Keyfunc(trusted.Issuer)
	if err != nil {
		log.Fatal(err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(trusted.Algorithms),
		jwt.WithIssuer(trusted.Issuer),
		jwt.WithAudience(trusted.Audiences[0]),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	}
	token, err := jwt.Parse(idp.Mint(map[string]any{"sub": "u1"}), k.Keyfunc, opts...)
	if err != nil {
		log.Fatal(err)
	}
	sub, _ := token.Claims.GetSubject()
	fmt.Println(token.Valid, sub)

	_, err = jwt.Parse(idp.Mint(map[string]any{"exp": nil}), k.Keyfunc, opts...)
	fmt.Println(errors.Is(err, jwt.ErrTokenRequiredClaimMissing))
	// Output:
	// true u1
	// true
}

// exampleTB lets examples use jwtauthtest without a *testing.T; the examples close what they open.
type exampleTB struct{}

func (*exampleTB) Helper()                           {}
func (*exampleTB) Cleanup(func())                    {}
func (*exampleTB) Fatalf(format string, args ...any) { log.Fatalf(format, args...) }

// Publish protected-resource metadata (RFC 9728) so that clients (MCP clients among them) discover which
// authorization server issues tokens for this API; every challenge then points at it.
func ExampleVerifier_ResourceMetadata() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Resource:        "https://api.example.com/mcp", // also the audience tokens must carry (RFC 8707)
		ScopesSupported: []string{"tools:read", "tools:call"},
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     "https://login.example.com",
			Algorithms: []string{"ES256"},
			Keys:       jwtauth.PublicKeys(&priv.PublicKey),
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle(jwtauth.ResourceMetadataPath, v.ResourceMetadata())
	mux.Handle(jwtauth.ResourceMetadataPath+"/", v.ResourceMetadata())
	mux.Handle("/mcp", v.RequireAuth(http.NotFoundHandler()))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil))
	fmt.Print(w.Body.String())
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/mcp", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// {"resource":"https://api.example.com/mcp","authorization_servers":["https://login.example.com"],"scopes_supported":["tools:read","tools:call"],"bearer_methods_supported":["header"]}
	// 401 Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"
}

// Accept tokens bound to the client's TLS certificate (RFC 8705 §3). Behind a TLS-terminating proxy, name the
// header it forwards the certificate in and the proxy's addresses; without a proxy, ask clients for a
// certificate in the server's tls.Config.
func ExampleTrustedIssuer_mtls() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     "https://login.example.com",
			Audiences:  []string{"orders-api"},
			Algorithms: []string{"ES256"},
			Keys:       jwtauth.PublicKeys(&priv.PublicKey),
			MTLS:       jwtauth.MTLSAllowed, // bound tokens need their certificate; unbound ones still pass
		}},
		ForwardedClientCert: jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"10.0.0.0/8"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	clientCertDER := []byte("the DER of the client's X.509 certificate")
	token := jwtauthtest.SignRaw("ES256", priv, []byte(`{"alg":"ES256","typ":"JWT"}`), mustJSON(map[string]any{
		"iss": "https://login.example.com", "aud": "orders-api", "sub": "svc-7", "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]string{"x5t#S256": jwtauth.CertificateThumbprint(clientCertDER)}, // as the authorization server binds it
	}))
	r := httptest.NewRequest(http.MethodGet, "/orders", nil) // plain HTTP, no certificate
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	v.RequireAuth(http.NotFoundHandler()).ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 Bearer error="invalid_token", error_description="client certificate required"
}

// Revoke tokens before they expire: one token at logout, every token of a subject at deactivation.
func ExampleNewRevocationList() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	revoked := jwtauth.NewRevocationList(100_000, nil)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer: "https://login.example.com", Audiences: []string{"orders-api"}, Algorithms: []string{"ES256"},
			Keys: jwtauth.LocalKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		}},
		Revocations: revoked,
	})
	if err != nil {
		log.Fatal(err)
	}
	token := jwtauthtest.SignRaw("ES256", priv, []byte(`{"alg":"ES256","typ":"JWT"}`), mustJSON(map[string]any{
		"iss": "https://login.example.com", "aud": "orders-api", "sub": "user-42", "jti": "t-1",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}))
	claims, _ := v.Verify(context.Background(), token)

	// Logout: revoke this token by issuer and jti until it expires.
	if err := revoked.RevokeToken(claims.Issuer, claims.ID, claims.ExpiresAt); err != nil {
		log.Fatal(err) // ErrRevocationListFull: the logout failed, say so
	}
	_, err = v.Verify(context.Background(), token)
	fmt.Println(errors.Is(err, jwtauth.ErrTokenRevoked))
	// Output:
	// true
}

// DPoP (RFC 9449): the Issuer binds a token to the client's key, the client sends it with a proof through
// DPoPTransport, and RequireAuth checks proof and binding; the same token as a Bearer token is refused.
func ExampleDPoPTransport() {
	asKey, _ := jwtauth.GenerateSigningKey("ES256")
	issuer, _ := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: "https://login.example.com", Audience: []string{"https://api.example.com"},
		Keys: []*jwtauth.SigningKey{asKey}})
	api := httptest.NewServer(nil)
	defer api.Close()
	ti := issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPRequired
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti},
		DPoP: jwtauth.DPoPOptions{ExternalURL: api.URL}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	api.Config.Handler = v.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		fmt.Println("bound to the client key:", c.DPoPThumbprint != "")
	}))

	clientKey, _ := jwtauth.GenerateSigningKey("ES256") // the client keeps it for the token's lifetime
	prover, _ := jwtauth.NewDPoPProver(clientKey, nil)
	token, _ := issuer.IssueDPoP("alice", prover.Thumbprint(), nil)

	client := &http.Client{Transport: &jwtauth.DPoPTransport{Prover: prover, Token: token}}
	resp, err := client.Get(api.URL + "/orders")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	req, _ := http.NewRequest(http.MethodGet, api.URL+"/orders", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("as Bearer:", resp.StatusCode)
	// Output:
	// bound to the client key: true
	// as Bearer: 401
}

// A token endpoint binds the token it issues to the key of the request's DPoP proof (RFC 9449 §5).
func ExampleDPoPProofVerifier() {
	proofs, err := jwtauth.NewDPoPProofVerifier(jwtauth.DPoPOptions{ExternalURL: "https://login.example.com"}, nil)
	if err != nil {
		log.Fatal(err)
	}
	clientKey, _ := jwtauth.GenerateSigningKey("ES256")
	prover, _ := jwtauth.NewDPoPProver(clientKey, nil)
	proof, _ := prover.Proof("POST", "https://login.example.com/token", "", "")
	r := httptest.NewRequest("POST", "/token", nil)
	r.Header.Set("DPoP", proof)

	jkt, err := proofs.Verify(r) // after authenticating the client
	if err != nil {
		var e *jwtauth.Error
		errors.As(err, &e)
		fmt.Println("400", e.Code()) // invalid_dpop_proof or use_dpop_nonce
		return
	}
	fmt.Println("bind the token to the proof key:", jkt == prover.Thumbprint()) // Issuer.IssueDPoP(sub, jkt, claims)
	_, err = proofs.Verify(r)
	fmt.Println("replayed:", errors.Is(err, jwtauth.ErrDPoPReplayed))
	// Output:
	// bind the token to the proof key: true
	// replayed: true
}
