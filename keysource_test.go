package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalKeys_AcceptsPEMJWKJWKSAndBase64(t *testing.T) {
	ec := testKey("ES256", 0).(*ecdsa.PrivateKey)
	rk := testKey("RS256", 0).(*rsa.PrivateKey)
	pkix, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ec)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(ec)
	require.NoError(t, err)
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	privJWK := jwtauthtest.PublicJWK(ec.Public(), "k1", "ES256")
	privJWK["d"] = base64.RawURLEncoding.EncodeToString(ec.D.FillBytes(make([]byte, 32)))
	jwks := mustJSON(map[string]any{"keys": []any{privJWK}})
	wrapped := base64.StdEncoding.EncodeToString(jwks)
	var lines []string
	for len(wrapped) > 76 {
		lines, wrapped = append(lines, wrapped[:76]), wrapped[76:]
	}
	lines = append(lines, wrapped)

	dir := t.TempDir()
	path := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(path, pemOf("PUBLIC KEY", pkix), 0o600))

	ecSources := map[string]jwtauth.KeySource{
		"PKIX PEM":              jwtauth.LocalKeys(pemOf("PUBLIC KEY", pkix)),
		"PKCS#8 private PEM":    jwtauth.LocalKeys(pemOf("PRIVATE KEY", pkcs8)),
		"SEC1 private PEM":      jwtauth.LocalKeys(pemOf("EC PRIVATE KEY", sec1)),
		"certificate":           jwtauth.LocalKeys(pemOf("CERTIFICATE", selfSignedCert(t, ec))),
		"private JWK":           jwtauth.LocalKeys(mustJSON(privJWK)),
		"private JWKS":          jwtauth.LocalKeys(jwks),
		"base64 JWKS, wrapped":  jwtauth.LocalKeys([]byte(strings.Join(lines, "\n") + "\n")),
		"base64url JWKS":        jwtauth.LocalKeys([]byte(base64.RawURLEncoding.EncodeToString(jwks))),
		"base64 PEM":            jwtauth.LocalKeys([]byte(base64.StdEncoding.EncodeToString(pemOf("PUBLIC KEY", pkix)))),
		"file":                  jwtauth.LocalKeysFile(path),
		"crypto.PublicKey":      jwtauth.PublicKeys(&ec.PublicKey),
		"private crypto.Signer": jwtauth.PublicKeys(ec),
	}
	clock := newClock()
	claims := mustJSON(map[string]any{"iss": testIssuer, "aud": "a", "exp": clock.Now().Add(time.Hour).Unix()})
	for name, src := range ecSources {
		t.Run(name, func(t *testing.T) {
			v, err := jwtauth.New(context.Background(), jwtauth.Config{Clock: clock.Now, Issuers: []jwtauth.TrustedIssuer{{
				Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: src,
			}}})
			require.NoError(t, err)
			_, err = v.Verify(context.Background(), jwtauthtest.SignRaw("ES256", ec, []byte(`{"alg":"ES256","kid":"k1"}`), claims))
			assert.NoError(t, err)
		})
	}
	t.Run("PKCS#1 RSA public PEM", func(t *testing.T) {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{Clock: clock.Now, Issuers: []jwtauth.TrustedIssuer{{
			Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"RS256"},
			Keys: jwtauth.LocalKeys(pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey))),
		}}})
		require.NoError(t, err)
		// a local key without kid matches tokens with any kid, or none
		for _, h := range []string{`{"alg":"RS256","kid":"whatever"}`, `{"alg":"RS256"}`} {
			_, err = v.Verify(context.Background(), jwtauthtest.SignRaw("RS256", rk, []byte(h), claims))
			assert.NoError(t, err, h)
		}
	})
}

func TestLocalKeys_ReportsUnusableKeys(t *testing.T) {
	weak := weakRSAKey(t)
	der, err := x509.MarshalPKIXPublicKey(&weak.PublicKey)
	require.NoError(t, err)
	cases := map[string]struct {
		src  jwtauth.KeySource
		algs []string
		want string
	}{
		"1024-bit RSA":        {jwtauth.LocalKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), []string{"RS256"}, "RSA key of 1024 bits is too small"},
		"oct JWK":             {jwtauth.LocalKeys([]byte(`{"kty":"oct","k":"c2VjcmV0"}`)), []string{"RS256"}, "shared secret"},
		"wrong algorithm":     {jwtauth.PublicKeys(testKey("ES256", 0).Public()), []string{"RS256"}, "none of the 1 keys fits the configured Algorithms"},
		"missing file":        {jwtauth.LocalKeysFile("/nonexistent/key.pem"), []string{"RS256"}, "no such file"},
		"empty":               {jwtauth.LocalKeys(nil), []string{"RS256"}, "empty input"},
		"two keys without id": {jwtauth.PublicKeys(testKey("ES256", 0).Public(), testKey("ES256", 1).Public()), []string{"ES256"}, "have no kid"},
		"no keys":             {jwtauth.PublicKeys(), []string{"ES256"}, "no keys given"},
		"empty JWKS":          {jwtauth.LocalKeys([]byte(`{"keys":[]}`)), []string{"ES256"}, "the key set is empty"},
		"enc only":            {jwtauth.LocalKeys([]byte(`{"keys":[` + string(mustJSON(map[string]string{"kty": "EC", "use": "enc", "crv": "P-256", "x": "a", "y": "b"})) + `]}`)), []string{"ES256"}, `use is "enc"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
				Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: tc.algs, Keys: tc.src,
			}}})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
