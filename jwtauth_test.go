package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew_ReportsEveryConfigProblemAtOnce(t *testing.T) {
	_, err := jwtauth.New(context.Background(), jwtauth.Config{
		Leeway:       10 * time.Minute,
		MaxAge:       -time.Second,
		RequiredType: "bad type",
		Realm:        `say "hi"`,
		Issuers: []jwtauth.TrustedIssuer{
			{Issuer: "", Algorithms: []string{"HS256", "none", "rs256"}},
			{Issuer: "https://a.example/", Audiences: []string{"api"}, Algorithms: []string{"RS256"}, Keys: jwtauth.RemoteJWKS("http://a.example/jwks.json")},
			{Issuer: "https://a.example/", Audiences: []string{"api"}, Algorithms: []string{"RS256"}, Keys: jwtauth.LocalKeys([]byte("garbage"))},
		},
	})
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"Config.Leeway 10m0s is out of range",
		"Config.MaxAge",
		"Config.RequiredType",
		"Config.Realm",
		"Config.Issuers[0]: Issuer is empty",
		"Config.Issuers[0]: Audiences is empty",
		`algorithm "HS256" is not supported: HMAC uses a shared secret`,
		`algorithm "none" is not supported: unsigned tokens are never accepted`,
		`algorithm "rs256" is not supported`,
		"Config.Issuers[0]: Keys is nil",
		"key sets must be fetched over https",
		"Issuer is listed twice",
		"LocalKeys: base64-decoded data: not PEM or JSON",
	} {
		assert.Contains(t, msg, want)
	}
}

func TestNew_RequiresIssuersAudiencesAndAlgorithms(t *testing.T) {
	_, err := jwtauth.New(context.Background(), jwtauth.Config{})
	require.ErrorContains(t, err, "Config.Issuers is empty")

	_, err = jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer: testIssuer, Keys: jwtauth.PublicKeys(testKey("ES256", 0).Public()),
	}}})
	require.ErrorContains(t, err, "Audiences is empty")
	require.ErrorContains(t, err, "Algorithms is empty")
}

func TestVerify_AcceptsValidTokenForEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			f := newLocal(t, alg)
			c, err := f.verify(f.token(nil, map[string]any{"jti": "id-1"}))
			require.NoError(t, err)
			assert.Equal(t, testIssuer, c.Issuer)
			assert.Equal(t, "user-1", c.Subject)
			assert.Equal(t, []string{testAudience}, c.Audience)
			assert.Equal(t, "id-1", c.ID)
			assert.Equal(t, alg, c.Algorithm)
			assert.Equal(t, "k1", c.KeyID)
			assert.Equal(t, f.clock.Now().Add(time.Hour), c.ExpiresAt)
			assert.Equal(t, f.clock.Now(), c.IssuedAt)
			assert.True(t, c.NotBefore.IsZero())
		})
	}
}

func TestVerify_RefusesAlgorithmsOutsideTheAllowList(t *testing.T) {
	f := newLocal(t, "RS256")
	ps := jwtauthtest.SignRaw("PS256", f.key, mustJSON(f.header(map[string]any{"alg": "PS256"})), mustJSON(f.claims(nil)))
	_, err := f.verify(ps)
	assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
}

func TestVerify_RefusesAlgNone(t *testing.T) {
	f := newLocal(t, "RS256")
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		tok := b64(`{"alg":"`+alg+`","typ":"JWT"}`) + "." + b64(string(mustJSON(f.claims(nil)))) + "."
		_, err := f.verify(tok)
		assert.ErrorIs(t, err, jwt.ErrTokenMalformed, alg) // empty signature segment
		_, err = f.verify(tok + "AAAA")
		assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed, alg)
	}
}

func TestVerify_RefusesHMACSignedWithThePublicKey(t *testing.T) {
	// The classic key-confusion attack: the verifier's RSA public key used as an HMAC secret.
	f := newLocal(t, "RS256")
	der, err := x509.MarshalPKIXPublicKey(f.key.Public())
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, secret := range [][]byte{pemKey, der, mustJSON(jwtauthtest.PublicJWK(f.key.Public(), "k1", "RS256"))} {
		for _, alg := range []string{"HS256", "HS384", "HS512"} {
			input := b64(`{"alg":"`+alg+`","kid":"k1"}`) + "." + b64(string(mustJSON(f.claims(nil))))
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(input))
			_, err := f.verify(input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
			assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)
		}
	}
}

func TestVerify_PinsEachKeyToItsFamilyAndCurve(t *testing.T) {
	// One key set with an RSA key and a P-384 key, both trusted for their algorithms; tokens that name a
	// key of the wrong family or curve must not verify, even when the algorithm is allowed.
	rsaKey, p384 := testKey("RS256", 0), testKey("ES384", 0)
	jwks := jwksOf(map[string]string{"rsa": "", "ec": ""}, map[string]crypto.Signer{"rsa": rsaKey, "ec": p384})
	clock := newClock()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Clock: clock.Now,
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer: testIssuer, Audiences: []string{testAudience},
			Algorithms: []string{"RS256", "PS256", "ES256", "ES384"}, Keys: jwtauth.LocalKeys(jwks),
		}},
	})
	require.NoError(t, err)
	claims := mustJSON(map[string]any{"iss": testIssuer, "aud": testAudience, "exp": clock.Now().Add(time.Hour).Unix()})
	sign := func(alg, kid string, key crypto.Signer) string {
		return jwtauthtest.SignRaw(alg, key, mustJSON(map[string]string{"alg": alg, "kid": kid}), claims)
	}
	_, err = v.Verify(context.Background(), sign("RS256", "rsa", rsaKey))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), sign("PS256", "rsa", rsaKey))
	require.NoError(t, err, "RSA keys serve RS* and PS*")
	_, err = v.Verify(context.Background(), sign("ES384", "ec", p384))
	require.NoError(t, err)

	// ES256 naming the P-384 key: the curve does not fit, so there is no key for this token.
	_, err = v.Verify(context.Background(), sign("ES256", "ec", testKey("ES256", 0)))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	// RS256 naming the EC key.
	_, err = v.Verify(context.Background(), sign("RS256", "ec", rsaKey))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
}

func TestVerify_RequiresExpAndChecksTimesWithLeeway(t *testing.T) {
	f := newLocal(t, "ES256")
	now := f.clock.Now()
	cases := []struct {
		name   string
		claims map[string]any
		want   error // nil = accepted
	}{
		{"no exp", map[string]any{"exp": nil}, jwt.ErrTokenRequiredClaimMissing},
		{"exp 0 is expired", map[string]any{"exp": 0}, jwt.ErrTokenExpired},
		{"expired beyond leeway", map[string]any{"exp": now.Add(-61 * time.Second).Unix()}, jwt.ErrTokenExpired},
		{"expired exactly at leeway", map[string]any{"exp": now.Add(-60 * time.Second).Unix()}, jwt.ErrTokenExpired},
		{"expired within leeway", map[string]any{"exp": now.Add(-59 * time.Second).Unix()}, nil},
		{"fractional exp", map[string]any{"exp": float64(now.Unix()) + 0.5}, nil},
		{"nbf in the future", map[string]any{"nbf": now.Add(2 * time.Minute).Unix()}, jwt.ErrTokenNotValidYet},
		{"nbf within leeway", map[string]any{"nbf": now.Add(59 * time.Second).Unix()}, nil},
		{"nbf in the past", map[string]any{"nbf": now.Add(-time.Hour).Unix()}, nil},
		{"iat in the future", map[string]any{"iat": now.Add(2 * time.Minute).Unix()}, jwt.ErrTokenUsedBeforeIssued},
		{"iat within leeway", map[string]any{"iat": now.Add(30 * time.Second).Unix()}, nil},
		{"no iat", map[string]any{"iat": nil}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verify(f.token(nil, tc.claims))
			if tc.want == nil {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			assert.ErrorIs(t, err, tc.want)
			assert.Nil(t, c)
		})
	}
}

func TestVerify_LeewayIsConfigurable(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Leeway = 5 * time.Second })
	_, err := f.verify(f.token(nil, map[string]any{"exp": f.clock.Now().Add(-10 * time.Second).Unix()}))
	assert.ErrorIs(t, err, jwt.ErrTokenExpired)
	assert.ErrorContains(t, err, "leeway 5s")
}

func TestVerify_NumericDatesMustBeSaneJSONNumbers(t *testing.T) {
	f := newLocal(t, "ES256")
	exp := f.clock.Now().Add(time.Hour).Unix()
	base := fmt.Sprintf(`{"iss":%q,"aud":%q,`, testIssuer, testAudience)
	for _, tc := range []struct{ name, exp string }{
		{"quoted number", fmt.Sprintf(`"%d"`, exp)},
		{"huge", "1e300"},
		{"negative", "-1"},
		{"after year 9999", "253402300800"},
		{"boolean", "true"},
		{"null", "null"},
		{"object", `{"$date":1}`},
		{"leading zero", "0" + fmt.Sprint(exp)},
		{"plus sign", "+" + fmt.Sprint(exp)},
		{"NaN", "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, base+`"exp":`+tc.exp+`}`))
			assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
		})
	}
	_, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, base+fmt.Sprintf(`"exp":%d.0e0}`, exp)))
	assert.NoError(t, err, "exponent notation within range is a valid JSON number")
}

func TestVerify_RefusesNonCanonicalEncodings(t *testing.T) {
	f := newLocal(t, "ES256")
	// The standard-alphabet case needs a '-' or '_' somewhere; ECDSA signatures are random, so draw until one has.
	good := f.token(nil, nil)
	for !strings.ContainsAny(good, "-_") {
		good = f.token(nil, nil)
	}
	parts := strings.Split(good, ".")
	_, err := f.verify(good)
	require.NoError(t, err)

	// flip the unused low bits of the last character of the signature: decodes to the same bytes in a
	// lenient decoder, so it must be refused.
	sig := []byte(parts[2])
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	sig[len(sig)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]
	if string(sig) == parts[2] {
		sig[len(sig)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last&^1]
	}
	cases := map[string]string{
		"padding":                parts[0] + "." + parts[1] + "." + parts[2] + "==",
		"padded header":          parts[0] + "=." + parts[1] + "." + parts[2],
		"standard alphabet":      strings.NewReplacer("-", "+", "_", "/").Replace(good),
		"newline in payload":     parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2],
		"carriage return":        parts[0] + "\r." + parts[1] + "." + parts[2],
		"space":                  " " + good,
		"non-canonical bits":     parts[0] + "." + parts[1] + "." + string(sig),
		"two segments":           parts[0] + "." + parts[1],
		"four segments":          good + "." + parts[2],
		"many dots":              strings.Repeat(".", 5000),
		"empty header":           "." + parts[1] + "." + parts[2],
		"empty payload":          parts[0] + ".." + parts[2],
		"empty signature":        parts[0] + "." + parts[1] + ".",
		"JWE-like five segments": parts[0] + "." + parts[1] + "." + parts[2] + ".AAAA.AAAA",
		"empty":                  "",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.verify(tok)
			assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
		})
	}
}

func TestVerify_RefusesTokensOverTheSizeCapBeforeDecoding(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.MaxTokenSize = 1024 })
	big := f.token(nil, map[string]any{"pad": strings.Repeat("x", 2000)})
	_, err := f.verify(big)
	assert.ErrorIs(t, err, jwtauth.ErrTokenTooLarge)

	def := newLocal(t, "ES256")
	_, err = def.verify(strings.Repeat("A", jwtauth.DefaultMaxTokenSize+1))
	assert.ErrorIs(t, err, jwtauth.ErrTokenTooLarge)
	_, err = def.verify(def.token(nil, map[string]any{"pad": strings.Repeat("x", 8000)}))
	assert.NoError(t, err, "tokens under the default 16 KiB cap are fine")
}

func TestVerify_RequiresStrictJSON(t *testing.T) {
	f := newLocal(t, "ES256")
	exp := f.clock.Now().Add(time.Hour).Unix()
	okHeader := `{"alg":"ES256","kid":"k1"}`
	okPayload := fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d}`, testIssuer, testAudience, exp)
	_, err := f.verify(f.raw(okHeader, okPayload))
	require.NoError(t, err)

	cases := []struct{ name, header, payload string }{
		{"header is an array", `["ES256"]`, okPayload},
		{"payload is an array", okHeader, `[1,2]`},
		{"payload is a string", okHeader, `"claims"`},
		{"payload is null", okHeader, `null`},
		{"trailing data", okHeader, okPayload + `{}`},
		{"trailing comma", okHeader, strings.TrimSuffix(okPayload, "}") + `,}`},
		{"duplicate exp", okHeader, strings.TrimSuffix(okPayload, "}") + fmt.Sprintf(`,"exp":%d}`, exp+3600)},
		{"duplicate via escape", okHeader, strings.TrimSuffix(okPayload, "}") + `,"\u0065xp":1}`},
		{"duplicate alg", `{"alg":"ES256","alg":"none","kid":"k1"}`, okPayload},
		{"duplicate in nested object", okHeader, strings.TrimSuffix(okPayload, "}") + `,"x":{"a":1,"a":2}}`},
		{"invalid UTF-8 in payload", okHeader, strings.TrimSuffix(okPayload, "}") + ",\"name\":\"\xff\xfe\"}"},
		{"invalid UTF-8 in header", "{\"alg\":\"ES256\",\"kid\":\"k1\",\"x\":\"\xc3\x28\"}", okPayload},
		{"lone surrogate", okHeader, strings.TrimSuffix(okPayload, "}") + `,"name":"\ud800"}`},
		{"control character", okHeader, strings.TrimSuffix(okPayload, "}") + ",\"name\":\"a\x01b\"}"},
		{"single quotes", `{'alg':'ES256'}`, okPayload},
		{"unquoted name", okHeader, `{iss:"x"}`},
		{"iss is a number", okHeader, fmt.Sprintf(`{"iss":1,"aud":%q,"exp":%d}`, testAudience, exp)},
		{"aud is a number", okHeader, fmt.Sprintf(`{"iss":%q,"aud":1,"exp":%d}`, testIssuer, exp)},
		{"aud array with a number", okHeader, fmt.Sprintf(`{"iss":%q,"aud":[%q,1],"exp":%d}`, testIssuer, testAudience, exp)},
		{"alg is a number", `{"alg":256,"kid":"k1"}`, okPayload},
		{"kid is an object", `{"alg":"ES256","kid":{"k":"k1"}}`, okPayload},
		{"scope is an array", okHeader, strings.TrimSuffix(okPayload, "}") + `,"scope":["a"]}`},
		{"deep nesting", okHeader, strings.TrimSuffix(okPayload, "}") + `,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`},
		{"no alg", `{"kid":"k1"}`, okPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verify(f.raw(tc.header, tc.payload))
			if tc.name == "alg is a number" || tc.name == "no alg" {
				assert.Error(t, err)
				return
			}
			assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
		})
	}
}

func TestVerify_ReadsRegisteredClaimsByExactNameAndRefusesCaseVariants(t *testing.T) {
	f := newLocal(t, "ES256")
	exp := f.clock.Now().Add(time.Hour).Unix()
	past := f.clock.Now().Add(-time.Hour).Unix()
	// EXP, Exp, ISS and Aud never satisfy the registered checks, and since encoding/json (Claims.Decode,
	// golang-jwt) would read them as exp, iss and aud, a token carrying them is refused rather than read two ways.
	_, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, fmt.Sprintf(`{"iss":%q,"aud":%q,"EXP":%d}`, testIssuer, testAudience, exp)))
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed, "EXP is not exp")
	_, err = f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d,"Exp":%d,"ISS":"https://evil.example/","Aud":"other"}`, testIssuer, testAudience, exp, past)))
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
	_, err = f.verify(f.raw(`{"ALG":"none","alg":"ES256","kid":"k1"}`, fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d}`, testIssuer, testAudience, exp)))
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed, "ALG beside alg")
	c, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d,"expires":%d}`, testIssuer, testAudience, exp, past)))
	require.NoError(t, err)
	assert.Equal(t, testIssuer, c.Issuer)
}

func TestVerify_RefusesCriticalHeaders(t *testing.T) {
	f := newLocal(t, "ES256")
	for _, crit := range []any{[]string{"exp"}, []string{"b64"}, []string{}, "x"} {
		_, err := f.verify(f.token(map[string]any{"crit": crit, "b64": false, "exp": 1}, nil))
		assert.ErrorIs(t, err, jwtauth.ErrCriticalHeader)
	}
}

func TestVerify_NeverUsesOrFetchesKeysNamedInTheHeader(t *testing.T) {
	var hits atomic.Int64
	attackerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer attackerSrv.Close()
	f := newLocal(t, "ES256")
	attacker := jwtauthtest.NewKey("ES256")
	jwk := jwtauthtest.PublicJWK(attacker.Public(), "k1", "ES256")
	certDER := selfSignedCert(t, attacker)
	for name, h := range map[string]map[string]any{
		"jwk": {"jwk": jwk},
		"jku": {"jku": attackerSrv.URL + "/jwks.json"},
		"x5u": {"x5u": attackerSrv.URL + "/cert.pem"},
		"x5c": {"x5c": []string{base64.StdEncoding.EncodeToString(certDER)}},
		"all": {"jwk": jwk, "jku": attackerSrv.URL, "x5u": attackerSrv.URL, "x5c": []string{base64.StdEncoding.EncodeToString(certDER)}},
	} {
		t.Run(name, func(t *testing.T) {
			hb := mustJSON(f.header(h))
			tok := jwtauthtest.SignRaw("ES256", attacker, hb, mustJSON(f.claims(nil)))
			_, err := f.verify(tok)
			assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)

			// the same header parameters on a token signed by the real key change nothing
			_, err = f.verify(jwtauthtest.SignRaw("ES256", f.key, hb, mustJSON(f.claims(nil))))
			assert.NoError(t, err)
		})
	}
	assert.Zero(t, hits.Load(), "nothing may be fetched because of a header value")
}

func TestVerify_AcceptsDefaultTypesAndRefusesOthers(t *testing.T) {
	f := newLocal(t, "ES256")
	for _, typ := range []any{nil, "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/JWT"} {
		_, err := f.verify(f.token(map[string]any{"typ": typ}, nil))
		assert.NoError(t, err, "typ %v", typ)
	}
	for _, typ := range []string{"dpop+jwt", "logout+jwt", "secevent+jwt", "JWS", "", "application/", "id_token+jwt"} {
		_, err := f.verify(f.token(map[string]any{"typ": typ}, nil))
		assert.ErrorIs(t, err, jwtauth.ErrTokenType, "typ %q", typ)
	}
}

func TestVerify_RequiredTypeIsComparedCaseInsensitivelyWithOptionalPrefix(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.RequiredType = "at+jwt" })
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt", "APPLICATION/At+Jwt"} {
		_, err := f.verify(f.token(map[string]any{"typ": typ}, nil))
		assert.NoError(t, err, typ)
	}
	for _, typ := range []any{nil, "JWT", "at+jwt2", "dpop+jwt", "at+jw", "application/application/at+jwt", "at+jwté", "át+jwt", ""} {
		_, err := f.verify(f.token(map[string]any{"typ": typ}, nil))
		assert.ErrorIs(t, err, jwtauth.ErrTokenType, "typ %v", typ)
	}
	// Without Config.RequiredType: no typ, JWT or at+jwt in any case, with or without the prefix.
	d := newLocal(t, "ES256")
	for _, typ := range []any{nil, "JWT", "jwt", "JwT", "application/jwt", "Application/JWT", "at+jwt", "AT+JWT", "application/at+jwt"} {
		_, err := d.verify(d.token(map[string]any{"typ": typ}, nil))
		assert.NoError(t, err, "typ %v", typ)
	}
	for _, typ := range []any{"", "jwt ", "jwtx", "jw", "application/", "application/application/jwt", "dpop+jwt", "ｊwt", "JWT\u0000"} {
		_, err := d.verify(d.token(map[string]any{"typ": typ}, nil))
		assert.ErrorIs(t, err, jwtauth.ErrTokenType, "typ %v", typ)
	}
}

func TestVerify_ChecksAudience(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Issuers[0].Audiences = []string{"api-1", testAudience}
	})
	for _, aud := range []any{testAudience, []string{"other", testAudience}, []string{"api-1"}} {
		_, err := f.verify(f.token(nil, map[string]any{"aud": aud}))
		assert.NoError(t, err, "aud %v", aud)
	}
	for _, aud := range []any{nil, "other", []string{}, []string{"other", "API-1"}, testAudience + "/"} {
		_, err := f.verify(f.token(nil, map[string]any{"aud": aud}))
		assert.ErrorIs(t, err, jwt.ErrTokenInvalidAudience, "aud %v", aud)
	}
	_, err := f.verify(f.token(nil, map[string]any{"aud": "evil\nINFO forged log line"}))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\n", "token values are escaped in messages")
}

func TestVerify_SkippingTheAudienceCheckTakesTheExplicitOptOut(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Issuers[0].Audiences = nil
		c.Issuers[0].InsecureSkipAudienceCheck = true
	})
	_, err := f.verify(f.token(nil, map[string]any{"aud": "anything"}))
	assert.NoError(t, err)
	_, err = f.verify(f.token(nil, map[string]any{"aud": nil}))
	assert.NoError(t, err)
}

func TestVerify_ChecksIssuerExactly(t *testing.T) {
	f := newLocal(t, "ES256")
	for _, iss := range []any{nil, strings.TrimSuffix(testIssuer, "/"), strings.ToUpper(testIssuer), testIssuer + " ", "https://evil.example/"} {
		_, err := f.verify(f.token(nil, map[string]any{"iss": iss}))
		assert.ErrorIs(t, err, jwt.ErrTokenInvalidIssuer, "iss %v", iss)
		assert.ErrorIs(t, err, jwtauth.ErrUntrustedIssuer)
	}
}

func TestVerify_MaxAgeRequiresAFreshIat(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.MaxAge = 10 * time.Minute })
	now := f.clock.Now()
	_, err := f.verify(f.token(nil, map[string]any{"iat": now.Add(-5 * time.Minute).Unix()}))
	assert.NoError(t, err)
	_, err = f.verify(f.token(nil, map[string]any{"iat": now.Add(-20 * time.Minute).Unix()}))
	assert.ErrorIs(t, err, jwtauth.ErrTokenTooOld)
	_, err = f.verify(f.token(nil, map[string]any{"iat": nil}))
	assert.ErrorIs(t, err, jwtauth.ErrTokenTooOld)
	assert.ErrorContains(t, err, "no iat")
}

func TestVerify_RefusesSenderConstrainedTokens(t *testing.T) {
	f := newLocal(t, "ES256")
	for _, cnf := range []any{map[string]string{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, map[string]string{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, map[string]any{}} {
		_, err := f.verify(f.token(nil, map[string]any{"cnf": cnf}))
		assert.ErrorIs(t, err, jwtauth.ErrSenderConstrained)
	}
}

func TestVerify_RefusesBadSignatures(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			f := newLocal(t, alg)
			good := f.token(nil, nil)
			parts := strings.Split(good, ".")
			other := jwtauthtest.SignRaw(alg, jwtauthtest.NewKey(alg), mustJSON(f.header(nil)), mustJSON(f.claims(nil)))
			tampered := f.token(nil, map[string]any{"sub": "admin"})
			cases := map[string]string{
				"other key":         other,
				"payload swapped":   parts[0] + "." + strings.Split(tampered, ".")[1] + "." + parts[2],
				"signature of zero": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, len(mustDecode(parts[2])))),
				"short signature":   parts[0] + "." + parts[1] + "." + parts[2][:20],
			}
			for name, tok := range cases {
				_, err := f.verify(tok)
				assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, name)
			}
		})
	}
}

func TestVerify_RefusesPsychicAndDERSignatures(t *testing.T) {
	f := newLocal(t, "ES256")
	input := b64(string(mustJSON(f.header(nil)))) + "." + b64(string(mustJSON(f.claims(nil))))
	// r = s = 0 (CVE-2022-21449 in Java), and r = s = n (the curve order).
	zero := make([]byte, 64)
	n := f.key.Public().(*ecdsa.PublicKey).Curve.Params().N.FillBytes(make([]byte, 32))
	for name, sig := range map[string][]byte{"zero": zero, "order": append(append([]byte{}, n...), n...)} {
		_, err := f.verify(input + "." + base64.RawURLEncoding.EncodeToString(sig))
		assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, name)
	}
	// A DER (ASN.1) signature is the wrong encoding for JWS, even when it is mathematically valid.
	h := sha256.Sum256([]byte(input))
	der, err := ecdsa.SignASN1(rand.Reader, f.key.(*ecdsa.PrivateKey), h[:])
	require.NoError(t, err)
	_, err = f.verify(input + "." + base64.RawURLEncoding.EncodeToString(der))
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
}

func TestVerify_ChecksSignatureBeforeClaims(t *testing.T) {
	// An expired token with a bad signature must say "signature", never "expired": the kind reported must
	// not suggest the token was otherwise valid.
	f := newLocal(t, "ES256")
	tok := jwtauthtest.SignRaw("ES256", jwtauthtest.NewKey("ES256"), mustJSON(f.header(nil)), mustJSON(f.claims(map[string]any{"exp": 1})))
	_, err := f.verify(tok)
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	assert.NotErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestVerify_PSSRequiresSaltLengthEqualToHash(t *testing.T) {
	f := newLocal(t, "PS256")
	input := b64(string(mustJSON(f.header(map[string]any{"alg": "PS256"})))) + "." + b64(string(mustJSON(f.claims(nil))))
	h := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, f.key.(*rsa.PrivateKey), crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: 20})
	require.NoError(t, err)
	_, err = f.verify(input + "." + base64.RawURLEncoding.EncodeToString(sig))
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "RFC 7518 §3.5: salt length equals the hash length")
}

func TestVerify_MultipleIssuersKeepTheirKeysApart(t *testing.T) {
	a := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"), jwtauthtest.WithAudience("api-a"))
	b := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"), jwtauthtest.WithAudience("api-b"))
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{a.TrustedIssuer(), b.TrustedIssuer()}})
	require.NoError(t, err)
	defer v.Close()

	ca, err := v.Verify(context.Background(), a.Mint(map[string]any{"sub": "a-user"}))
	require.NoError(t, err)
	assert.Equal(t, a.Issuer(), ca.Issuer)
	cb, err := v.Verify(context.Background(), b.Mint(map[string]any{"sub": "b-user"}))
	require.NoError(t, err)
	assert.Equal(t, "b-user", cb.Subject)

	// A claims to be B, with A's key and kid: B's key set does not have that kid.
	fetchesB := b.Fetches()
	_, err = v.Verify(context.Background(), a.Mint(map[string]any{"iss": b.Issuer(), "aud": "api-b"}))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	// ... and with B's kid, the signature does not verify with B's key.
	forged := jwtauthtest.SignRaw("ES256", a.Signer(), mustJSON(map[string]string{"alg": "ES256", "kid": b.KeyID()}),
		mustJSON(map[string]any{"iss": b.Issuer(), "aud": "api-b", "exp": time.Now().Add(time.Hour).Unix()}))
	_, err = v.Verify(context.Background(), forged)
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	// A's audience is not B's.
	_, err = v.Verify(context.Background(), b.Mint(map[string]any{"aud": "api-a"}))
	assert.ErrorIs(t, err, jwt.ErrTokenInvalidAudience)

	// An untrusted iss never causes a fetch, anywhere.
	before := a.Fetches() + b.Fetches()
	evil := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	_, err = v.Verify(context.Background(), evil.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrUntrustedIssuer)
	assert.Equal(t, 0, evil.Fetches())
	assert.LessOrEqual(t, a.Fetches()+b.Fetches(), before+1, "at most the one refresh for the unknown kid above")
	assert.LessOrEqual(t, b.Fetches(), fetchesB+1)
}

func TestVerify_AlgorithmsArePerIssuer(t *testing.T) {
	a := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	b := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("RS256"))
	tb := b.TrustedIssuer()
	tb.Algorithms = []string{"PS256"} // B signs RS256 but is trusted for PS256 only
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{a.TrustedIssuer(), tb}})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), b.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrAlgorithmNotAllowed)
}

func TestVerify_ErrorsAreTypedAndActionable(t *testing.T) {
	f := newLocal(t, "ES256")
	_, err := f.verify(f.token(nil, map[string]any{"iss": "https://evil.example/"}))
	var e *jwtauth.Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, http.StatusUnauthorized, e.Status())
	assert.Equal(t, "invalid_token", e.Code())
	assert.Equal(t, "issuer not accepted", e.Description())
	assert.Equal(t, `jwtauth: issuer "https://evil.example/" is not trusted; expected one of "`+testIssuer+`"`, err.Error())

	_, err = f.verify(f.token(nil, map[string]any{"aud": "other"}))
	assert.EqualError(t, err, `jwtauth: audience "other" does not contain any of the expected "`+testAudience+`"`)

	long := strings.Repeat("é", 200)
	_, err = f.verify(f.token(nil, map[string]any{"iss": long}))
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 300, "token values are truncated in messages")
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustDecode(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestNew_RefusesValuesThatAreCertainlyWrong(t *testing.T) {
	keys := jwtauth.PublicKeys(testKey("ES256", 0).Public())
	base := func() jwtauth.TrustedIssuer {
		return jwtauth.TrustedIssuer{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"}, Keys: keys}
	}
	cases := []struct {
		name   string
		mutate func(*jwtauth.TrustedIssuer)
		want   string
	}{
		{"issuer ending in a newline", func(ti *jwtauth.TrustedIssuer) { ti.Issuer += "\n" },
			`Config.Issuers[0] ("https://issuer.example.test/\n"): Issuer has leading or trailing whitespace or a control character (a newline from a file or environment variable?): remove it`},
		{"issuer with a leading space", func(ti *jwtauth.TrustedIssuer) { ti.Issuer = " " + ti.Issuer }, "Issuer has leading or trailing whitespace"},
		{"audience ending in a newline", func(ti *jwtauth.TrustedIssuer) { ti.Audiences = []string{testAudience + "\r\n"} },
			`audience "https://api.example.test\r\n" has leading or trailing whitespace: remove it`},
		{"skipping the audience check while listing audiences", func(ti *jwtauth.TrustedIssuer) { ti.InsecureSkipAudienceCheck = true },
			"InsecureSkipAudienceCheck contradicts Audiences: remove InsecureSkipAudienceCheck to check aud against Audiences (recommended), or remove Audiences"},
		{"key file path empty", func(ti *jwtauth.TrustedIssuer) { ti.Keys = jwtauth.LocalKeysFile("") },
			"LocalKeysFile: the path is empty: give the key file's path (if it comes from an environment variable, is that variable set?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ti := base()
			tc.mutate(&ti)
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, Logger: quietLogger(t)})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestVerify_SaysTheSchemeMustBeStripped(t *testing.T) {
	f := newLocal(t, "ES256")
	tok := f.token(nil, nil)
	for _, in := range []string{"Bearer " + tok, "bearer " + tok} {
		_, err := f.verify(in)
		assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
		assert.ErrorContains(t, err, `the token starts with "Bearer "; pass Verify the token alone, without the Authorization scheme`)
	}
	_, err := f.verify("x" + tok)
	assert.NotContains(t, err.Error(), "Bearer", "the hint is only for a token that carries the scheme")
}

func TestVerify_OutcomeNamesTheConfiguredIssuerNeverTokenText(t *testing.T) {
	const template = "https://login.example.test/{tenantid}/v2.0"
	var got []jwtauth.Outcome
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.OnVerify = func(_ context.Context, o jwtauth.Outcome) { got = append(got, o) }
		c.Issuers = append(c.Issuers, jwtauth.TrustedIssuer{
			Issuer: template, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
			Keys: jwtauth.LocalKeys(jwksOf(map[string]string{"k1": "ES256"}, map[string]crypto.Signer{"k1": testKey("ES256", 0)})),
		})
	})
	forged := jwtauthtest.SignRaw("ES256", testKey("ES256", 1),
		[]byte(`{"alg":"ES256","kid":"k1"}`), []byte(`{"iss":"`+testIssuer+`","aud":"`+testAudience+`","exp":4102444800}`))
	valid := f.token(nil, nil)
	cases := []struct {
		name, token, configured, issuer string
		ok                              bool
	}{
		{"accepted", valid, testIssuer, testIssuer, true},
		{"accepted from the cache", valid, testIssuer, testIssuer, true},
		{"forged, claiming a trusted issuer", forged, testIssuer, testIssuer, false},
		{"untrusted issuer", f.token(nil, map[string]any{"iss": "https://evil.example/x"}), "", "https://evil.example/x", false},
		{"tenant of a template", f.token(nil, map[string]any{"iss": "https://login.example.test/t-42/v2.0", "tid": "t-42"}),
			template, "https://login.example.test/t-42/v2.0", true},
	}
	for i, tc := range cases {
		_, err := f.verify(tc.token)
		require.Equal(t, tc.ok, err == nil, "%s: %v", tc.name, err)
		require.Len(t, got, i+1)
		assert.Equal(t, tc.configured, got[i].ConfiguredIssuer, tc.name)
		assert.Equal(t, tc.issuer, got[i].Issuer, tc.name)
	}
	assert.True(t, got[1].Cached)
}

// A9: values read from a token are cut to 64 bytes in error messages; the logs must cut them the same way, or
// a 16 KiB kid (or iss, or alg) is written whole into every log line about the token.
func TestVerify_LogsCutTokenValuesLikeErrorMessages(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Logger = logs.logger(slog.LevelDebug)
		c.MaxTokenSize = 64 << 10 // room for a 16 KiB kid
	})
	long := strings.Repeat("k", 16<<10)
	for _, tok := range []string{
		f.token(map[string]any{"kid": long}, nil),
		f.token(map[string]any{"alg": "ES256" + long}, nil),
		f.token(nil, map[string]any{"iss": "https://" + long}),
	} {
		require.Less(t, len(tok), 64<<10)
		_, err := f.v.Verify(context.Background(), tok)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), strings.Repeat("k", 65))
	}
	out := logs.String()
	require.Contains(t, out, "jwtauth: token verification", "the debug line is written")
	assert.NotContains(t, out, strings.Repeat("k", 65), "a token value longer than the error-message cut reached the log")
	assert.Contains(t, out, strings.Repeat("k", 32), "the cut value is still logged")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.Less(t, len(line), 2048, "log line of %d bytes", len(line))
	}
}
