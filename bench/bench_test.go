// Package bench measures jwtauth side by side with the libraries people use instead of it, on the same token,
// the same claims and the same handler. It is its own module so that the peers never become dependencies of
// jwtauth itself. run.sh runs the suite and prints the tables; README.md explains each row.
package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// algorithms are the two tables of the suite.
var algorithms = []string{"ES256", "RS256"}

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
	{name: "keyfunc", handler: func(tb testing.TB, f *fixture) http.Handler { return keyfuncHandler(tb, f) }},
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
