package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/require"
)

// Shared fixtures for the package's tests.

const testIssuer = "https://issuer.example.test/"
const testAudience = "https://api.example.test"

// keyCache avoids generating an RSA key per test: RSA key generation dominates the suite's run time.
var keyCache sync.Map

func testKey(alg string, n int) crypto.Signer {
	name := alg
	if strings.HasPrefix(alg, "PS") {
		name = "RS256"
	}
	type id struct {
		alg string
		n   int
	}
	if k, ok := keyCache.Load(id{name, n}); ok {
		return k.(crypto.Signer)
	}
	k, _ := keyCache.LoadOrStore(id{name, n}, jwtauthtest.NewKey(name))
	return k.(crypto.Signer)
}

// shortTimers lifts the floors of o's durations, for tests that refresh in milliseconds.
func shortTimers(o jwtauth.JWKSOptions) jwtauth.JWKSOptions {
	jwtauth.AllowShortJWKSTimersForTest(&o)
	return o
}

// fixedClock is a settable clock for tests.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fixedClock { return &fixedClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// localFixture is a Verifier over local keys with a fixed clock, and a way to sign anything.
type localFixture struct {
	t     testing.TB
	clock *fixedClock
	alg   string
	kid   string
	key   crypto.Signer
	v     *jwtauth.Verifier
}

// newLocal builds a Verifier trusting testIssuer with one key of alg published under kid "k1".
func newLocal(t testing.TB, alg string, mutate ...func(*jwtauth.Config)) *localFixture {
	t.Helper()
	f := &localFixture{t: t, clock: newClock(), alg: alg, kid: "k1", key: testKey(alg, 0)}
	jwks := jwksOf(map[string]string{"k1": alg}, map[string]crypto.Signer{"k1": f.key})
	cfg := jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:     testIssuer,
			Audiences:  []string{testAudience},
			Algorithms: []string{alg},
			Keys:       jwtauth.LocalKeys(jwks),
		}},
		Clock:  f.clock.Now,
		Logger: quietLogger(t),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	f.v = v
	return f
}

func jwksOf(algs map[string]string, keys map[string]crypto.Signer) []byte {
	set := map[string]any{"keys": []any{}}
	var list []any
	for kid, k := range keys {
		list = append(list, jwtauthtest.PublicJWK(k.Public(), kid, algs[kid]))
	}
	set["keys"] = list
	b, _ := json.Marshal(set)
	return b
}

// claims returns valid claims for the fixture's clock; extra entries override, nil entries delete.
func (f *localFixture) claims(extra map[string]any) map[string]any {
	now := f.clock.Now()
	c := map[string]any{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": "read:messages write:messages",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (f *localFixture) header(extra map[string]any) map[string]any {
	h := map[string]any{"alg": f.alg, "kid": f.kid, "typ": "JWT"}
	for k, v := range extra {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// token signs claims (merged over the valid defaults) under a header (merged over the defaults).
func (f *localFixture) token(header, claims map[string]any) string {
	hb, _ := json.Marshal(f.header(header))
	cb, _ := json.Marshal(f.claims(claims))
	return jwtauthtest.SignRaw(f.alg, f.key, hb, cb)
}

// raw signs exact header and payload JSON texts.
func (f *localFixture) raw(header, payload string) string {
	return jwtauthtest.SignRaw(f.alg, f.key, []byte(header), []byte(payload))
}

func (f *localFixture) verify(tok string) (*jwtauth.Claims, error) {
	return f.v.Verify(context.Background(), tok)
}

// selfSignedCert makes a throwaway certificate for key.
func selfSignedCert(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return der
}

// quietLogger sends the library's logs to the test log, shown only when a test fails or with -v.
func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// okHandler records whether it was reached.
type okHandler struct {
	mu      sync.Mutex
	reached int
	claims  *jwtauth.Claims
}

func (h *okHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.reached++
	h.claims, _ = jwtauth.ClaimsFromContext(r.Context())
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("ok"))
}

func (h *okHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reached
}

// serve runs one request through h with the given Authorization header values.
func serve(h http.Handler, authorization ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, a := range authorization {
		r.Header.Add("Authorization", a)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorBody decodes a JSON error response.
func errorBody(t testing.TB, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	var m map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m), "body: %s", w.Body.String())
	return m
}

// logCapture collects a Verifier's log records as JSON lines, safe for its background goroutines.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// logger logs records of level and above into l.
func (l *logCapture) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: level}))
}

// records returns the records whose msg is msg.
func (l *logCapture) records(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
