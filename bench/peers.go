package bench

// The fixtures and row constructors of the suite, shared by the go test benchmarks (bench_test.go) and the
// real-server load benchmark (load/, which cannot import a _test.go file).

import (
	"context"
	"crypto"
	"crypto/x509"
	"embed"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
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

// T is what the row constructors need from their caller: testing.TB has it, and so does the load server.
type T interface {
	Fatal(args ...any)
	Cleanup(f func())
}

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

// testKeys are embedded so the load benchmark's binaries find them wherever they run.
//
//go:embed testdata/es256.pem testdata/rs256.pem
var testKeys embed.FS

func loadKey(path string) crypto.Signer {
	data, err := testKeys.ReadFile(path)
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
	return f.mintKid(signer, keyID, edits)
}

// mintKid is mintWith with kid in the header instead of the fixture's.
func (f *fixture) mintKid(signer crypto.Signer, kid string, edits map[string]any) string {
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
	header, err := json.Marshal(map[string]string{"alg": f.alg, "kid": kid, "typ": "JWT"})
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
func keyfuncHandler(tb T, f *fixture) http.Handler {
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
func newJWTAuth(tb T, f *fixture, cacheBytes int) *jwtauth.Verifier {
	return newJWTAuthKeys(tb, f, jwtauth.LocalKeys(f.jwks), cacheBytes)
}

// newJWTAuthKeys is newJWTAuth with the keys from keys.
func newJWTAuthKeys(tb T, f *fixture, keys jwtauth.KeySource, cacheBytes int) *jwtauth.Verifier {
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     issuer,
			Audiences:  []string{audience},
			Algorithms: []string{f.alg},
			Keys:       keys,
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
func auth0V2(tb T, f *fixture, scoped bool) http.Handler {
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
func auth0V3(tb T, f *fixture, scoped bool) http.Handler {
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
func goChi(_ T, f *fixture, scoped bool) http.Handler {
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
