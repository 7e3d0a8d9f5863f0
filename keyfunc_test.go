package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kfVerifier is a Verifier trusting idp, with short waits so refused refreshes do not slow the suite.
func kfVerifier(t *testing.T, ti jwtauth.TrustedIssuer, mutate ...func(*jwtauth.Config)) *jwtauth.Verifier {
	t.Helper()
	cfg := jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{ti},
		JWKS:    jwtauth.JWKSOptions{MaxWait: 500 * time.Millisecond, FetchTimeout: 2 * time.Second},
		Logger:  quietLogger(t),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// kfOptions are the parser options the README recommends next to the Keyfunc.
func kfOptions(ti jwtauth.TrustedIssuer) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods(ti.Algorithms),
		jwt.WithIssuer(ti.Issuer),
		jwt.WithAudience(ti.Audiences[0]),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	}
}

func kfKeyfunc(t *testing.T, v *jwtauth.Verifier, issuer string) keyfunc.Keyfunc {
	t.Helper()
	k, err := v.Keyfunc(issuer)
	require.NoError(t, err)
	return k
}

func TestKeyfunc_JWTParseVerifiesTokensFromRemoteKeySet(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm(alg))
			ti := idp.TrustedIssuer()
			k := kfKeyfunc(t, kfVerifier(t, ti), idp.Issuer())

			tok, err := jwt.Parse(idp.Mint(map[string]any{"sub": "user-1"}), k.Keyfunc, kfOptions(ti)...)
			require.NoError(t, err)
			assert.True(t, tok.Valid)
			sub, _ := tok.Claims.GetSubject()
			assert.Equal(t, "user-1", sub)

			// The parser options still do the claim checks: the Keyfunc leaves exp to them.
			_, err = jwt.Parse(idp.Mint(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), k.Keyfunc, kfOptions(ti)...)
			assert.ErrorIs(t, err, jwt.ErrTokenExpired)
		})
	}
}

func TestKeyfunc_PicksUpRotation(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	ti := idp.TrustedIssuer()
	k := kfKeyfunc(t, kfVerifier(t, ti), idp.Issuer())
	_, err := jwt.Parse(idp.Mint(nil), k.Keyfunc, kfOptions(ti)...)
	require.NoError(t, err)
	before := idp.Fetches()

	idp.Rotate()
	tok, err := jwt.Parse(idp.Mint(nil), k.Keyfunc, kfOptions(ti)...)
	require.NoError(t, err, "the unknown kid triggers one refresh, which brings the new key")
	assert.True(t, tok.Valid)
	assert.Equal(t, before+1, idp.Fetches())
}

func TestKeyfunc_UnknownKidRefreshIsRateLimited(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	ti := idp.TrustedIssuer()
	k := kfKeyfunc(t, kfVerifier(t, ti, func(c *jwtauth.Config) { c.JWKS.RefreshCooldown = time.Hour }), idp.Issuer())
	before := idp.Fetches()
	for i := range 5 {
		tok := idp.Sign(map[string]any{"kid": "random-" + string(rune('a'+i))}, map[string]any{
			"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
		_, err := jwt.Parse(tok, k.Keyfunc, kfOptions(ti)...)
		assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	}
	assert.Equal(t, before+1, idp.Fetches(), "five unknown kids within the cooldown cost one fetch")
}

func TestKeyfunc_RefusesHMACWithRSAPublicKey(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	ti := idp.TrustedIssuer()
	k := kfKeyfunc(t, kfVerifier(t, ti), idp.Issuer())

	der, err := x509.MarshalPKIXPublicKey(idp.Signer().Public())
	require.NoError(t, err)
	secrets := map[string][]byte{
		"PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"DER": der,
		"JWK": mustJSON(jwtauthtest.PublicJWK(idp.Signer().Public(), idp.KeyID(), "RS256")),
	}
	for name, secret := range secrets {
		t.Run(name, func(t *testing.T) {
			forged := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
			forged.Header["kid"] = idp.KeyID()
			raw, err := forged.SignedString(secret)
			require.NoError(t, err)

			parsed, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
			require.NoError(t, err)
			key, err := k.Keyfunc(parsed)
			assert.Nil(t, key, "no key is handed out for an HMAC token")
			assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)

			// Even without WithValidMethods, which a hand-rolled parser may forget.
			_, err = jwt.Parse(raw, k.Keyfunc)
			assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)
			assert.ErrorIs(t, err, jwt.ErrTokenUnverifiable)
		})
	}
}

// kfMixedIdP serves a key set with one key of each kind the family rows need, under one trusted issuer.
type kfMixedIdP struct {
	idp                      *jwtauthtest.IdP
	ti                       jwtauth.TrustedIssuer
	rsa, rsaPS, p256, attack crypto.Signer
}

func newMixedIdP(t *testing.T) *kfMixedIdP {
	m := &kfMixedIdP{
		idp:    jwtauthtest.NewIdP(t),
		rsa:    testKey("RS256", 0),
		rsaPS:  testKey("RS256", 1),
		p256:   testKey("ES256", 0),
		attack: testKey("ES384", 0),
	}
	set := jwksOf(
		map[string]string{"rsa": "", "rsa-ps": "PS256", "p256": ""},
		map[string]crypto.Signer{"rsa": m.rsa, "rsa-ps": m.rsaPS, "p256": m.p256})
	m.idp.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	m.ti = m.idp.TrustedIssuer()
	m.ti.Algorithms = []string{"RS256", "PS256", "ES256", "ES384"}
	return m
}

func (m *kfMixedIdP) token(alg, kid string, key crypto.Signer, claims map[string]any) string {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	c := map[string]any{"iss": m.idp.Issuer(), "aud": m.idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}
	for name, v := range claims {
		c[name] = v
	}
	return jwtauthtest.SignRaw(alg, key, mustJSON(h), mustJSON(c))
}

// TestKeyfunc_AttackTable drives crafted tokens through jwt.Parse with the Keyfunc and no parser options at
// all, so every refusal below is the Keyfunc's own (RFC 8725 §2.1, §3.1; RFC 7515 §4.1.11; RFC 7518 §3.5).
func TestKeyfunc_AttackTable(t *testing.T) {
	m := newMixedIdP(t)
	k := kfKeyfunc(t, kfVerifier(t, m.ti), m.idp.Issuer())
	other := testKey("RS256", 2)

	rows := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"RS256 with an unpinned RSA key", m.token("RS256", "rsa", m.rsa, nil), nil},
		{"PS256 with the key pinned to PS256", m.token("PS256", "rsa-ps", m.rsaPS, nil), nil},
		{"ES256 with the P-256 key", m.token("ES256", "p256", m.p256, nil), nil},
		{"ES256 header naming the RSA key's kid", m.token("ES256", "rsa", m.p256, nil), jwtauth.ErrUnknownKey},
		{"RS256 with the key pinned to PS256 by its JWK alg", m.token("RS256", "rsa-ps", m.rsaPS, nil), jwtauth.ErrUnknownKey},
		{"ES384 header naming the P-256 key", m.token("ES384", "p256", m.attack, nil), jwtauth.ErrUnknownKey},
		{"kid-less RS256 with two RSA keys, one pinned away: the one that fits", m.token("RS256", "", m.rsa, nil), nil},
		{"kid-less ES384 with no P-384 key", m.token("ES384", "", m.attack, nil), jwtauth.ErrUnknownKey},
		{"RSA key of another issuer under a trusted kid", m.token("RS256", "rsa", other, nil), jwt.ErrTokenSignatureInvalid},
		{"alg none", jwtNone(t, m.idp), jwtauth.ErrAlgorithmNotAllowed},
		{"RS512: known, not in the issuer's Algorithms", m.token("RS512", "rsa", m.rsa, nil), jwtauth.ErrAlgorithmNotAllowed},
		{"iss of another issuer", m.token("RS256", "rsa", m.rsa, map[string]any{"iss": "https://evil.test/"}), jwtauth.ErrUntrustedIssuer},
		{"no iss", kfWithoutIss(m), jwtauth.ErrUntrustedIssuer},
		{"typ dpop+jwt", kfHeader(m, map[string]any{"typ": "dpop+jwt"}), jwtauth.ErrTokenType},
		{"crit header", kfHeader(m, map[string]any{"crit": []string{"exp"}, "exp": 1}), jwtauth.ErrCriticalHeader},
		{"kid is a number", kfHeader(m, map[string]any{"kid": 7}), jwt.ErrTokenMalformed},
		{"PS256 salt length other than the hash length", kfShortSaltPS256(t, m), jwt.ErrTokenSignatureInvalid},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			tok, err := jwt.Parse(r.token, k.Keyfunc)
			if r.want == nil {
				require.NoError(t, err)
				assert.True(t, tok.Valid)
				return
			}
			t.Log(err)
			assert.ErrorIs(t, err, r.want)
			assert.False(t, tok != nil && tok.Valid)
		})
	}
}

func jwtNone(t *testing.T, idp *jwtauthtest.IdP) string {
	raw, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return raw
}

func kfWithoutIss(m *kfMixedIdP) string {
	h := mustJSON(map[string]any{"alg": "RS256", "kid": "rsa"})
	return jwtauthtest.SignRaw("RS256", m.rsa, h, mustJSON(map[string]any{"exp": time.Now().Add(time.Hour).Unix()}))
}

func kfHeader(m *kfMixedIdP, extra map[string]any) string {
	h := map[string]any{"alg": "RS256", "kid": "rsa"}
	for name, v := range extra {
		h[name] = v
	}
	c := map[string]any{"iss": m.idp.Issuer(), "aud": m.idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}
	return jwtauthtest.SignRaw("RS256", m.rsa, mustJSON(h), mustJSON(c))
}

// kfShortSaltPS256 is a PS256 token that golang-jwt's own PS256 accepts (any salt length) and RFC 7518 §3.5 does not.
func kfShortSaltPS256(t *testing.T, m *kfMixedIdP) string {
	h := mustJSON(map[string]any{"alg": "PS256", "kid": "rsa-ps"})
	c := mustJSON(map[string]any{"iss": m.idp.Issuer(), "aud": m.idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, m.rsaPS.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: 20})
	require.NoError(t, err)
	tok := input + "." + base64.RawURLEncoding.EncodeToString(sig)
	_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return m.rsaPS.Public(), nil })
	require.NoError(t, err, "precondition: golang-jwt's default PS256 accepts this salt length")
	return tok
}

func TestKeyfunc_KidlessTokenNeedsExactlyOneKey(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	ti := idp.TrustedIssuer()
	k := kfKeyfunc(t, kfVerifier(t, ti), idp.Issuer())
	kidless := func() string {
		return idp.Sign(map[string]any{"kid": nil}, map[string]any{
			"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
	}
	_, err := jwt.Parse(kidless(), k.Keyfunc, kfOptions(ti)...)
	require.NoError(t, err, "one key in the set: a kid-less token can only mean it")

	idp.Rotate()
	_, err = jwt.Parse(idp.Mint(nil), k.Keyfunc, kfOptions(ti)...)
	require.NoError(t, err, "precondition: the rotated set with two keys is loaded")

	_, err = jwt.Parse(kidless(), k.Keyfunc, kfOptions(ti)...)
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "two keys fit: the Keyfunc does not try them all")
	assert.ErrorContains(t, err, "token has no kid and 2 keys fit ES256")

	set, err := k.VerificationKeySet(context.Background())
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "VerificationKeySet would try every key")
	assert.Empty(t, set.Keys)
}

func TestKeyfunc_UnknownIssuerIsAnErrorAtConstruction(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	v := kfVerifier(t, idp.TrustedIssuer())
	k, err := v.Keyfunc("https://other.example.test/")
	assert.Nil(t, k)
	assert.ErrorContains(t, err, `Keyfunc("https://other.example.test/"): not a trusted issuer`)
	assert.ErrorContains(t, err, idp.Issuer(), "the error lists the trusted issuers")
}

func TestKeyfunc_KeysPastMaxStaleAreUnavailable(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	ti := idp.TrustedIssuer()
	clock := &fixedClock{now: time.Now()}
	v := kfVerifier(t, ti, func(c *jwtauth.Config) { c.Clock = clock.Now; c.JWKS.MaxStale = time.Hour })
	k := kfKeyfunc(t, v, idp.Issuer())
	tok := idp.Mint(nil)
	_, err := jwt.Parse(tok, k.Keyfunc, kfOptions(ti)...)
	require.NoError(t, err)

	idp.SetFault(jwtauthtest.FaultStatus500)
	clock.Add(2 * time.Hour)
	_, err = jwt.Parse(tok, k.Keyfunc, kfOptions(ti)...)
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status())

	_, err = k.Storage().KeyReadAll(context.Background())
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
}

func TestKeyfunc_StorageIsAReadOnlyViewOfCurrentKeys(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	k := kfKeyfunc(t, kfVerifier(t, idp.TrustedIssuer()), idp.Issuer())
	ctx := context.Background()
	s := k.Storage()

	all, err := s.KeyReadAll(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, idp.KeyID(), all[0].Marshal().KID)
	assert.Equal(t, jwkset.AlgES256, all[0].Marshal().ALG)
	assert.True(t, idp.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(all[0].Key()))

	_, err = s.KeyRead(ctx, "nope")
	assert.ErrorIs(t, err, jwkset.ErrKeyNotFound)

	pub, err := s.JSONPrivate(ctx)
	require.NoError(t, err)
	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(pub, &set))
	require.Len(t, set.Keys, 1)
	assert.NotContains(t, set.Keys[0], "d")

	assert.ErrorContains(t, s.KeyWrite(ctx, all[0]), "read-only")
	_, err = s.KeyDelete(ctx, idp.KeyID())
	assert.ErrorContains(t, err, "read-only")
	assert.ErrorContains(t, s.KeyReplaceAll(ctx, nil), "read-only")
	again, err := s.KeyReadAll(ctx)
	require.NoError(t, err)
	assert.Len(t, again, 1, "nothing was deleted")

	idp.Rotate()
	_, err = jwt.Parse(idp.Mint(nil), k.Keyfunc)
	require.NoError(t, err)
	all, err = s.KeyReadAll(ctx)
	require.NoError(t, err)
	assert.Len(t, all, 2, "the view follows refreshes")
}

// A key published for one tenant (Entra's per-key issuer) verifies only that tenant's tokens through the
// Keyfunc too; a multi-tenant issuer, matched with tid, is not offered as a Keyfunc at all.
func TestKeyfunc_EnforcesPerKeyIssuerAndRefusesTemplates(t *testing.T) {
	const iss = "https://login.example.test/tenant-a/v2.0"
	key := testKey("ES256", 0)
	jwk := jwtauthtest.PublicJWK(key.Public(), "k1", "ES256")
	jwk["issuer"] = "https://login.example.test/{tenantid}/v2.0"
	set, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	require.NoError(t, err)
	ti := jwtauth.TrustedIssuer{Issuer: iss, Audiences: []string{testAudience}, Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(set)}
	multi := jwtauth.TrustedIssuer{Issuer: "https://login.example.test/{tenantid}/v2.0", Audiences: []string{testAudience},
		Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(set)}
	v := kfVerifier(t, ti, func(c *jwtauth.Config) { c.Issuers = append(c.Issuers, multi) })
	k := kfKeyfunc(t, v, iss)

	sign := func(claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	base := func(tid any) jwt.MapClaims {
		c := jwt.MapClaims{"iss": iss, "aud": testAudience, "exp": time.Now().Add(time.Hour).Unix()}
		if tid != nil {
			c["tid"] = tid
		}
		return c
	}
	_, err = jwt.Parse(sign(base("tenant-a")), k.Keyfunc, kfOptions(ti)...)
	assert.NoError(t, err)
	for _, tid := range []any{"tenant-b", nil, 7} {
		_, err = jwt.Parse(sign(base(tid)), k.Keyfunc, kfOptions(ti)...)
		assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "tid %v", tid)
	}

	_, err = v.Keyfunc(multi.Issuer)
	assert.ErrorContains(t, err, "only Verify and RequireAuth check")
}

// Google's two documented issuer spellings are one trusted issuer, through the Keyfunc as through Verify.
func TestKeyfunc_AcceptsBothGoogleIssuerSpellings(t *testing.T) {
	key := testKey("RS256", 0)
	ti := jwtauth.Google("client-1.apps.googleusercontent.com")
	ti.Keys = jwtauth.LocalKeys(jwksOf(map[string]string{"g1": "RS256"}, map[string]crypto.Signer{"g1": key}))
	v := kfVerifier(t, ti)
	for _, iss := range []string{"https://accounts.google.com", "accounts.google.com"} {
		k := kfKeyfunc(t, v, iss)
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": iss, "aud": ti.Audiences[0], "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = "g1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		_, err = jwt.Parse(s, k.Keyfunc, jwt.WithIssuer(iss), jwt.WithAudience(ti.Audiences[0]), jwt.WithValidMethods([]string{"RS256"}))
		assert.NoError(t, err, iss)
		_, err = v.Verify(context.Background(), s)
		assert.NoError(t, err, iss)
	}
}

// The checks a profile adds (Cognito: token_use "access" and client_id among the app clients) hold through
// the Keyfunc too: golang-jwt's options cannot express them, and a Cognito ID token must not pass as an access
// token. Certificate-bound tokens are refused, as by Verify, rather than downgraded to bearer tokens.
func TestKeyfunc_RunsProfileChecksAndRefusesCnf(t *testing.T) {
	key := testKey("RS256", 0)
	ti := jwtauth.Cognito("us-east-1_AbC123", "client-1")
	ti.Keys = jwtauth.LocalKeys(jwksOf(map[string]string{"c1": "RS256"}, map[string]crypto.Signer{"c1": key}))
	v := kfVerifier(t, ti)
	k := kfKeyfunc(t, v, ti.Issuer)
	sign := func(extra jwt.MapClaims) string {
		c := jwt.MapClaims{"iss": ti.Issuer, "exp": time.Now().Add(time.Hour).Unix(), "client_id": "client-1", "token_use": "access"}
		for n, x := range extra {
			if x == nil {
				delete(c, n)
			} else {
				c[n] = x
			}
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = "c1"
		s, err := tok.SignedString(key)
		require.NoError(t, err)
		return s
	}
	opts := []jwt.ParserOption{jwt.WithIssuer(ti.Issuer), jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired()}

	_, err := jwt.Parse(sign(nil), k.Keyfunc, opts...)
	require.NoError(t, err, "a Cognito access token of a listed client")

	cases := []struct {
		name   string
		extra  jwt.MapClaims
		target error
	}{
		{"ID token", jwt.MapClaims{"token_use": "id"}, jwtauth.ErrTokenRejected},
		{"no token_use", jwt.MapClaims{"token_use": nil}, jwtauth.ErrTokenRejected},
		{"another app client", jwt.MapClaims{"client_id": "client-2"}, jwtauth.ErrTokenRejected},
		{"no client_id", jwt.MapClaims{"client_id": nil}, jwtauth.ErrTokenRejected},
		{"certificate-bound", jwt.MapClaims{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, jwtauth.ErrSenderConstrained},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(tc.extra)
			_, err := jwt.Parse(tok, k.Keyfunc, opts...)
			assert.ErrorIs(t, err, tc.target, "Keyfunc")
			_, err = v.Verify(context.Background(), tok)
			assert.Error(t, err, "Verify refuses it too")
		})
	}

	// Claims parsed into a struct cannot be read strictly: the Keyfunc refuses rather than skip the checks.
	_, err = jwt.ParseWithClaims(sign(nil), &jwt.RegisteredClaims{}, k.Keyfunc, opts...)
	assert.ErrorIs(t, err, jwtauth.ErrTokenRejected)

	// Any issuer: a cnf token is refused, not accepted as a bearer token.
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	gen := idp.TrustedIssuer()
	kg := kfKeyfunc(t, kfVerifier(t, gen), idp.Issuer())
	_, err = jwt.Parse(idp.Mint(map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}), kg.Keyfunc, kfOptions(gen)...)
	assert.ErrorIs(t, err, jwtauth.ErrSenderConstrained)
}

// Validate and Revocations run after the signature check; a keyfunc runs before it, so it is not offered.
func TestKeyfunc_RefusesIssuerWithValidateHookOrRevocations(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	ti := idp.TrustedIssuer()
	ti.Validate = func(*jwtauth.Claims) error { return nil }
	_, err := kfVerifier(t, ti).Keyfunc(idp.Issuer())
	assert.ErrorContains(t, err, "TrustedIssuer.Validate")

	// A revocation list the Keyfunc path never asked would let revoked tokens through.
	_, err = kfVerifier(t, idp.TrustedIssuer(), func(c *jwtauth.Config) { c.Revocations = jwtauth.NewRevocationList(10, nil) }).Keyfunc(idp.Issuer())
	assert.ErrorContains(t, err, "Config.Revocations")
}
