package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	issTestIssuer   = "https://login.example.test"
	issTestAudience = "login-server"
)

// issTestKeys caches generated signing keys per algorithm: RSA generation dominates run time otherwise.
var issTestKeys sync.Map

func issKey(t testing.TB, alg string) *jwtauth.SigningKey {
	t.Helper()
	if k, ok := issTestKeys.Load(alg); ok {
		return k.(*jwtauth.SigningKey)
	}
	k, err := jwtauth.GenerateSigningKey(alg)
	require.NoError(t, err)
	actual, _ := issTestKeys.LoadOrStore(alg, k)
	return actual.(*jwtauth.SigningKey)
}

func issNew(t testing.TB, mutate func(*jwtauth.IssuerConfig)) *jwtauth.Issuer {
	t.Helper()
	cfg := jwtauth.IssuerConfig{
		Issuer:   issTestIssuer,
		Audience: []string{issTestAudience},
		Keys:     []*jwtauth.SigningKey{issKey(t, "ES256")},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	i, err := jwtauth.NewIssuer(cfg)
	require.NoError(t, err)
	return i
}

func issVerifier(t testing.TB, i *jwtauth.Issuer) *jwtauth.Verifier {
	t.Helper()
	v, err := i.Verifier(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// issSegment decodes segment n of a compact token into a map, numbers kept as json.Number.
func issSegment(t testing.TB, token string, n int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[n])
	require.NoError(t, err)
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	require.NoError(t, d.Decode(&m))
	return m
}

// issClock is a settable clock safe to read from any goroutine.
type issClock struct{ unix atomic.Int64 }

func newIssClock(t time.Time) *issClock {
	c := &issClock{}
	c.unix.Store(t.Unix())
	return c
}
func (c *issClock) Now() time.Time      { return time.Unix(c.unix.Load(), 0) }
func (c *issClock) Add(d time.Duration) { c.unix.Add(int64(d / time.Second)) }

func issPrivateMembers() []string { return []string{"d", "p", "q", "dp", "dq", "qi", "k"} }

func issB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func issBase64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// issWrapLines is base64 of b wrapped every n columns, as `base64 jwks.json` prints it.
func issWrapLines(b []byte, n int) []byte { return []byte(issWrap(issBase64Std(b), n)) }

func issPEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func issJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func issKeysJSON(t testing.TB, keys ...map[string]any) []byte {
	return issJSON(t, map[string]any{"keys": keys})
}

func issWrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

// issPrivateJWK returns the first key of a private JWK Set as a map.
func issPrivateJWK(t testing.TB, k *jwtauth.SigningKey) map[string]any {
	t.Helper()
	raw, err := jwtauth.PrivateJWKS(k)
	require.NoError(t, err)
	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(raw, &set))
	require.Len(t, set.Keys, 1)
	return set.Keys[0]
}

// issSecrets lists the private members of k's JWK, for checking that a text does not leak them.
func issSecrets(t testing.TB, k *jwtauth.SigningKey) []string {
	t.Helper()
	var out []string
	for name, v := range issPrivateJWK(t, k) {
		for _, p := range issPrivateMembers() {
			if name == p {
				out = append(out, v.(string))
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

func issAssertNoSecret(t testing.TB, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		assert.NotContains(t, text, s)
		assert.NotContains(t, text, s[:12], "a prefix of private key material leaked")
	}
}

func TestIssuer_RoundTripsThroughTheVerifier(t *testing.T) {
	for _, alg := range []string{"", "ES384", "ES512", "RS256", "PS256", "EdDSA"} {
		name := alg
		if name == "" {
			name = "default ES256"
		}
		t.Run(name, func(t *testing.T) {
			key := issKey(t, alg)
			i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = []*jwtauth.SigningKey{key} })
			want := alg
			if want == "" {
				want = "ES256"
			}
			assert.Equal(t, want, key.Algorithm())

			tok, err := i.Issue("user-42", map[string]any{"email": "a@example.test", "scope": "read:messages admin"})
			require.NoError(t, err)

			c, err := issVerifier(t, i).Verify(context.Background(), tok)
			require.NoError(t, err)
			assert.Equal(t, issTestIssuer, c.Issuer)
			assert.Equal(t, "user-42", c.Subject)
			assert.Equal(t, []string{issTestAudience}, c.Audience)
			assert.Equal(t, []string{"read:messages", "admin"}, c.Scopes)
			assert.Equal(t, key.KeyID(), c.KeyID)
			assert.Equal(t, want, c.Algorithm)
			jti, err := base64.RawURLEncoding.DecodeString(c.ID)
			require.NoError(t, err)
			assert.Len(t, jti, 16, "jti carries 128 random bits")
			email, err := jwtauth.GetClaim[string](c, "email")
			require.NoError(t, err)
			assert.Equal(t, "a@example.test", email)

			assert.Equal(t, map[string]any{"alg": want, "kid": key.KeyID(), "typ": "JWT"}, issSegment(t, tok, 0))
		})
	}
}

func TestIssuer_WritesRegisteredClaimsAsIntegersWithExpAfterTTL(t *testing.T) {
	clock := newIssClock(time.Unix(1_800_000_000, 0))
	i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Clock = clock.Now; c.TTL = 90 * time.Second })
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)

	p := issSegment(t, tok, 1)
	assert.ElementsMatch(t, []string{"iss", "sub", "aud", "iat", "nbf", "exp", "jti"}, keysOf(p))
	assert.Equal(t, json.Number("1800000000"), p["iat"])
	assert.Equal(t, json.Number("1800000000"), p["nbf"])
	assert.Equal(t, json.Number("1800000090"), p["exp"])
	assert.Equal(t, issTestAudience, p["aud"], "a single audience is written as a string")
	assert.Equal(t, 90*time.Second, i.TTL())
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestIssuer_WritesSeveralAudiencesAsAnArray(t *testing.T) {
	i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Audience = []string{"api-a", "api-b"} })
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)
	assert.Equal(t, []any{"api-a", "api-b"}, issSegment(t, tok, 1)["aud"])

	c, err := issVerifier(t, i).Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"api-a", "api-b"}, c.Audience)
}

func TestIssuer_EncodesAnySubjectAndClaimsAsValidJSON(t *testing.T) {
	i := issNew(t, nil)
	v := issVerifier(t, i)
	for _, sub := range []string{`quote " and \ backslash`, "new\nline\ttab\x00nul\x1f", "caf\u00e9 \u2028 \U0001F600", "bad utf8 \xff\xfe", "<script>&amp;"} {
		claims := map[string]any{"n": 1.5, "list": []string{"a", "b"}, "nested": map[string]any{"x": true}, "null": nil}
		tok, err := i.Issue(sub, claims)
		require.NoError(t, err)
		c, err := v.Verify(context.Background(), tok)
		require.NoError(t, err, "subject %q", sub)
		var want string // what encoding/json makes of it: each invalid byte becomes U+FFFD
		require.NoError(t, json.Unmarshal(issJSON(t, sub), &want))
		assert.Equal(t, want, c.Subject)
		var got struct {
			N      float64        `json:"n"`
			List   []string       `json:"list"`
			Nested map[string]any `json:"nested"`
		}
		require.NoError(t, c.Decode(&got))
		assert.Equal(t, 1.5, got.N)
		assert.Equal(t, []string{"a", "b"}, got.List)
		assert.Equal(t, map[string]any{"x": true}, got.Nested)
	}
}

func TestIssuer_RefusesReservedClaimOverride(t *testing.T) {
	i := issNew(t, nil)
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf"} {
		t.Run(name, func(t *testing.T) {
			tok, err := i.Issue("u1", map[string]any{"scope": "a", name: "override"})
			require.Error(t, err)
			assert.ErrorIs(t, err, jwtauth.ErrReservedClaim)
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", name))
			assert.Empty(t, tok)
		})
	}
}

// A6: encoding/json-based verifiers (golang-jwt and most others) read "SUB", "Exp" or "ſub" (U+017F) as the
// registered claim, so a caller's claim of that name would override what the Issuer set.
func TestIssuer_RefusesClaimNamesThatFoldToReservedOnes(t *testing.T) {
	i := issNew(t, nil)
	for _, name := range []string{"SUB", "Exp", "ſub", "ISS", "Aud", "nBf", "IAT", "Jti", "CNF", "jtI"} {
		t.Run(name, func(t *testing.T) {
			tok, err := i.Issue("u1", map[string]any{name: "override"})
			assert.ErrorIs(t, err, jwtauth.ErrReservedClaim)
			assert.Empty(t, tok)
		})
	}
	// A claim the Verifier reads by its exact name (scope, scp, permissions) must not come in another case, and
	// two caller claims equal ignoring case (at any depth) would be read as one: the Verifier refuses such
	// tokens, so the Issuer does not mint them.
	for name, claims := range map[string]map[string]any{
		"Scope":         {"Scope": "admin"},
		"PERMISSIONS":   {"PERMISSIONS": []string{"admin"}},
		"email, EMAIL":  {"email": "a@example.com", "EMAIL": "b@example.com"},
		"nested k, K":   {"org": map[string]any{"k": 1, "K": 2}},
		"Kelvin nested": {"org": map[string]any{"kind": 1, "Kind": 2}},
	} {
		tok, err := i.Issue("u1", claims)
		assert.Error(t, err, name)
		assert.Empty(t, tok, name)
	}
	// Names that only look alike are distinct claims.
	tok, err := i.Issue("u1", map[string]any{"ß": 1, "ss": 2, "subject": "x", "scope": "read"})
	require.NoError(t, err)
	v, err := i.Verifier(context.Background())
	require.NoError(t, err)
	defer v.Close()
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "u1", c.Subject)
}

func TestIssuer_RefusesEmptySubjectAndClaimsThatAreNotJSON(t *testing.T) {
	i := issNew(t, nil)
	_, err := i.Issue("", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "subject is empty")

	for name, bad := range map[string]any{"channel": make(chan int), "func": func() {}, "complex": complex(1, 2)} {
		_, err := i.Issue("u1", map[string]any{"x": bad})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "do not encode as JSON")
	}
}

func TestIssuer_TokensOfARetiredKeyVerifyUntilTheyExpire(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	clock := newIssClock(t0)
	oldKey, err := jwtauth.GenerateSigningKey("")
	require.NoError(t, err)
	newKey, err := jwtauth.GenerateSigningKey("")
	require.NoError(t, err)
	require.NotEqual(t, oldKey.KeyID(), newKey.KeyID())

	before := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = []*jwtauth.SigningKey{oldKey}; c.Clock = clock.Now })
	oldToken, err := before.Issue("u1", nil)
	require.NoError(t, err)

	after := issNew(t, func(c *jwtauth.IssuerConfig) {
		c.Keys = []*jwtauth.SigningKey{oldKey, newKey}
		c.ActiveKeyID = newKey.KeyID()
		c.Clock = clock.Now
	})
	assert.Same(t, newKey, after.ActiveKey())
	newToken, err := after.Issue("u1", nil)
	require.NoError(t, err)
	assert.Equal(t, newKey.KeyID(), issSegment(t, newToken, 0)["kid"])

	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(after.JWKS(), &set))
	require.Len(t, set.Keys, 2)
	assert.Equal(t, oldKey.KeyID(), set.Keys[0]["kid"])
	assert.Equal(t, newKey.KeyID(), set.Keys[1]["kid"])

	v := issVerifier(t, after)
	clock.Add(10 * time.Minute)
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		_, err := v.Verify(context.Background(), tok)
		assert.NoError(t, err, "%s key's token within its lifetime", name)
	}
	clock.Add(10 * time.Minute) // 20 minutes: past the 15-minute TTL and the 60 s leeway
	_, err = v.Verify(context.Background(), oldToken)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestIssuer_TokenIssuedWithAPastClockIsExpiredForARealClock(t *testing.T) {
	past := time.Now().Add(-2 * time.Hour)
	i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Clock = func() time.Time { return past } })
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)

	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{i.TrustedIssuer()}})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestIssuer_TrustedIssuerDescribesItsTokens(t *testing.T) {
	es, rs := issKey(t, "ES256"), issKey(t, "RS256")
	i := issNew(t, func(c *jwtauth.IssuerConfig) {
		c.Audience = []string{"a", "b"}
		c.Keys = []*jwtauth.SigningKey{es, issKey(t, "ES384"), rs}
		c.ActiveKeyID = rs.KeyID()
	})
	ti := i.TrustedIssuer()
	assert.Equal(t, issTestIssuer, ti.Issuer)
	assert.Equal(t, []string{"a", "b"}, ti.Audiences)
	assert.Equal(t, []string{"ES256", "ES384", "RS256"}, ti.Algorithms)
	require.NotNil(t, ti.Keys)

	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
	require.NoError(t, err)
	defer v.Close()
	c, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "RS256", c.Algorithm)
}

func TestIssuer_JWKSHasNoPrivateMembers(t *testing.T) {
	i := issNew(t, func(c *jwtauth.IssuerConfig) {
		c.Keys = []*jwtauth.SigningKey{issKey(t, "ES256"), issKey(t, "RS256"), issKey(t, "EdDSA")}
	})
	for name, body := range map[string][]byte{"JWKS": i.JWKS(), "handler": issGet(t, i.JWKSHandler(), http.MethodGet).Body.Bytes()} {
		var set struct{ Keys []map[string]any }
		require.NoError(t, json.Unmarshal(body, &set), name)
		require.Len(t, set.Keys, 3)
		for _, k := range set.Keys {
			for _, member := range issPrivateMembers() {
				assert.NotContains(t, k, member, "%s: kid %v", name, k["kid"])
			}
			assert.Equal(t, "sig", k["use"])
			assert.NotEmpty(t, k["kid"])
			assert.NotEmpty(t, k["alg"])
		}
	}
	j := i.JWKS()
	j[0] = 'X'
	assert.Equal(t, byte('{'), i.JWKS()[0], "JWKS returns a copy")
}

func issGet(t testing.TB, h http.Handler, method string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, "/", nil))
	return w
}

func TestIssuer_HandlersServeCacheablePublicDocumentsOnGETAndHEADOnly(t *testing.T) {
	i := issNew(t, nil)
	handlers := map[string]struct {
		h           http.Handler
		contentType string
	}{
		"jwks":      {i.JWKSHandler(), "application/jwk-set+json"},
		"discovery": {i.DiscoveryHandler(""), "application/json"},
	}
	for name, tc := range handlers {
		t.Run(name, func(t *testing.T) {
			get := issGet(t, tc.h, http.MethodGet)
			assert.Equal(t, http.StatusOK, get.Code)
			assert.Equal(t, tc.contentType, get.Header().Get("Content-Type"))
			assert.Equal(t, "public, max-age=300", get.Header().Get("Cache-Control"))
			assert.True(t, json.Valid(get.Body.Bytes()))
			assert.Equal(t, fmt.Sprint(get.Body.Len()), get.Header().Get("Content-Length"))

			head := issGet(t, tc.h, http.MethodHead)
			assert.Equal(t, http.StatusOK, head.Code)
			assert.Equal(t, tc.contentType, head.Header().Get("Content-Type"))
			assert.Equal(t, get.Header().Get("Content-Length"), head.Header().Get("Content-Length"))
			assert.Zero(t, head.Body.Len())

			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, http.MethodPatch} {
				w := issGet(t, tc.h, m)
				assert.Equal(t, http.StatusMethodNotAllowed, w.Code, m)
				assert.Equal(t, "GET, HEAD", w.Header().Get("Allow"), m)
				assert.Equal(t, "application/json", w.Header().Get("Content-Type"), m)
				var body map[string]string
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), m)
				assert.NotEmpty(t, body["error"])
				assert.NotEmpty(t, body["error_description"])
				assert.Empty(t, w.Header().Get("Cache-Control"), "errors are not cached")
			}
		})
	}
	assert.JSONEq(t, string(i.JWKS()), issGet(t, i.JWKSHandler(), http.MethodGet).Body.String())
}

func TestIssuer_DiscoveryDocumentNamesIssuerKeysAndEveryAlgorithmOnce(t *testing.T) {
	i := issNew(t, func(c *jwtauth.IssuerConfig) {
		es2, err := jwtauth.GenerateSigningKey("ES256")
		require.NoError(t, err)
		c.Issuer = "https://login.example.test/"
		c.Keys = []*jwtauth.SigningKey{issKey(t, "ES256"), issKey(t, "RS256"), es2}
	})
	var doc map[string]any
	require.NoError(t, json.Unmarshal(issGet(t, i.DiscoveryHandler("https://keys.example.test/jwks.json"), http.MethodGet).Body.Bytes(), &doc))
	assert.Equal(t, "https://login.example.test/", doc["issuer"])
	assert.Equal(t, "https://keys.example.test/jwks.json", doc["jwks_uri"])
	assert.Equal(t, []any{"ES256", "RS256"}, doc["id_token_signing_alg_values_supported"])
	assert.Equal(t, []any{"token"}, doc["response_types_supported"])
	assert.Equal(t, []any{"public"}, doc["subject_types_supported"])

	require.NoError(t, json.Unmarshal(issGet(t, i.DiscoveryHandler(""), http.MethodGet).Body.Bytes(), &doc))
	assert.Equal(t, "https://login.example.test/.well-known/jwks.json", doc["jwks_uri"], "default next to the issuer, no double slash")
}

func TestIssuer_ServesKeysToADiscoveringVerifier(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Issuer = srv.URL })
	mux.Handle("/.well-known/jwks.json", i.JWKSHandler())
	mux.Handle("/.well-known/openid-configuration", i.DiscoveryHandler(""))

	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer: srv.URL, Audiences: []string{issTestAudience}, Algorithms: []string{"ES256"}, Keys: jwtauth.Discover(srv.URL),
	}}})
	require.NoError(t, err)
	defer v.Close()
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err)
}

func TestNewIssuer_ReportsEveryConfigProblemAtOnce(t *testing.T) {
	_, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{})
	require.Error(t, err)
	for _, want := range []string{"IssuerConfig.Issuer is empty", "IssuerConfig.Audience is empty", "IssuerConfig.Keys is empty"} {
		assert.Contains(t, err.Error(), want)
	}

	k := issKey(t, "ES256")
	_, err = jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer:      issTestIssuer,
		Audience:    []string{"ok", ""},
		TTL:         -time.Minute,
		Keys:        []*jwtauth.SigningKey{k, nil, k, {}},
		ActiveKeyID: "nope",
	})
	require.Error(t, err)
	for _, want := range []string{
		"IssuerConfig.Audience[1] is empty",
		"IssuerConfig.TTL -1m0s is out of range",
		"IssuerConfig.Keys[1] is not a usable key",
		fmt.Sprintf("IssuerConfig.Keys[2]: kid %q is used by another key", k.KeyID()),
		"IssuerConfig.Keys[3] is not a usable key",
		`IssuerConfig.ActiveKeyID "nope"`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestNewIssuer_BoundsTTL(t *testing.T) {
	for _, tc := range []struct {
		ttl  time.Duration
		want time.Duration // 0: refused
	}{
		{0, 15 * time.Minute},
		{time.Second, time.Second},
		{time.Hour, time.Hour},
		{24 * time.Hour, 24 * time.Hour},
		{24*time.Hour + time.Second, 0},
		{500 * time.Millisecond, 0},
		{-time.Second, 0},
	} {
		t.Run(tc.ttl.String(), func(t *testing.T) {
			i, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: issTestIssuer, Audience: []string{"a"}, TTL: tc.ttl, Keys: []*jwtauth.SigningKey{issKey(t, "ES256")}})
			if tc.want == 0 {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "IssuerConfig.TTL")
				assert.Contains(t, err.Error(), "cannot be revoked")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, i.TTL())
		})
	}
}

func TestNewIssuer_UnknownActiveKeyIDNamesTheKnownKids(t *testing.T) {
	a, b := issKey(t, "ES256"), issKey(t, "EdDSA")
	_, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: issTestIssuer, Audience: []string{"a"}, Keys: []*jwtauth.SigningKey{a, b}, ActiveKeyID: "missing"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"missing"`)
	assert.Contains(t, err.Error(), fmt.Sprintf("%q, %q", a.KeyID(), b.KeyID()))

	i, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: issTestIssuer, Audience: []string{"a"}, Keys: []*jwtauth.SigningKey{a, b}})
	require.NoError(t, err)
	assert.Same(t, a, i.ActiveKey(), "the first key signs by default")
}

func TestNewIssuer_CopiesItsConfig(t *testing.T) {
	cfg := jwtauth.IssuerConfig{Issuer: issTestIssuer, Audience: []string{"a"}, Keys: []*jwtauth.SigningKey{issKey(t, "ES256")}}
	i, err := jwtauth.NewIssuer(cfg)
	require.NoError(t, err)
	cfg.Audience[0] = "changed"
	cfg.Keys[0] = issKey(t, "EdDSA")
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)
	assert.Equal(t, "a", issSegment(t, tok, 1)["aud"])
	assert.Equal(t, "ES256", issSegment(t, tok, 0)["alg"])
}

// issThumbprint computes the RFC 7638 thumbprint independently: json.Marshal sorts map keys and adds no
// whitespace, which is exactly the canonical form.
func issThumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	jwk := jwtauthtest.PublicJWK(pub, "", "")
	required := map[string][]string{"EC": {"crv", "kty", "x", "y"}, "RSA": {"e", "kty", "n"}, "OKP": {"crv", "kty", "x"}}[jwk["kty"]]
	canon := map[string]string{}
	for _, m := range required {
		canon[m] = jwk[m]
	}
	sum := sha256.Sum256(issJSON(t, canon))
	return issB64(sum[:])
}

type opaqueSigner struct{ crypto.Signer }

var (
	issRSAOnce sync.Once
	issRSAKey  *rsa.PrivateKey
)

func issRSA(t testing.TB) *rsa.PrivateKey {
	issRSAOnce.Do(func() {
		var err error
		issRSAKey, err = rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
	})
	return issRSAKey
}

func issIndent(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	require.NoError(t, json.Indent(&out, b, "", "  "))
	return out.Bytes()
}

// Benchmarks: issuing must stay within 1.2x of the raw floor (JSON encoding, base64, SHA-256, ecdsa.Sign).

var issBenchClaims = map[string]any{"email": "user@example.com", "scope": "read:messages write:messages"}

func BenchmarkIssuer_Issue(b *testing.B) {
	k, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(b, err)
	i, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: issTestIssuer, Audience: []string{issTestAudience}, Keys: []*jwtauth.SigningKey{k}})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Issue("user-1234", issBenchClaims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssuer_RawFloor(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	header := issB64([]byte(`{"alg":"ES256","kid":"MTbS1wS4W4xFq3yK7g6d9cQJ2xv0m5bCkzqN8rP4hYs","typ":"JWT"}`)) + "."
	type claims struct {
		Iss   string `json:"iss"`
		Sub   string `json:"sub"`
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Nbf   int64  `json:"nbf"`
		Exp   int64  `json:"exp"`
		Jti   string `json:"jti"`
		Email string `json:"email"`
		Scope string `json:"scope"`
	}
	b.ReportAllocs()
	for b.Loop() {
		var jti [16]byte
		_, _ = rand.Read(jti[:])
		now := time.Now().Unix()
		p, err := json.Marshal(claims{issTestIssuer, "user-1234", issTestAudience, now, now, now + 900, issB64(jti[:]),
			issBenchClaims["email"].(string), issBenchClaims["scope"].(string)})
		if err != nil {
			b.Fatal(err)
		}
		input := header + issB64(p)
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			b.Fatal(err)
		}
		var sig [64]byte
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		_ = input + "." + issB64(sig[:])
	}
}

func TestIssuer_IsSafeForConcurrentUse(t *testing.T) {
	i := issNew(t, nil)
	v := issVerifier(t, i)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for n := 0; n < 20; n++ {
				tok, err := i.Issue(fmt.Sprintf("user-%d", g), map[string]any{"n": n})
				if !assert.NoError(t, err) {
					return
				}
				c, err := v.Verify(context.Background(), tok)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				assert.False(t, seen[c.ID], "jti repeated")
				seen[c.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, 160)
}
