package jwtauth_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const refusedMsg = "jwtauth: token refused"

func TestVerify_RefusalsAreLoggedAtTheDefaultLevelWithoutTheToken(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelInfo) })
	tok := f.token(nil, map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix(), "sub": "secret-subject"})
	_, err := f.verify(tok)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	recs := logs.records(refusedMsg)
	require.Len(t, recs, 1)
	assert.Equal(t, "INFO", recs[0]["level"])
	assert.Equal(t, "token expired", recs[0]["reason"])
	assert.EqualValues(t, http.StatusUnauthorized, recs[0]["status"])
	assert.Contains(t, recs[0]["error"], "token expired at")
	for _, part := range strings.Split(tok, ".") {
		assert.NotContains(t, logs.String(), part, "no part of the token is logged")
	}
	assert.NotContains(t, logs.String(), "secret-subject")

	_, err = f.verify(f.token(nil, nil))
	require.NoError(t, err)
	assert.Len(t, logs.records(refusedMsg), 1, "accepted tokens are not logged at INFO")
}

func TestVerify_RefusalLogIsRateLimitedPerReason(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelInfo) })
	expired := f.token(nil, map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()})
	count := func(reason string) int {
		n := 0
		for _, r := range logs.records(refusedMsg) {
			if r["reason"] == reason {
				n++
			}
		}
		return n
	}
	for range 1000 {
		_, _ = f.verify("garbage")
		_, _ = f.verify(expired)
	}
	assert.Equal(t, 10, count("malformed token"), "10 lines per reason per minute")
	assert.Equal(t, 10, count("token expired"), "each reason has its own budget")
	assert.Empty(t, logs.records("jwtauth: more tokens refused than logged"), "the summary waits for the minute to end")

	f.clock.Add(time.Minute)
	_, _ = f.verify("garbage")
	summaries := logs.records("jwtauth: more tokens refused than logged")
	require.Len(t, summaries, 1)
	assert.Equal(t, "malformed token", summaries[0]["reason"])
	assert.EqualValues(t, 990, summaries[0]["not_logged"])
	assert.Equal(t, 11, count("malformed token"), "a new minute has a new budget")

	require.NoError(t, f.v.Close())
	summaries = logs.records("jwtauth: more tokens refused than logged")
	require.Len(t, summaries, 2, "Close reports what was not logged yet")
	assert.Equal(t, "token expired", summaries[1]["reason"])
	assert.EqualValues(t, 990, summaries[1]["not_logged"])
}

func TestRequireAuth_LogsRefusedRequestsButNotMissingTokens(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelInfo) })
	h := f.v.RequireAuth(&okHandler{})
	assert.Equal(t, http.StatusUnauthorized, serve(h).Code)
	assert.Empty(t, logs.records(refusedMsg), "a request without a token is the first step of a challenge")
	assert.Equal(t, http.StatusBadRequest, serve(h, "Bearer a b").Code)
	assert.Equal(t, http.StatusUnauthorized, serve(h, "Bearer x.y.z").Code)
	var reasons []any
	for _, r := range logs.records(refusedMsg) {
		reasons = append(reasons, r["reason"])
	}
	assert.Equal(t, []any{"malformed credentials", "malformed token"}, reasons)
}

func TestLogRefusal_LogsAsRequireAuthDoes(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelInfo) })
	ctx := context.Background()
	_, noToken := jwtauth.BearerToken(nil)
	f.v.LogRefusal(ctx, noToken)
	f.v.LogRefusal(ctx, nil)
	assert.Empty(t, logs.records(refusedMsg), "neither a missing token nor nil is a refusal worth a line")
	_, two := jwtauth.BearerToken([]string{"Bearer a", "Bearer b"})
	f.v.LogRefusal(ctx, two)
	recs := logs.records(refusedMsg)
	require.Len(t, recs, 1)
	assert.Equal(t, "malformed credentials", recs[0]["reason"])
	assert.EqualValues(t, http.StatusBadRequest, recs[0]["status"])
}

func TestRemoteJWKS_EncryptionKeysAreSkippedQuietly(t *testing.T) {
	// Keycloak publishes an RSA-OAEP key with use "enc" next to its signing key.
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("RS256"))
	var set map[string][]map[string]string
	require.NoError(t, json.Unmarshal(idp.JWKS(), &set))
	enc := jwtauthtest.PublicJWK(testKey("RS256", 1).Public(), "enc-1", "RSA-OAEP")
	enc["use"] = "enc"
	set["keys"] = append(set["keys"], enc)
	body, err := json.Marshal(set)
	require.NoError(t, err)
	idp.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))

	var logs logCapture
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelDebug) })
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err)
	skipped := logs.records("jwtauth: skipping unusable key")
	require.Len(t, skipped, 1)
	assert.Equal(t, "DEBUG", skipped[0]["level"])
	assert.Equal(t, "enc-1", skipped[0]["kid"])
	assert.NotContains(t, logs.String(), `"level":"WARN"`)
}

func TestLocalKeys_APrivateKeyIsNotedOnceAtInfo(t *testing.T) {
	key := testKey("ES256", 0)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	const msg = "jwtauth: a private key is configured as a verification key; only its public part is used. Deploy the public key instead (jwtauth pub -key FILE), so this service cannot mint tokens"
	for name, src := range map[string]jwtauth.KeySource{
		"PEM":        jwtauth.LocalKeys(privPEM),
		"PublicKeys": jwtauth.PublicKeys(key),
	} {
		t.Run(name, func(t *testing.T) {
			var logs logCapture
			v, err := jwtauth.New(context.Background(), jwtauth.Config{
				Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: src}},
				Logger:  logs.logger(slog.LevelInfo),
			})
			require.NoError(t, err)
			defer v.Close()
			recs := logs.records(msg)
			require.Len(t, recs, 1)
			assert.Equal(t, "INFO", recs[0]["level"])
		})
	}
	var logs logCapture
	pub := testKey("ES256", 0).Public()
	_, err = jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: jwtauth.PublicKeys(pub)}},
		Logger:  logs.logger(slog.LevelInfo),
	})
	require.NoError(t, err)
	assert.Empty(t, logs.records(msg), "public keys are not noted")
}

// BenchmarkVerify_RefusalFloodIsCheapToLog: past the per-reason budget a refusal costs a lock and a counter,
// never a log write.
func BenchmarkVerify_RefusalFloodIsCheapToLog(b *testing.B) {
	for name, level := range map[string]slog.Level{"logged at INFO": slog.LevelInfo, "logging off": slog.LevelWarn} {
		b.Run(name, func(b *testing.B) {
			f := newLocal(b, "ES256", func(c *jwtauth.Config) {
				c.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = f.v.Verify(context.Background(), "not-a-token")
				}
			})
		})
	}
}
