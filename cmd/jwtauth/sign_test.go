package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testIss = "https://login.example.com"
	testAud = "orders-api"
)

// pemKeys writes a private key as PEM (of the given block type) and its public key as PKIX PEM.
func pemKeys(t *testing.T, key crypto.Signer, blockType string) (private, public string) {
	t.Helper()
	var der []byte
	var err error
	switch blockType {
	case "PRIVATE KEY":
		der, err = x509.MarshalPKCS8PrivateKey(key)
	case "EC PRIVATE KEY":
		der, err = x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	case "RSA PRIVATE KEY":
		der = x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))
	}
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	require.NoError(t, err)
	private = writeFile(t, "private.pem", pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}))
	public = writeFile(t, "public.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	return private, public
}

func TestSignVerify_RoundTrip(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	type keyFiles struct{ sign, verify string }
	tests := []struct {
		name, alg string
		keys      func(t *testing.T) keyFiles
	}{
		{"ES256 JWKS", "ES256", func(t *testing.T) keyFiles { k := keygen(t); return keyFiles{k, k} }},
		{"RS256 JWKS", "RS256", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "RS256"); return keyFiles{k, k} }},
		{"ES256 base64 JWKS", "ES256", func(t *testing.T) keyFiles { k := keygen(t, "-base64"); return keyFiles{k, k} }},
		{"RS256 base64 JWKS", "RS256", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "RS256", "-base64"); return keyFiles{k, k} }},
		{"ES256 JWKS, verified with pub's JWKS", "ES256", func(t *testing.T) keyFiles {
			k := keygen(t)
			return keyFiles{k, writeFile(t, "jwks.json", []byte(ok(t, time.Now, "", "pub", "-key", k)))}
		}},
		{"RS256 JWKS, verified with pub's JWKS", "RS256", func(t *testing.T) keyFiles {
			k := keygen(t, "-alg", "RS256")
			return keyFiles{k, writeFile(t, "jwks.json", []byte(ok(t, time.Now, "", "pub", "-key", k)))}
		}},
		{"ES256 SEC1 PEM", "ES256", func(t *testing.T) keyFiles { p, _ := pemKeys(t, ecKey, "EC PRIVATE KEY"); return keyFiles{p, p} }},
		{"ES256 PKCS#8 PEM, verified with public PEM", "ES256", func(t *testing.T) keyFiles {
			p, pub := pemKeys(t, ecKey, "PRIVATE KEY")
			return keyFiles{p, pub}
		}},
		{"RS256 PKCS#1 PEM", "RS256", func(t *testing.T) keyFiles { p, _ := pemKeys(t, rsaKey, "RSA PRIVATE KEY"); return keyFiles{p, p} }},
		{"RS256 PKCS#8 PEM, verified with public PEM", "RS256", func(t *testing.T) keyFiles {
			p, pub := pemKeys(t, rsaKey, "PRIVATE KEY")
			return keyFiles{p, pub}
		}},
		{"ES384 JWKS", "ES384", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "ES384"); return keyFiles{k, k} }},
		{"ES512 JWKS", "ES512", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "ES512"); return keyFiles{k, k} }},
		{"PS256 JWKS", "PS256", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "PS256"); return keyFiles{k, k} }},
		{"EdDSA JWKS", "EdDSA", func(t *testing.T) keyFiles { k := keygen(t, "-alg", "EdDSA"); return keyFiles{k, k} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := tt.keys(t)
			now := clock(fixedNow)
			r := cli(t, now, "", "sign", "-key", files.sign, "-iss", testIss, "-aud", testAud, "-sub", "user-1",
				"-scope", "read:orders write:orders", "-ttl", "1h", "-claim", "email=ann@example.com")
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			require.True(t, strings.HasSuffix(r.stdout, "\n"))
			token := strings.TrimSuffix(r.stdout, "\n")

			header, payload := segments(t, token)
			var h map[string]any
			require.NoError(t, json.Unmarshal(header, &h))
			assert.Equal(t, tt.alg, h["alg"])
			assert.Equal(t, "JWT", h["typ"])
			assert.NotEmpty(t, h["kid"])
			var c map[string]any
			require.NoError(t, json.Unmarshal(payload, &c))
			assert.Equal(t, testIss, c["iss"])
			assert.Equal(t, "user-1", c["sub"])
			assert.Equal(t, testAud, c["aud"])
			assert.Equal(t, float64(fixedNow.Unix()), c["iat"])
			assert.Equal(t, float64(fixedNow.Unix()), c["nbf"])
			assert.Equal(t, float64(fixedNow.Add(time.Hour).Unix()), c["exp"])
			assert.NotEmpty(t, c["jti"])
			assert.Equal(t, "read:orders write:orders", c["scope"])
			assert.Equal(t, "ann@example.com", c["email"])

			// verify from the argument, from "-" and from standard input without argument: the claims as signed.
			for _, args := range [][]string{{token}, {"-"}, {}} {
				v := cli(t, now, token+"\n", append([]string{"verify", "-key", files.verify, "-iss", testIss, "-aud", testAud}, args...)...)
				assert.Equal(t, exitOK, v.code, v.stderr)
				assert.Empty(t, v.stderr)
				assert.Equal(t, indented(t, payload), v.stdout)
			}
		})
	}
}

func TestSign_ClaimValuesAreJSONWhenTheyParse(t *testing.T) {
	key := keygen(t)
	token := ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u",
		"-claim", "n=42", "-claim", "big=12345678901234567890", "-claim", "admin=true", "-claim", `roles=["a","b"]`,
		"-claim", `obj={"k": 1}`, "-claim", `quoted="42"`, "-claim", "plain=hello world", "-claim", "empty=",
		"-claim", "nothing=null", "-claim", "eq=a=b", "-claim", "https://example.com/tenant=acme")
	_, payload := segments(t, token)
	var c map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(payload, &c))
	want := map[string]string{
		"n":                          `42`,
		"big":                        `12345678901234567890`,
		"admin":                      `true`,
		"roles":                      `["a","b"]`,
		"obj":                        `{"k":1}`,
		"quoted":                     `"42"`,
		"plain":                      `"hello world"`,
		"empty":                      `""`,
		"nothing":                    `null`,
		"eq":                         `"a=b"`,
		"https://example.com/tenant": `"acme"`,
	}
	for name, raw := range want {
		assert.Equal(t, raw, string(c[name]), name)
	}
}

func TestSign_RepeatedAudienceIsAnArray(t *testing.T) {
	key := keygen(t)
	token := ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", "a", "-aud", "b", "-sub", "u")
	_, payload := segments(t, token)
	var c struct {
		Aud []string `json:"aud"`
	}
	require.NoError(t, json.Unmarshal(payload, &c))
	assert.Equal(t, []string{"a", "b"}, c.Aud)
	for _, aud := range []string{"a", "b"} {
		ok(t, clock(fixedNow), "", "verify", "-key", key, "-iss", testIss, "-aud", aud, token)
	}
}

func TestSign_TTLTakesWholeSeconds(t *testing.T) {
	key := keygen(t)
	token := ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u", "-ttl", "900")
	_, payload := segments(t, token)
	var c struct{ Iat, Exp int64 }
	require.NoError(t, json.Unmarshal(payload, &c))
	assert.Equal(t, int64(900), c.Exp-c.Iat)
}

// twoKeys writes a private JWK Set with two keys, kids "old" and "new".
func twoKeys(t *testing.T) string {
	t.Helper()
	var keys []*jwtauth.SigningKey
	for _, kid := range []string{"old", "new"} {
		parsed, err := jwtauth.ParseSigningKeys([]byte(ok(t, time.Now, "", "keygen", "-kid", kid)))
		require.NoError(t, err)
		keys = append(keys, parsed...)
	}
	set, err := jwtauth.PrivateJWKS(keys...)
	require.NoError(t, err)
	return writeFile(t, "keys.json", set)
}

func TestSign_KidPicksTheKey(t *testing.T) {
	keys := twoKeys(t)
	for _, tt := range []struct{ args []string }{{nil}, {[]string{"-kid", "old"}}, {[]string{"-kid", "new"}}} {
		args := append([]string{"sign", "-key", keys, "-iss", testIss, "-aud", testAud, "-sub", "u"}, tt.args...)
		token := ok(t, clock(fixedNow), "", args...)
		header, _ := segments(t, token)
		var h struct{ Kid string }
		require.NoError(t, json.Unmarshal(header, &h))
		want := "old" // the first key signs by default
		if len(tt.args) > 0 {
			want = tt.args[1]
		}
		assert.Equal(t, want, h.Kid)
		ok(t, clock(fixedNow), "", "verify", "-key", keys, "-iss", testIss, "-aud", testAud, token)
	}
}

func TestSign_UnknownKidIsAUsageErrorNamingTheKids(t *testing.T) {
	keys := twoKeys(t)
	r := cli(t, clock(fixedNow), "", "sign", "-key", keys, "-kid", "newest", "-iss", testIss, "-aud", testAud, "-sub", "u")
	assert.Equal(t, exitUsage, r.code)
	assert.Empty(t, r.stdout)
	first, _, _ := strings.Cut(r.stderr, "\n")
	assert.Equal(t, `jwtauth sign: -kid "newest" is not in `+keys+`; its kids are "old", "new"`, first)
}

func TestSign_KeyFromStdin(t *testing.T) {
	key := ok(t, time.Now, "", "keygen")
	token := ok(t, clock(fixedNow), key, "sign", "-key", "-", "-iss", testIss, "-aud", testAud, "-sub", "u")
	path := writeFile(t, "key.json", []byte(key))
	ok(t, clock(fixedNow), "", "verify", "-key", path, "-iss", testIss, "-aud", testAud, token)
}

func TestSign_BadKeyFileExitsOne(t *testing.T) {
	pubJWKS := writeFile(t, "jwks.json", []byte(ok(t, time.Now, "", "pub", "-key", keygen(t, "-kid", "k"))))
	r := cli(t, clock(fixedNow), "", "sign", "-key", pubJWKS, "-iss", testIss, "-aud", testAud, "-sub", "u")
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "jwtauth sign: signing keys in "+pubJWKS+`: key 0 (kid "k"): has no private part (d): this is a public key; signing needs the private JWK`+"\n", r.stderr)
}

func TestSign_DuplicateKidsInFileExitOne(t *testing.T) {
	var keys []*jwtauth.SigningKey
	for range 2 {
		parsed, err := jwtauth.ParseSigningKeys([]byte(ok(t, time.Now, "", "keygen", "-kid", "same")))
		require.NoError(t, err)
		keys = append(keys, parsed...)
	}
	set, err := jwtauth.PrivateJWKS(keys...)
	require.NoError(t, err)
	path := writeFile(t, "keys.json", set)
	r := cli(t, clock(fixedNow), "", "sign", "-key", path, "-iss", testIss, "-aud", testAud, "-sub", "u")
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, `jwtauth sign: key 1 of -key: kid "same" is used by another key: kids must be unique`+"\n", r.stderr)
}

func TestSign_IatMintsExpiredAndFutureTestTokens(t *testing.T) {
	key := keygen(t)
	cases := []struct {
		iat, ttl string
		state    string
		verify   string // the reason verify gives, "" when valid
	}{
		{"-2h", "1h", "already expired", "token expired"},
		{"+10m", "1h", "issued in the future", "token is not valid before"},
		{"-10m", "1h", "valid now", ""},
		{fixedNow.Add(-48 * time.Hour).Format(time.RFC3339), "1h", "already expired", "token expired"},
	}
	for _, tc := range cases {
		t.Run(tc.iat, func(t *testing.T) {
			r := cli(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "s", "-iat", tc.iat, "-ttl", tc.ttl)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Contains(t, r.stderr, "jwtauth sign: test token (-iat): issued ")
			assert.True(t, strings.HasSuffix(r.stderr, ": "+tc.state+"\n"), r.stderr)
			token := strings.TrimSpace(r.stdout)
			d := cli(t, clock(fixedNow), "", "decode", token)
			var out struct {
				Claims struct{ Iat, Exp int64 } `json:"claims"`
			}
			require.NoError(t, json.Unmarshal([]byte(d.stdout), &out))
			assert.Equal(t, int64(3600), out.Claims.Exp-out.Claims.Iat, "exp is -iat plus -ttl")

			v := cli(t, clock(fixedNow), "", "verify", "-key", key, "-iss", testIss, "-aud", testAud, token)
			if tc.verify == "" {
				assert.Equal(t, exitOK, v.code, v.stderr)
				return
			}
			assert.Equal(t, exitFail, v.code)
			assert.Contains(t, v.stderr, tc.verify)
		})
	}
	r := cli(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "s", "-iat", "yesterday")
	assert.Equal(t, exitUsage, r.code)
	assert.Equal(t, `jwtauth sign: invalid value "yesterday" for flag -iat: not an RFC 3339 time (2026-01-02T15:04:05Z) or a duration relative to now (-2h, +10m)`+"\nRun 'jwtauth sign -h' for its flags and examples.\n", r.stderr)
}
