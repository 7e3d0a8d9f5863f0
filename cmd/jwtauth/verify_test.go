package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// libraryVerdict verifies token with a Verifier built directly from the library, as a server would.
func libraryVerdict(t *testing.T, keyFile, iss, aud string, algs []string, now time.Time, token string) *jwtauth.Error {
	t.Helper()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: iss, Audiences: []string{aud}, Algorithms: algs, Keys: jwtauth.LocalKeysFile(keyFile)}},
		Clock:   clock(now),
	})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), token)
	require.Error(t, err)
	var e *jwtauth.Error
	require.True(t, errors.As(err, &e))
	return e
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerify_RejectsBadTokensWithTheLibraryReason(t *testing.T) {
	key := keygen(t, "-kid", "k1")
	jwks := ok(t, time.Now, "", "pub", "-key", key)
	sign := func(at time.Time, args ...string) string {
		out := ok(t, clock(at), "", append([]string{"sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "user-1"}, args...)...)
		return strings.TrimSpace(out)
	}
	good := sign(fixedNow)
	parts := strings.Split(good, ".")
	_, payload := segments(t, good)

	otherPayload := b64(strings.Replace(string(payload), `"sub":"user-1"`, `"sub":"admin"`, 1))
	sig := []byte(parts[2])
	// Another base64url character in the middle, so the encoding stays canonical and only the value changes.
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	hsHeader := b64(`{"alg":"HS256","kid":"k1","typ":"JWT"}`)
	mac := hmac.New(sha256.New, []byte(jwks)) // the classic confusion: the public key as an HMAC secret
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hsToken := hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))

	tests := []struct {
		name, token, iss, aud string
		description           string // the fixed phrase the middleware would send
	}{
		{"payload changed", parts[0] + "." + otherPayload + "." + parts[2], testIss, testAud, "signature invalid"},
		{"signature changed", parts[0] + "." + parts[1] + "." + string(sig), testIss, testAud, "signature invalid"},
		{"signature removed", parts[0] + "." + parts[1] + ".", testIss, testAud, "malformed token"},
		{"alg none without signature", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", testIss, testAud, "malformed token"},
		{"alg none with signature", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], testIss, testAud, "algorithm not allowed"},
		{"alg HS256 keyed with the public key", hsToken, testIss, testAud, "algorithm not allowed"},
		// without -alg every algorithm of the key's type is allowed, and the key k1 is EC P-256 only
		{"alg changed to ES384", b64(`{"alg":"ES384","kid":"k1","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], testIss, testAud, "unknown signing key"},
		{"expired", sign(fixedNow.Add(-2*time.Hour), "-ttl", "15m"), testIss, testAud, "token expired"},
		{"not yet valid", sign(fixedNow.Add(time.Hour)), testIss, testAud, "token not yet valid"},
		{"wrong audience", good, testIss, "billing-api", "audience not accepted"},
		{"wrong issuer", good, "https://login.example.com/", testAud, "issuer not accepted"},
		{"not a token", "hello", testIss, testAud, "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := libraryVerdict(t, key, tt.iss, tt.aud, supportedAlgorithms(), fixedNow, tt.token)
			assert.Equal(t, tt.description, want.Description())

			r := cli(t, clock(fixedNow), "", "verify", "-key", key, "-iss", tt.iss, "-aud", tt.aud, tt.token)
			assert.Equal(t, exitFail, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, "jwtauth verify: "+strings.TrimPrefix(want.Error(), "jwtauth: ")+"\n", r.stderr)
		})
	}
}

func TestVerify_ExpiredMessageIsExact(t *testing.T) {
	key := keygen(t)
	token := strings.TrimSpace(ok(t, clock(fixedNow.Add(-2*time.Hour)), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u", "-ttl", "15m"))
	r := cli(t, clock(fixedNow), "", "verify", "-key", key, "-iss", testIss, "-aud", testAud, token)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "jwtauth verify: token expired at 2026-01-02T01:19:05Z (now 2026-01-02T03:04:05Z, leeway 1m0s)\n", r.stderr)
}

func TestVerify_AlgFlagNarrowsTheAccepted(t *testing.T) {
	key := keygen(t)
	token := strings.TrimSpace(ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u"))
	ok(t, clock(fixedNow), "", "verify", "-key", key, "-iss", testIss, "-aud", testAud, "-alg", "RS256, ES256", token)

	r := cli(t, clock(fixedNow), "", "verify", "-key", key, "-iss", testIss, "-aud", testAud, "-alg", "ES384", token)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "fits none of the configured Algorithms")
}

func TestVerify_AcceptsPastedBearerToken(t *testing.T) {
	key := keygen(t)
	token := strings.TrimSpace(ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u"))
	ok(t, clock(fixedNow), "  Bearer "+token+"\r\n", "verify", "-key", key, "-iss", testIss, "-aud", testAud)
}

func TestVerify_NoTokenExitsOne(t *testing.T) {
	key := keygen(t)
	r := cli(t, clock(fixedNow), " \n", "verify", "-key", key, "-iss", testIss, "-aud", testAud)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "jwtauth verify: no token on standard input: pass it as an argument or pipe it in\n", r.stderr)
}

func TestVerify_BadKeyFileExitsOne(t *testing.T) {
	missing := t.TempDir() + "/missing.json"
	r := cli(t, clock(fixedNow), "", "verify", "-key", missing, "-iss", testIss, "-aud", testAud, "a.b.c")
	assert.Equal(t, exitFail, r.code)
	assert.Equal(t, "jwtauth verify: key file: open "+missing+": no such file or directory\n", r.stderr)

	oct := writeFile(t, "oct.json", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	r = cli(t, clock(fixedNow), "", "verify", "-key", oct, "-iss", testIss, "-aud", testAud, "a.b.c")
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, "no usable key in the key set: key 0 (kid \"\"): kty \"oct\" is a shared secret")
}

func TestVerify_RemoteJWKS(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm(alg))
			token := idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages"})
			_, payload := segments(t, token)

			r := cli(t, time.Now, token, "verify", "-jwks", idp.JWKSURL(), "-iss", idp.Issuer(), "-aud", idp.Audience())
			assert.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			assert.Equal(t, indented(t, payload), r.stdout)
			assert.Equal(t, 1, idp.Fetches(), "the Verifier's own fetch only")

			r = cli(t, time.Now, token, "verify", "-jwks", idp.JWKSURL(), "-iss", idp.Issuer(), "-aud", "other-api")
			assert.Equal(t, exitFail, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, fmt.Sprintf("jwtauth verify: audience %q does not contain any of the expected \"other-api\"\n", idp.Audience()), r.stderr)
		})
	}
}

func TestVerify_RemoteJWKSWithAlgFlagFetchesOnce(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	token := idp.Mint(map[string]any{"sub": "user-1"})
	ok(t, time.Now, "", "verify", "-jwks", idp.JWKSURL(), "-iss", idp.Issuer(), "-aud", idp.Audience(), "-alg", "RS256", token)
	assert.Equal(t, 1, idp.Fetches())
}

func TestVerify_Discover(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	token := idp.Mint(map[string]any{"sub": "user-1"})
	_, payload := segments(t, token)

	// -iss defaults to the discovery URL.
	r := cli(t, time.Now, "", "verify", "-discover", idp.Issuer(), "-aud", idp.Audience(), token)
	assert.Equal(t, exitOK, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	assert.Equal(t, indented(t, payload), r.stdout)

	// Naming the same issuer again is fine.
	ok(t, time.Now, "", "verify", "-discover", idp.Issuer(), "-iss", idp.Issuer(), "-aud", idp.Audience(), "-alg", "ES256", token)

	other := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	forged := other.Mint(map[string]any{"sub": "user-1", "iss": idp.Issuer()})
	r = cli(t, time.Now, "", "verify", "-discover", idp.Issuer(), "-aud", idp.Audience(), forged)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, fmt.Sprintf("jwtauth verify: no EC P-256 key with kid %q in the key set of issuer %q\n", other.KeyID(), idp.Issuer()), r.stderr)
}

func TestVerify_RemoteKeysUnavailableExitsOne(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	token := idp.Mint(map[string]any{"sub": "user-1"})
	idp.SetFault(jwtauthtest.FaultStatus500)

	// The Verifier's fetch fails: its Ready reason is reported.
	r := cli(t, time.Now, "", "verify", "-jwks", idp.JWKSURL(), "-iss", idp.Issuer(), "-aud", idp.Audience(), token)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	assert.Equal(t, fmt.Sprintf("jwtauth verify: issuer %q: fetching key set %s: HTTP status 500", idp.Issuer(), idp.JWKSURL()), lines[len(lines)-1])

	r = cli(t, time.Now, "", "verify", "-discover", idp.Issuer(), "-aud", idp.Audience(), token)
	assert.Equal(t, exitFail, r.code)
	lines = strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	assert.Equal(t, fmt.Sprintf("jwtauth verify: issuer %q: fetching discovery document: HTTP status 500", idp.Issuer()), lines[len(lines)-1])
}

func TestVerify_PlainHTTPKeySetIsRefused(t *testing.T) {
	r := cli(t, clock(fixedNow), "", "verify", "-jwks", "http://example.com/jwks.json", "-iss", testIss, "-aud", testAud, "a.b.c")
	assert.Equal(t, exitFail, r.code)
	assert.Contains(t, r.stderr, `URL "http://example.com/jwks.json" is http; key sets must be fetched over https`)
}

func TestVerify_JWKSFileFromPub(t *testing.T) {
	key := keygen(t, "-alg", "RS256")
	jwks := writeFile(t, "jwks.json", []byte(ok(t, time.Now, "", "pub", "-key", key)))
	token := strings.TrimSpace(ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u"))
	_, payload := segments(t, token)
	out := ok(t, clock(fixedNow), "", "verify", "-jwks", jwks, "-iss", testIss, "-aud", testAud, token)
	assert.Equal(t, indented(t, payload), out)
}

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "\n")
		s = s[n:]
	}
	return b.String() + s + "\n"
}

func TestVerify_PEMPublicKeyOfEachCurve(t *testing.T) {
	for _, tt := range []struct {
		alg   string
		curve elliptic.Curve
	}{{"ES256", elliptic.P256()}, {"ES384", elliptic.P384()}, {"ES512", elliptic.P521()}} {
		t.Run(tt.alg, func(t *testing.T) {
			k, err := ecdsa.GenerateKey(tt.curve, rand.Reader)
			require.NoError(t, err)
			private, public := pemKeys(t, k, "PRIVATE KEY")
			token := strings.TrimSpace(ok(t, clock(fixedNow), "", "sign", "-key", private, "-iss", testIss, "-aud", testAud, "-sub", "u"))
			header, _ := segments(t, token)
			assert.Contains(t, string(header), `"alg":"`+tt.alg+`"`)
			ok(t, clock(fixedNow), "", "verify", "-key", public, "-iss", testIss, "-aud", testAud, token)
		})
	}
}
