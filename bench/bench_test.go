// Package bench measures jwtauth side by side with the libraries people use instead of it, on the same token,
// the same claims and the same handler. It is its own module so that the peers never become dependencies of
// jwtauth itself. run.sh runs the suite and prints the tables; README.md explains each row.
package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	auth0v2 "github.com/auth0/go-jwt-middleware/v2"
	auth0v2validator "github.com/auth0/go-jwt-middleware/v2/validator"
	auth0v3 "github.com/auth0/go-jwt-middleware/v3"
	auth0v3validator "github.com/auth0/go-jwt-middleware/v3/validator"
	chijwtauth "github.com/go-chi/jwtauth/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	jwxv2 "github.com/lestrrat-go/jwx/v2/jwt"
)

// The claims every row sees. Only the signature algorithm differs between the ES256 and RS256 tables.
const (
	issuer   = "https://issuer.example.test/"
	audience = "https://api.example.test"
	subject  = "user-1"
	scope    = "read:messages write:messages"
	needed   = "read:messages" // the scope the +scope rows require
	keyID    = "bench-key"
	// leeway is jwtauth's default clock skew; the peers get the same so that no row checks less tightly.
	leeway = 60 * time.Second
)

// algorithms are the two tables of the suite.
var algorithms = []string{"ES256", "RS256"}

// fixture is one algorithm's key pair and the tokens every row verifies.
type fixture struct {
	alg      string
	signer   crypto.Signer
	pub      crypto.PublicKey
	jwks     []byte // a JWK Set holding pub with kid and alg, for the rows that take a key set
	token    string // valid: iss, aud, sub, exp, iat, scope
	tampered string // token with one signature character changed
}

// fixtures loads each algorithm's key once per test binary. The keys are fixed test-only keys from testdata,
// so every run verifies the same tokens and instruction counts (instructions.sh) are repeatable.
var fixtures = map[string]func() *fixture{
	"ES256": sync.OnceValue(func() *fixture { return newFixture("ES256") }),
	"RS256": sync.OnceValue(func() *fixture { return newFixture("RS256") }),
}

func newFixture(alg string) *fixture {
	signer := loadKey("testdata/" + strings.ToLower(alg) + ".pem") // P-256 or RSA 2048
	f := &fixture{alg: alg, signer: signer, pub: signer.Public()}
	set, err := json.Marshal(map[string]any{"keys": []any{jwtauthtest.PublicJWK(f.pub, keyID, alg)}})
	if err != nil {
		panic(err)
	}
	f.jwks = set
	f.token = f.mint(nil)
	f.tampered = tamper(f.token)
	return f
}

func loadKey(path string) crypto.Signer {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		panic("no PEM block in " + path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		panic(err)
	}
	return key.(crypto.Signer)
}

// mint signs the standard claims, changed by edits: a nil value removes a claim.
func (f *fixture) mint(edits map[string]any) string {
	return f.mintWith(f.signer, edits)
}

func (f *fixture) mintWith(signer crypto.Signer, edits map[string]any) string {
	now := time.Now()
	claims := map[string]any{
		"iss":   issuer,
		"aud":   audience,
		"sub":   subject,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": scope,
	}
	for k, v := range edits {
		if v == nil {
			delete(claims, k)
			continue
		}
		claims[k] = v
	}
	header, err := json.Marshal(map[string]string{"alg": f.alg, "kid": keyID, "typ": "JWT"})
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	return jwtauthtest.SignRaw(f.alg, signer, header, payload)
}

// tamper changes one character in the middle of the signature, where all six bits of a base64url character
// are significant, so every decoder sees a different signature.
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + (len(token)-strings.LastIndexByte(token, '.'))/2
	c := byte('A')
	if token[i] == c {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// okHandler is the protected handler of every row: the work an API does after authentication is not measured.
var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
})

// row is one line of the table. Exactly one of handler and direct is set: handler rows are measured with a
// request through httptest, direct rows call the verification alone.
type row struct {
	name    string
	handler func(tb testing.TB, f *fixture) http.Handler
	direct  func(tb testing.TB, f *fixture) func(token string) error
	// What the row checks, for TestRowsRejectBadTokens: a row that does not check something must say so here
	// (and README.md says why).
	noAuth      bool // accepts anything: the baseline
	sigOnly     bool // checks the signature and nothing else: the floor
	expOptional bool // accepts a token without exp
	scoped      bool // refuses a token without the needed scope
}

// rows are the lines of BenchmarkVerify, in table order.
var rows = []row{
	{name: "raw-floor", direct: rawFloor, sigOnly: true},
	{name: "no-auth", handler: func(testing.TB, *fixture) http.Handler { return okHandler }, noAuth: true},
	{name: "golang-jwt", direct: golangJWT},
	{name: "keyfunc", handler: keyfuncHandler},
	{name: "jwtauth", handler: func(tb testing.TB, f *fixture) http.Handler {
		return newJWTAuth(tb, f, jwtauth.CacheOff).RequireAuth(okHandler)
	}},
	{name: "jwtauth+scope", scoped: true, handler: func(tb testing.TB, f *fixture) http.Handler {
		return newJWTAuth(tb, f, jwtauth.CacheOff).RequireAuth(jwtauth.RequireScope(needed)(okHandler))
	}},
	{name: "jwtauth-cached", handler: func(tb testing.TB, f *fixture) http.Handler {
		return newJWTAuth(tb, f, 0).RequireAuth(okHandler) // the default cache
	}},
	{name: "auth0-v2", expOptional: true, handler: func(tb testing.TB, f *fixture) http.Handler {
		return auth0V2(tb, f, false)
	}},
	{name: "auth0-v2+scope", expOptional: true, scoped: true, handler: func(tb testing.TB, f *fixture) http.Handler {
		return auth0V2(tb, f, true)
	}},
	{name: "auth0-v3", handler: func(tb testing.TB, f *fixture) http.Handler { return auth0V3(tb, f, false) }},
	{name: "auth0-v3+scope", scoped: true, handler: func(tb testing.TB, f *fixture) http.Handler {
		return auth0V3(tb, f, true)
	}},
	{name: "go-chi-jwtauth", handler: func(tb testing.TB, f *fixture) http.Handler { return goChi(tb, f, false) }},
	{name: "go-chi-jwtauth+scope", scoped: true, handler: func(tb testing.TB, f *fixture) http.Handler {
		return goChi(tb, f, true)
	}},
}

// BenchmarkVerify is the side-by-side table: BenchmarkVerify/<alg>/<row>.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			f := fixtures[alg]()
			for _, r := range rows {
				b.Run(r.name, func(b *testing.B) {
					if r.direct != nil {
						benchDirect(b, r, f)
					} else {
						benchHandler(b, r, f)
					}
				})
			}
		})
	}
}

func benchDirect(b *testing.B, r row, f *fixture) {
	verify := r.direct(b, f)
	if err := verify(f.token); err != nil {
		b.Fatalf("%s refuses the valid token: %v", r.name, err)
	}
	if verify(f.tampered) == nil {
		b.Fatalf("%s accepts the tampered token", r.name)
	}
	token := f.token
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := verify(token); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHandler(b *testing.B, r row, f *fixture) {
	h := r.handler(b, f)
	if code := status(h, f.token); code != http.StatusOK {
		b.Fatalf("%s answers %d to the valid token, want 200", r.name, code)
	}
	if code := status(h, f.tampered); code != http.StatusUnauthorized && !r.noAuth {
		b.Fatalf("%s answers %d to the tampered token, want 401", r.name, code)
	}
	authz := "Bearer " + f.token
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/api/messages", nil)
		req.Header.Set("Authorization", authz)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkVerifyParallel runs RequireAuth from every P at once; run it with -cpu 1,2 to see how it scales.
// Without a lock on the uncached path, ns/op at -cpu 2 should be about half of -cpu 1.
func BenchmarkVerifyParallel(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg, func(b *testing.B) {
			f := fixtures[alg]()
			for _, r := range rows {
				if r.name != "jwtauth" && r.name != "jwtauth-cached" {
					continue
				}
				b.Run(r.name, func(b *testing.B) {
					h := r.handler(b, f)
					if code := status(h, f.token); code != http.StatusOK {
						b.Fatalf("%s answers %d to the valid token, want 200", r.name, code)
					}
					if code := status(h, f.tampered); code != http.StatusUnauthorized {
						b.Fatalf("%s answers %d to the tampered token, want 401", r.name, code)
					}
					authz := "Bearer " + f.token
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							req := httptest.NewRequest(http.MethodGet, "/api/messages", nil)
							req.Header.Set("Authorization", authz)
							w := httptest.NewRecorder()
							h.ServeHTTP(w, req)
							if w.Code != http.StatusOK {
								b.Errorf("status %d: %s", w.Code, w.Body)
								return
							}
						}
					})
				})
			}
		})
	}
}

// TestRowsRejectBadTokens makes sure no row is fast because it checks less than it claims: each row must
// refuse a forged signature, a wrong issuer, a wrong audience, an expired token, a token without exp (unless
// the row says the peer cannot require exp) and, for +scope rows, a token without the needed scope.
func TestRowsRejectBadTokens(t *testing.T) {
	for _, alg := range algorithms {
		f := fixtures[alg]()
		past := time.Now().Add(-2 * time.Hour)
		other := jwtauthtest.NewKey(alg)
		sigOnly := func(r row) bool { return r.sigOnly }
		noExp := f.mint(map[string]any{"exp": nil})
		cases := []struct {
			name  string
			token string
			skip  func(row) bool // rows that do not check this, as documented in README.md
		}{
			{name: "tampered signature", token: f.tampered},
			{name: "signed by another key", token: f.mintWith(other, nil)},
			{name: `alg "none"`, token: unsigned(f.token)},
			{name: "wrong issuer", token: f.mint(map[string]any{"iss": "https://evil.example.test/"}), skip: sigOnly},
			{name: "wrong audience", token: f.mint(map[string]any{"aud": "https://other-api.example.test"}), skip: sigOnly},
			{name: "expired", token: f.mint(map[string]any{"iat": past.Unix(), "exp": past.Add(time.Hour).Unix()}), skip: sigOnly},
			{name: "no exp", token: noExp, skip: func(r row) bool { return r.sigOnly || r.expOptional }},
			{name: "no needed scope", token: f.mint(map[string]any{"scope": "write:messages"}), skip: func(r row) bool { return !r.scoped }},
		}
		for _, r := range rows {
			if r.noAuth {
				continue
			}
			t.Run(alg+"/"+r.name, func(t *testing.T) {
				accepts := acceptor(t, r, f)
				if !accepts(f.token) {
					t.Fatal("refuses the valid token")
				}
				for _, c := range cases {
					if c.skip != nil && c.skip(r) {
						continue
					}
					if accepts(c.token) {
						t.Errorf("accepts a token with %s", c.name)
					}
				}
				if r.expOptional && !accepts(noExp) {
					t.Error("refuses a token without exp, yet the row says the peer cannot require exp: update the row and README.md")
				}
			})
		}
	}
}

// unsigned returns token with its header replaced by {"alg":"none","typ":"JWT"} and its signature removed.
func unsigned(token string) string {
	payload := strings.Split(token, ".")[1]
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payload + "."
}

// acceptor builds a row once and reports whether it accepts a token.
func acceptor(tb testing.TB, r row, f *fixture) func(token string) bool {
	if r.direct != nil {
		verify := r.direct(tb, f)
		return func(token string) bool { return verify(token) == nil }
	}
	h := r.handler(tb, f)
	return func(token string) bool { return status(h, token) == http.StatusOK }
}

// status sends one request with token through h and returns the response status.
func status(h http.Handler, token string) int {
	req := httptest.NewRequest(http.MethodGet, "/api/messages", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

// rawFloor is the least any verifier must do: split the token, decode the signature, hash the signing input
// and check the signature. No claims, no JSON, no HTTP.
func rawFloor(tb testing.TB, f *fixture) func(token string) error {
	errBadSig := errors.New("signature invalid")
	switch pub := f.pub.(type) {
	case *ecdsa.PublicKey:
		return func(token string) error {
			input, sig, err := splitSigned(token)
			if err != nil {
				return err
			}
			if len(sig) != 64 {
				return errBadSig
			}
			sum := sha256.Sum256([]byte(input))
			r := new(big.Int).SetBytes(sig[:32])
			s := new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, sum[:], r, s) {
				return errBadSig
			}
			return nil
		}
	case *rsa.PublicKey:
		return func(token string) error {
			input, sig, err := splitSigned(token)
			if err != nil {
				return err
			}
			sum := sha256.Sum256([]byte(input))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig)
		}
	}
	tb.Fatalf("no raw floor for %T", f.pub)
	return nil
}

func splitSigned(token string) (input string, sig []byte, err error) {
	dot := strings.LastIndexByte(token, '.')
	if dot < 0 || strings.Count(token[:dot], ".") != 1 {
		return "", nil, errors.New("not three segments")
	}
	sig, err = base64.RawURLEncoding.DecodeString(token[dot+1:])
	return token[:dot], sig, err
}

// golangJWT is jwt.ParseWithClaims alone, with the options that make it check what jwtauth checks.
func golangJWT(_ testing.TB, f *fixture) func(token string) error {
	keyFunc := func(*jwt.Token) (any, error) { return f.pub, nil }
	opts := golangJWTOptions(f)
	return func(token string) error {
		_, err := jwt.ParseWithClaims(token, &jwt.RegisteredClaims{}, keyFunc, opts...)
		return err
	}
}

func golangJWTOptions(f *fixture) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{f.alg}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
}

type keyfuncClaimsKey struct{}

// keyfuncHandler is what an application writes when it uses keyfunc directly: a small middleware that reads
// the bearer token, parses it with golang-jwt and keyfunc over an in-memory JWK Set, and puts the claims
// into the request context.
func keyfuncHandler(tb testing.TB, f *fixture) http.Handler {
	ctx := context.Background()
	jwk, err := jwkset.NewJWKFromKey(f.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		ALG: jwkset.ALG(f.alg), KID: keyID, USE: jwkset.UseSig,
	}})
	if err != nil {
		tb.Fatal(err)
	}
	storage := jwkset.NewMemoryStorage()
	if err := storage.KeyWrite(ctx, jwk); err != nil {
		tb.Fatal(err)
	}
	k, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	if err != nil {
		tb.Fatal(err)
	}
	opts := golangJWTOptions(f)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		claims := &jwt.RegisteredClaims{}
		if _, err := jwt.ParseWithClaims(token, claims, k.Keyfunc, opts...); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		okHandler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyfuncClaimsKey{}, claims)))
	})
}

// newJWTAuth is a Verifier with the key given locally (no network) and Config.CacheBytes cacheBytes
// (jwtauth.CacheOff for rows that check the signature on every request, 0 for the default cache), every other
// setting at its default.
func newJWTAuth(tb testing.TB, f *fixture, cacheBytes int) *jwtauth.Verifier {
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     issuer,
			Audiences:  []string{audience},
			Algorithms: []string{f.alg},
			Keys:       jwtauth.LocalKeys(f.jwks),
		}},
		CacheBytes: cacheBytes,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = v.Close() })
	return v
}

// scopeClaims is the custom claims type of Auth0's Go API quickstart: the space-delimited scope claim, with
// HasScope checked by the API.
type scopeClaims struct {
	Scope string `json:"scope"`
}

// Validate accepts any scope: the quickstart checks scopes per route (requireScope), not per token.
func (c *scopeClaims) Validate(context.Context) error { return nil }

// HasScope reports whether the space-delimited scope claim contains s.
func (c *scopeClaims) HasScope(s string) bool { return slices.Contains(strings.Split(c.Scope, " "), s) }

// auth0V2 is validator.New + jwtmiddleware.New(...).CheckJWT, as in the v2 README. v2 has no option to
// require exp: it checks exp only when the token has one.
func auth0V2(tb testing.TB, f *fixture, scoped bool) http.Handler {
	keyFunc := func(context.Context) (any, error) { return f.pub, nil }
	opts := []auth0v2validator.Option{auth0v2validator.WithAllowedClockSkew(leeway)}
	if scoped {
		opts = append(opts, auth0v2validator.WithCustomClaims(func() auth0v2validator.CustomClaims { return &scopeClaims{} }))
	}
	v, err := auth0v2validator.New(keyFunc, auth0v2validator.SignatureAlgorithm(f.alg), issuer, []string{audience}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	next := http.Handler(okHandler)
	if scoped {
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, ok := r.Context().Value(auth0v2.ContextKey{}).(*auth0v2validator.ValidatedClaims)
			if !ok || !claims.CustomClaims.(*scopeClaims).HasScope(needed) {
				http.Error(w, `{"message":"Insufficient scope."}`, http.StatusForbidden)
				return
			}
			okHandler.ServeHTTP(w, r)
		})
	}
	return auth0v2.New(v.ValidateToken).CheckJWT(next)
}

// auth0V3 is validator.New(With...) + jwtmiddleware.New(WithValidator(...)).CheckJWT, as in the v3 README,
// with its documented WithRegisteredClaimsValidator to require exp.
func auth0V3(tb testing.TB, f *fixture, scoped bool) http.Handler {
	opts := []auth0v3validator.Option{
		auth0v3validator.WithKeyFunc(func(context.Context) (any, error) { return f.pub, nil }),
		auth0v3validator.WithAlgorithm(auth0v3validator.SignatureAlgorithm(f.alg)),
		auth0v3validator.WithIssuer(issuer),
		auth0v3validator.WithAudience(audience),
		auth0v3validator.WithAllowedClockSkew(leeway),
		auth0v3validator.WithRegisteredClaimsValidator(func(c auth0v3validator.RegisteredClaims) error {
			if c.Expiry == 0 {
				return errors.New("exp is required")
			}
			return nil
		}),
	}
	if scoped {
		opts = append(opts, auth0v3validator.WithCustomClaims(func() *scopeClaims { return &scopeClaims{} }))
	}
	v, err := auth0v3validator.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := auth0v3.New(auth0v3.WithValidator(v))
	if err != nil {
		tb.Fatal(err)
	}
	next := http.Handler(okHandler)
	if scoped {
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			claims, err := auth0v3.GetClaims[*auth0v3validator.ValidatedClaims](r.Context())
			if err != nil || !claims.CustomClaims.(*scopeClaims).HasScope(needed) {
				http.Error(w, `{"message":"Insufficient scope."}`, http.StatusForbidden)
				return
			}
			okHandler.ServeHTTP(w, r)
		})
	}
	return m.CheckJWT(next)
}

// goChi is jwtauth.New(alg, nil, publicKey, validate options...) + Verifier + Authenticator, as in the
// go-chi/jwtauth README. The scope check reads the claims with FromContext, the README's way to get them.
func goChi(_ testing.TB, f *fixture, scoped bool) http.Handler {
	ja := chijwtauth.New(f.alg, nil, f.pub,
		jwxv2.WithIssuer(issuer),
		jwxv2.WithAudience(audience),
		jwxv2.WithRequiredClaim("exp"),
		jwxv2.WithAcceptableSkew(leeway),
	)
	next := http.Handler(okHandler)
	if scoped {
		next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, claims, err := chijwtauth.FromContext(r.Context())
			s, _ := claims["scope"].(string)
			if err != nil || !slices.Contains(strings.Split(s, " "), needed) {
				http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
				return
			}
			okHandler.ServeHTTP(w, r)
		})
	}
	return chijwtauth.Verifier(ja)(chijwtauth.Authenticator(ja)(next))
}
