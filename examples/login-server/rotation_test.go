package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtauth-go/jwtauth"
)

// The key rotation of README.md ("Rotating the signing key"), walked end to end against a separate verifier
// that knows the server only by discovery, as an API in production would. The server is configured through
// the environment (ES256_KEY, ES256_KID) and restarted at each step, on the same address and database:
//
//  1. key A only;
//  2. A and B in ES256_KEY, A still signing: B is published, verifiers learn it before any token uses it;
//  3. ES256_KID=B: new tokens are B's, tokens of A still verify (A is still published);
//  4. one TOKEN_TTL later, B only: A's tokens have all expired, so retiring A breaks nobody.
//
// It also shows why step 4 waits: a token of A that had not expired would be refused once A is gone.
func TestKeyRotation_WalksTheREADMEProcedure(t *testing.T) {
	const ttl = 2 * time.Second
	keyA, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	keyB, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)

	// One address and one database for every restart, as a deployment keeps its hostname and volume.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	issuer := "http://" + addr
	dbPath := filepath.Join(t.TempDir(), "auth.db")

	esKey := func(keys ...*jwtauth.SigningKey) string {
		set, err := jwtauth.PrivateJWKS(keys...)
		require.NoError(t, err)
		return base64.StdEncoding.EncodeToString(set) // what `jwtauth keygen -base64` prints
	}
	// start runs the server as configured by env until the returned stop is called.
	start := func(env map[string]string) (stop func()) {
		t.Helper()
		env["ADDR"], env["DATABASE_URL"], env["JWT_ISSUER"], env["TOKEN_TTL"] = addr, dbPath, issuer, ttl.String()
		cfg, err := loadConfig(func(k string) string { return env[k] })
		require.NoError(t, err)
		cfg.FailedLoginFloor = time.Millisecond // not under test; measuring it costs seconds per start
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- serve(ctx, cfg, slog.New(slog.DiscardHandler)) }()
		require.Eventually(t, func() bool {
			res, err := http.Get(issuer + "/healthz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == http.StatusOK
		}, 20*time.Second, 20*time.Millisecond, "the server starts on %s", addr)
		return func() {
			cancel()
			select {
			case err := <-errc:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Fatal("the server did not stop")
			}
		}
	}
	publishedKids := func() []string {
		res, err := http.Get(issuer + "/.well-known/jwks.json")
		require.NoError(t, err)
		defer res.Body.Close()
		var set struct{ Keys []struct{ Kid, D string } }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&set))
		var kids []string
		for _, k := range set.Keys {
			require.Empty(t, k.D, "never a private key")
			kids = append(kids, k.Kid)
		}
		return kids
	}
	login := func() (token, kid string) {
		t.Helper()
		res, err := http.Post(issuer+"/login", "application/json",
			jsonBody(t, map[string]string{"email": "rota@example.com", "password": classicPassword}))
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var tr tokenResponse
		require.NoError(t, json.NewDecoder(res.Body).Decode(&tr))
		return tr.AccessToken, headerKid(t, tr.AccessToken)
	}
	// mint signs a token as the server would, with key k, for the cases the server cannot be made to produce
	// on demand (a token of B before the switch, a token of A still valid after A is retired).
	mint := func(k *jwtauth.SigningKey) string {
		iss, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: issuer, Audience: []string{defaultAudience},
			TTL: time.Hour, Keys: []*jwtauth.SigningKey{k}})
		require.NoError(t, err)
		tok, err := iss.Issue("someone", nil)
		require.NoError(t, err)
		return tok
	}

	// Step 1: key A only.
	stop := start(map[string]string{"ES256_KEY": esKey(keyA)})
	res, err := http.Post(issuer+"/register", "application/json",
		jsonBody(t, map[string]string{"email": "rota@example.com", "password": classicPassword}))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	assert.Equal(t, []string{keyA.KeyID()}, publishedKids())
	tokenA1, kid := login()
	assert.Equal(t, keyA.KeyID(), kid)

	// The API's verifier: discovery from the issuer, a fast refresh so the test need not wait 15 minutes,
	// and next to no leeway so that expiry is exact.
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: issuer, Audiences: []string{defaultAudience},
			Algorithms: []string{"ES256"}, Keys: jwtauth.Discover(issuer)}},
		JWKS:   jwtauth.JWKSOptions{RefreshInterval: time.Second, RefreshCooldown: time.Second},
		Leeway: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Ready())
	verifies := func(token string) error {
		_, err := v.Verify(context.Background(), token)
		return err
	}
	require.NoError(t, verifies(tokenA1), "step 1: A's token")
	stop()

	// Step 2: add B, keep signing with A.
	stop = start(map[string]string{"ES256_KEY": esKey(keyA, keyB), "ES256_KID": keyA.KeyID()})
	assert.ElementsMatch(t, []string{keyA.KeyID(), keyB.KeyID()}, publishedKids(), "step 2: B is published")
	tokenA2, kid := login()
	assert.Equal(t, keyA.KeyID(), kid, "step 2: A still signs")
	assert.NoError(t, verifies(tokenA1))
	assert.NoError(t, verifies(tokenA2))
	early := mint(keyB)
	assert.Eventually(t, func() bool { return verifies(early) == nil }, 10*time.Second, 100*time.Millisecond,
		"step 2: the verifier knows B before the server signs with it")
	stop()

	// Step 3: switch ES256_KID to B.
	stop = start(map[string]string{"ES256_KEY": esKey(keyA, keyB), "ES256_KID": keyB.KeyID()})
	tokenB, kid := login()
	assert.Equal(t, keyB.KeyID(), kid, "step 3: B signs")
	assert.NoError(t, verifies(tokenB), "step 3: B's token verifies at once: B was published in step 2")
	assert.NoError(t, verifies(tokenA2), "step 3: A's tokens still verify while A is published")
	lateA := mint(keyA) // stands for a token of A that outlives the wait below (a longer TTL than configured)
	stop()

	// Step 4: one TOKEN_TTL after the switch, retire A.
	time.Sleep(time.Until(expiry(t, tokenA2)) + time.Second)
	assert.ErrorIs(t, verifies(tokenA2), jwt.ErrTokenExpired, "step 4: every token of A the server issued has expired")
	stop = start(map[string]string{"ES256_KEY": esKey(keyB)})
	defer stop()
	assert.Equal(t, []string{keyB.KeyID()}, publishedKids(), "step 4: A is no longer published")
	tokenB2, kid := login()
	assert.Equal(t, keyB.KeyID(), kid)
	assert.NoError(t, verifies(tokenB2), "step 4: B signs and verifies; users survived every restart")
	assert.Eventually(t, func() bool { return errors.Is(verifies(lateA), jwtauth.ErrUnknownKey) }, 10*time.Second,
		100*time.Millisecond, "a token of A still unexpired is refused once A is gone: why step 4 waits one TOKEN_TTL")
}

func jsonBody(t testing.TB, v any) *bytes.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return bytes.NewReader(b)
}

// headerKid and expiry read a token without verifying it.
func headerKid(t testing.TB, token string) string {
	t.Helper()
	var h struct{ Kid string }
	decodeSegment(t, token, 0, &h)
	return h.Kid
}

func expiry(t testing.TB, token string) time.Time {
	t.Helper()
	var c struct{ Exp int64 }
	decodeSegment(t, token, 1, &c)
	return time.Unix(c.Exp, 0)
}

func decodeSegment(t testing.TB, token string, i int, dst any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, dst))
}
