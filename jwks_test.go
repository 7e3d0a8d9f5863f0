package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"

	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// remoteVerifier trusts idp through its JWKS URL with fast test timings; mutate adjusts the config.
func remoteVerifier(t testing.TB, idp *jwtauthtest.IdP, mutate ...func(*jwtauth.Config)) *jwtauth.Verifier {
	t.Helper()
	cfg := jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		Logger:  quietLogger(t),
		JWKS: jwtauth.JWKSOptions{
			RefreshCooldown:  100 * time.Millisecond,
			MaxWait:          2 * time.Second,
			FetchTimeout:     2 * time.Second,
			MaxRetryInterval: 200 * time.Millisecond,
		},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	jwtauth.AllowShortJWKSTimersForTest(&cfg.JWKS)
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	return v
}

func TestRemoteJWKS_PicksUpRotationWithoutRestart(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp)
	old := idp.Mint(nil)
	_, err := v.Verify(context.Background(), old)
	require.NoError(t, err)
	require.Equal(t, 1, idp.Fetches())

	idp.Rotate()
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err, "a new kid triggers a refresh")
	assert.Equal(t, 2, idp.Fetches())
	_, err = v.Verify(context.Background(), old)
	assert.NoError(t, err, "the old key is still published")
}

func TestRemoteJWKS_TwoRotationsSecondsApartAreBothPickedUp(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.RefreshCooldown = 300 * time.Millisecond })
	idp.Rotate()
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err)
	time.Sleep(400 * time.Millisecond) // past the cooldown
	idp.Rotate()
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err)
	assert.Equal(t, 3, idp.Fetches())
}

func TestRemoteJWKS_RemovedKeyStopsVerifyingAfterRefresh(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.RefreshInterval = 100 * time.Millisecond })
	old := idp.Mint(nil)
	oldKid := idp.KeyID()
	_, err := v.Verify(context.Background(), old)
	require.NoError(t, err)
	idp.Rotate()
	idp.Unpublish(oldKid)
	require.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), old)
		return err != nil
	}, 5*time.Second, 50*time.Millisecond)
	_, err = v.Verify(context.Background(), old)
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
}

func TestRemoteJWKS_UnknownKidFloodCausesOneFetch(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	// A cooldown and fetch timeout far longer than the flood takes, so the count does not depend on the
	// machine's speed (under -race on a loaded machine the flood can starve the fetch for seconds).
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.JWKS.RefreshCooldown = time.Minute
		c.JWKS.FetchTimeout = time.Minute
	})
	require.Equal(t, 1, idp.Fetches())
	idp.SetDelay(200 * time.Millisecond) // keep the shared fetch in flight while the flood arrives

	const n = 1000
	toks := make([]string, n)
	for i := range toks {
		toks[i] = idp.Sign(map[string]any{"kid": "random-" + string(rune('a'+i%26)) + strings.Repeat("x", i%7)},
			map[string]any{"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
	}
	var wg sync.WaitGroup
	var refused atomic.Int64
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			if _, err := v.Verify(context.Background(), toks[i]); err != nil {
				assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
				refused.Add(1)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(n), refused.Load())
	assert.Equal(t, 2, idp.Fetches(), "1000 unknown kids at once: one shared fetch, then the cooldown")
}

func TestRemoteJWKS_RequestWaitsAtMostMaxWaitForAHangingRefresh(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.JWKS.MaxWait = 300 * time.Millisecond
		c.JWKS.FetchTimeout = 10 * time.Second
	})
	known := idp.Mint(nil)
	idp.SetFault(jwtauthtest.FaultHang)
	idp.Rotate()
	start := time.Now()
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	elapsed := time.Since(start)
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "an unknown kid while keys are cached is a 401, not a 503")
	assert.Less(t, elapsed, 3*time.Second)

	// The request's own context can only shorten the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = v.Verify(ctx, idp.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.Less(t, time.Since(start), 2*time.Second)

	_, err = v.Verify(context.Background(), known)
	assert.NoError(t, err, "known keys keep verifying while the JWKS hangs")
}

func TestRemoteJWKS_KeepsLastGoodKeysThroughFaults(t *testing.T) {
	faults := map[string]jwtauthtest.Fault{
		"down":               jwtauthtest.FaultDown,
		"hanging":            jwtauthtest.FaultHang,
		"500":                jwtauthtest.FaultStatus500,
		"HTML":               jwtauthtest.FaultHTML,
		"truncated":          jwtauthtest.FaultTruncated,
		"empty set":          jwtauthtest.FaultEmpty,
		"unusable keys only": jwtauthtest.FaultUnusable,
		"50 MB body":         jwtauthtest.FaultHuge,
		"endless body":       jwtauthtest.FaultEndless,
		"redirect elsewhere": jwtauthtest.FaultRedirect,
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
			v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
				c.JWKS.RefreshInterval = 50 * time.Millisecond
				c.JWKS.FetchTimeout = 300 * time.Millisecond
				c.JWKS.MaxWait = 400 * time.Millisecond
			})
			known := idp.Mint(nil)
			_, err := v.Verify(context.Background(), known)
			require.NoError(t, err)

			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			idp.SetFault(fault)
			fetches := idp.Fetches()
			require.Eventually(t, func() bool { return idp.Fetches() >= fetches+2 }, 10*time.Second, 20*time.Millisecond,
				"the refresh keeps being retried")

			_, err = v.Verify(context.Background(), known)
			assert.NoError(t, err, "known keys keep verifying")
			idp.Rotate()
			_, err = v.Verify(context.Background(), idp.Mint(nil))
			assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "an unknown kid is a 401 while keys are cached")
			assert.NoError(t, v.Ready())

			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			assert.Less(t, int64(after.HeapAlloc)-int64(before.HeapAlloc), int64(8<<20), "memory stays bounded")

			idp.SetFault(jwtauthtest.FaultNone)
			require.Eventually(t, func() bool {
				_, err := v.Verify(context.Background(), idp.Mint(nil))
				return err == nil
			}, 5*time.Second, 50*time.Millisecond, "recovers once the IdP is back")
		})
	}
}

func TestRemoteJWKS_StaleKeysExpireAfterMaxStale(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	clock := &fixedClock{now: time.Now()}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.Clock = clock.Now
		c.JWKS.MaxStale = time.Hour
		c.JWKS.MaxWait = 200 * time.Millisecond
	})
	tok := idp.Mint(map[string]any{"exp": clock.Now().Add(3 * time.Hour).Unix()})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)

	idp.SetFault(jwtauthtest.FaultStatus500)
	clock.Add(59 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err, "within MaxStale the last good keys are used")
	clock.Add(2 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status())
	assert.ErrorContains(t, v.Ready(), "older than JWKS.MaxStale")

	idp.SetFault(jwtauthtest.FaultNone)
	require.Eventually(t, func() bool { return v.Ready() == nil }, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err)
}

func TestRemoteJWKS_DownAtStartupIsRetriedAndRecovers(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultHang)
	start := time.Now()
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.JWKS.FetchTimeout = 300 * time.Millisecond
		c.JWKS.MaxWait = 100 * time.Millisecond
		c.JWKS.RefreshCooldown = time.Hour // recovery must come from the background retry
	})
	assert.Less(t, time.Since(start), 2*time.Second, "startup waits at most about one fetch timeout")
	assert.ErrorContains(t, v.Ready(), idp.Issuer())

	tok := idp.Mint(nil)
	_, err := v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)

	idp.SetFault(jwtauthtest.FaultNone)
	require.Eventually(t, func() bool { return v.Ready() == nil }, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err)
}

func TestRemoteJWKS_NeverLoadedKeysAreUnavailableNotInvalid(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultStatus500)
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.MaxWait = 100 * time.Millisecond })
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
	assert.ErrorContains(t, err, "HTTP status 500")
	assert.ErrorContains(t, v.Ready(), "HTTP status 500")
}

func TestRemoteJWKS_RefreshesPeriodicallyAndStopsOnClose(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.RefreshInterval = 50 * time.Millisecond })
	require.Eventually(t, func() bool { return idp.Fetches() >= 3 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, v.Close())
	n := idp.Fetches()
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, n, idp.Fetches(), "no fetch after Close")
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	assert.NoError(t, err, "keys already loaded keep working after Close")
	idp.Rotate()
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.Equal(t, n, idp.Fetches(), "an unknown kid after Close fetches nothing")
}

// A2: the usual way to bound startup (a timeout context, cancelled once New returns) must not end the
// background refreshes, or the next key rotation is never picked up. Only Close ends them.
func TestRemoteJWKS_RefreshesOutliveTheContextPassedToNew(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	type ctxKey struct{}
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), ctxKey{}, "kept"), 10*time.Second)
	cfg := jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		Logger:  quietLogger(t),
		JWKS:    shortTimers(jwtauth.JWKSOptions{RefreshInterval: 30 * time.Millisecond}),
	}
	v, err := jwtauth.New(ctx, cfg)
	require.NoError(t, err)
	cancel() // startup is over
	require.NoError(t, v.Ready())
	n := idp.Fetches()
	require.Eventually(t, func() bool { return idp.Fetches() >= n+3 }, 5*time.Second, 10*time.Millisecond,
		"periodic refreshes go on after the startup context is done")
	assert.NoError(t, v.Ready())

	// The context passed to New may already be done: New does not wait, and background work still starts.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	idp2 := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	cfg.Issuers = []jwtauth.TrustedIssuer{idp2.TrustedIssuer()}
	v2, err := jwtauth.New(done, cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return v2.Ready() == nil && idp2.Fetches() >= 3 }, 5*time.Second, 10*time.Millisecond)

	// Close is what ends background work.
	require.NoError(t, v.Close())
	require.NoError(t, v2.Close())
	time.Sleep(100 * time.Millisecond) // a request cancelled by Close may still reach the server
	n, n2 := idp.Fetches(), idp2.Fetches()
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, n, idp.Fetches(), "no fetch after Close")
	assert.Equal(t, n2, idp2.Fetches(), "no fetch after Close")
}

func TestRemoteJWKS_HonoursShortCacheControlMaxAge(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetCacheControl("public, max-age=1")
	// RefreshInterval 2s: max-age=1 is honoured down to min(1 minute, RefreshInterval), i.e. 2s here; a
	// long max-age never stretches past RefreshInterval.
	remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.RefreshInterval = 2 * time.Second })
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, 1, idp.Fetches(), "max-age below the floor does not cause faster refreshes")

	idp2 := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp2.SetCacheControl("max-age=86400")
	remoteVerifier(t, idp2, func(c *jwtauth.Config) { c.JWKS.RefreshInterval = 100 * time.Millisecond })
	require.Eventually(t, func() bool { return idp2.Fetches() >= 3 }, 5*time.Second, 10*time.Millisecond,
		"a long max-age never delays the configured refresh")
}

func TestRemoteJWKS_RequiresHTTPSExceptLoopback(t *testing.T) {
	cases := map[string]bool{ // URL → accepted
		"https://idp.example/jwks.json":     true,
		"http://localhost:8080/jwks.json":   true,
		"http://127.0.0.1/jwks.json":        true,
		"http://127.3.4.5:9/jwks.json":      true,
		"http://[::1]:9/jwks.json":          true,
		"http://idp.example/jwks.json":      false,
		"http://10.0.0.1/jwks.json":         false,
		"http://localhost.evil/jwks.json":   false,
		"ftp://idp.example/jwks.json":       false,
		"https://user:pw@idp.example/jwks":  false,
		"/relative/jwks.json":               false,
		"https:///jwks.json":                false,
		"http://[::ffff:127.0.0.1]/jwks":    true, // an IPv4-mapped loopback address is loopback
		"http://0x7f.0.0.1/jwks.json":       false,
		"http://127.0.0.1.nip.io/jwks.json": false,
	}
	for u, ok := range cases {
		t.Run(u, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // no fetch wanted: only the configuration check
			v, err := jwtauth.New(ctx, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
				Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: jwtauth.RemoteJWKS(u),
			}}})
			if ok {
				require.NoError(t, err)
				_ = v.Close()
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestRemoteJWKS_RefusesRedirectToAnotherOrigin(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultRedirect)
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.JWKS.MaxWait = 50 * time.Millisecond })
	assert.ErrorContains(t, v.Ready(), "another origin")
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
}

func TestRemoteJWKS_FollowsSameOriginRedirect(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(idp.JWKS()) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ti := idp.TrustedIssuer()
	ti.Keys = jwtauth.RemoteJWKS(srv.URL + "/old")
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	assert.NoError(t, err)
}

func TestRemoteJWKS_SkipsBadKeysWithoutPoisoningTheSet(t *testing.T) {
	good := testKey("ES256", 0)
	rsaKey := testKey("RS256", 0).(*rsa.PrivateKey)
	weak := weakRSAKey(t)
	enc := jwtauthtest.PublicJWK(testKey("ES256", 1).Public(), "enc", "")
	enc["use"] = "enc"
	noVerify := map[string]any{}
	for k, v := range jwtauthtest.PublicJWK(testKey("ES256", 2).Public(), "no-verify", "") {
		noVerify[k] = v
	}
	noVerify["key_ops"] = []string{"sign"}
	wrongAlg := jwtauthtest.PublicJWK(rsaKey.Public(), "wrong-alg", "ES256")
	offCurve := jwtauthtest.PublicJWK(testKey("ES256", 3).Public(), "off-curve", "ES256")
	offCurve["y"] = offCurve["x"]
	dupA := jwtauthtest.PublicJWK(testKey("ES256", 4).Public(), "dup", "ES256")
	dupB := jwtauthtest.PublicJWK(testKey("ES256", 5).Public(), "dup", "ES256")
	set := map[string]any{"keys": []any{
		map[string]string{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		jwtauthtest.PublicJWK(weak.Public(), "weak", "RS256"),
		enc, noVerify, wrongAlg, offCurve, dupA, dupB,
		map[string]string{"kty": "EC", "kid": "garbage"},
		"not an object",
		jwtauthtest.PublicJWK(good.Public(), "good", "ES256"),
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	clock := newClock()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Clock:   clock.Now,
		Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{"a"}, Algorithms: []string{"ES256", "RS256"}, Keys: jwtauth.RemoteJWKS(srv.URL)}},
		JWKS:    jwtauth.JWKSOptions{RefreshCooldown: time.Hour},
	})
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Ready())

	claims := mustJSON(map[string]any{"iss": testIssuer, "aud": "a", "exp": clock.Now().Add(time.Hour).Unix()})
	sign := func(alg, kid string, key crypto.Signer) error {
		_, err := v.Verify(context.Background(), jwtauthtest.SignRaw(alg, key, mustJSON(map[string]string{"alg": alg, "kid": kid}), claims))
		return err
	}
	assert.NoError(t, sign("ES256", "good", good))
	for kid, key := range map[string]crypto.Signer{"enc": testKey("ES256", 1), "no-verify": testKey("ES256", 2), "off-curve": testKey("ES256", 3), "dup": testKey("ES256", 4)} {
		assert.ErrorIs(t, sign("ES256", kid, key), jwtauth.ErrUnknownKey, kid)
	}
	assert.ErrorIs(t, sign("RS256", "weak", weak), jwtauth.ErrUnknownKey)
	assert.ErrorIs(t, sign("RS256", "wrong-alg", rsaKey), jwtauth.ErrUnknownKey)
}

func TestDiscover_FindsTheKeySetAndChecksTheIssuer(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{jwtauth.OIDC(idp.Issuer(), idp.Audience())}})
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Ready())
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	assert.NoError(t, err)
	assert.Equal(t, 1, idp.DiscoveryFetches())

	// The discovery document must name the configured issuer.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://evil.example", "jwks_uri": idp.JWKSURL()})
	}))
	defer liar.Close()
	_, err = jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{jwtauth.OIDC(liar.URL, "a")},
		JWKS:    jwtauth.JWKSOptions{MaxWait: 50 * time.Millisecond},
	})
	assert.ErrorContains(t, err, `names issuer "https://evil.example", not the configured`)

	_, err = jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer: "https://a.example/", Audiences: []string{"a"}, Algorithms: []string{"RS256"}, Keys: jwtauth.Discover("https://b.example/"),
	}}})
	assert.ErrorContains(t, err, "names another issuer than Issuer")
}

func TestNew_StartsWithoutBlockingOnAHangingIdP(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultHang)
	start := time.Now()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer(), jwtauth.OIDC(idp.Issuer()+"/", "a")},
		JWKS:    shortTimers(jwtauth.JWKSOptions{FetchTimeout: 300 * time.Millisecond}),
	})
	require.NoError(t, err)
	defer v.Close()
	assert.Less(t, time.Since(start), 2*time.Second)
}

func weakRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	return k
}

// A3: a duration written without a unit (RefreshInterval: 900 meaning seconds) is 900ns: 1,924 fetches a
// second with no traffic, or no cooldown at all. Below the floor it is a configuration error with a hint,
// reported together with every other problem.
func TestNew_RefusesJWKSDurationsBelowTheirFloor(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	_, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		Leeway:  -time.Second, // another problem, reported in the same error
		JWKS: jwtauth.JWKSOptions{
			RefreshInterval:  900,
			RefreshCooldown:  5,
			MaxWait:          2,
			FetchTimeout:     10,
			MaxStale:         86400,
			MaxRetryInterval: 100 * time.Millisecond,
		},
	})
	require.Error(t, err)
	for _, want := range []string{
		"Config.JWKS.RefreshInterval 900ns is below 1s; did you mean 900 * time.Second?",
		"Config.JWKS.RefreshCooldown 5ns is below 1s; did you mean 5 * time.Second?",
		"Config.JWKS.MaxWait 2ns is below 1ms; did you mean 2 * time.Second?",
		"Config.JWKS.FetchTimeout 10ns is below 1s; did you mean 10 * time.Second?",
		"Config.JWKS.MaxStale 86.4µs is below 1s; did you mean 86400 * time.Second?",
		"Config.JWKS.MaxRetryInterval 100ms is below 1s: use at least 1s",
		"Config.Leeway",
	} {
		assert.Contains(t, err.Error(), want)
	}

	// At the floors, and a sub-second MaxWait (a request's latency budget), are fine.
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		Logger:  quietLogger(t),
		JWKS: jwtauth.JWKSOptions{RefreshInterval: time.Second, RefreshCooldown: time.Second, MaxWait: time.Millisecond,
			FetchTimeout: time.Second, MaxStale: time.Second, MaxRetryInterval: time.Second},
	})
	require.NoError(t, err)
	require.NoError(t, v.Close())
	v, err = jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		Logger:  quietLogger(t),
		JWKS:    jwtauth.JWKSOptions{MaxWait: 150 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, v.Close())
}

// loopbackClient sends every request to srv whatever the URL's host, so tests can use non-loopback URLs
// (http://keycloak:8080) while staying on loopback.
func loopbackClient(srv *httptest.Server) *http.Client {
	addr := srv.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
}

func TestRemoteJWKS_PlainHTTPToAnotherHostNeedsInsecureAllowHTTP(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(idp.JWKS()) }))
	defer srv.Close()
	ti := idp.TrustedIssuer()
	ti.Keys = jwtauth.RemoteJWKS("http://keycloak:8080/realms/main/protocol/openid-connect/certs")
	cfg := jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, JWKS: jwtauth.JWKSOptions{HTTPClient: loopbackClient(srv)}}

	var logs logCapture
	cfg.Logger = logs.logger(slog.LevelInfo)
	_, err := jwtauth.New(context.Background(), cfg)
	assert.ErrorContains(t, err, `URL "http://keycloak:8080/realms/main/protocol/openid-connect/certs" is http`)
	assert.ErrorContains(t, err, "set JWKSOptions.InsecureAllowHTTP")
	assert.Zero(t, idp.Fetches()+len(logs.records("jwtauth: token refused")), "nothing is fetched")

	cfg.JWKS.InsecureAllowHTTP = true
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Ready())
	_, err = v.Verify(context.Background(), idp.Mint(nil))
	assert.NoError(t, err)
	warns := logs.records("jwtauth: fetching keys over plain http (JWKSOptions.InsecureAllowHTTP): anyone who can alter this traffic can substitute the keys and mint accepted tokens")
	require.Len(t, warns, 1, "one warning at startup")
	assert.Equal(t, "WARN", warns[0]["level"])
	assert.Equal(t, "http://keycloak:8080/realms/main/protocol/openid-connect/certs", warns[0]["url"])
}

func TestDiscover_PlainHTTPIssuerWithInsecureAllowHTTP(t *testing.T) {
	// Keycloak in docker-compose: issuer and jwks_uri are both http on the compose network.
	const issuer = "http://keycloak:8080/realms/main"
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realms/main/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/protocol/openid-connect/certs"})
		case "/realms/main/protocol/openid-connect/certs":
			_, _ = w.Write(idp.JWKS())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var logs logCapture
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: issuer, Audiences: []string{"a"}, Algorithms: []string{"ES256"}, Keys: jwtauth.Discover(issuer)}},
		JWKS:    jwtauth.JWKSOptions{HTTPClient: loopbackClient(srv), InsecureAllowHTTP: true},
		Logger:  logs.logger(slog.LevelInfo),
	})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), idp.Mint(map[string]any{"iss": issuer, "aud": "a"}))
	assert.NoError(t, err)
	var urls []any
	for _, r := range logs.records("jwtauth: fetching keys over plain http (JWKSOptions.InsecureAllowHTTP): anyone who can alter this traffic can substitute the keys and mint accepted tokens") {
		urls = append(urls, r["url"])
	}
	assert.Equal(t, []any{issuer + "/.well-known/openid-configuration", issuer + "/protocol/openid-connect/certs"}, urls)
}

func TestNew_FailsOnRemoteKeysThatCanNeverLoad(t *testing.T) {
	idp := jwtauthtest.NewIdP(t) // RS256
	status := func(code int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return srv
	}
	slash := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Names the issuer without the trailing slash the configuration has.
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "http://" + r.Host, "jwks_uri": idp.JWKSURL()})
	}))
	defer slash.Close()
	notFound := status(http.StatusNotFound)
	cases := []struct {
		name string
		ti   jwtauth.TrustedIssuer
		want []string
	}{
		{"JWKS answers 404", jwtauth.TrustedIssuer{Keys: jwtauth.RemoteJWKS(notFound.URL + "/jwks.json")},
			[]string{"fetching key set " + notFound.URL + "/jwks.json: HTTP status 404 Not Found: is the key set URL right?"}},
		{"JWKS answers 401", jwtauth.TrustedIssuer{Keys: jwtauth.RemoteJWKS(status(http.StatusUnauthorized).URL)},
			[]string{"HTTP status 401 Unauthorized"}},
		{"JWKS answers 403", jwtauth.TrustedIssuer{Keys: jwtauth.RemoteJWKS(status(http.StatusForbidden).URL)},
			[]string{"HTTP status 403 Forbidden"}},
		{"discovery answers 404", jwtauth.OIDC(notFound.URL, "a"),
			[]string{"fetching discovery document " + notFound.URL + "/.well-known/openid-configuration: HTTP status 404 Not Found: is Issuer right?"}},
		{"discovery names the issuer without the trailing slash", jwtauth.OIDC(slash.URL+"/", "a"),
			[]string{`names issuer "` + slash.URL + `", not the configured "` + slash.URL + `/"`, `they differ only by a trailing slash: set Issuer to "` + slash.URL + `"`}},
		{"no key fits Algorithms", jwtauth.TrustedIssuer{Algorithms: []string{"ES256"}},
			[]string{"an RSA key fits none of the configured Algorithms", "the key set has RSA keys: add one of RS256, RS384, RS512, PS256, PS384, PS512 to Algorithms"}},
		{"JWKS URL ends in a newline", jwtauth.TrustedIssuer{Keys: jwtauth.RemoteJWKS(idp.JWKSURL() + "\n")},
			[]string{"contains whitespace at byte", "a trailing newline from a file or environment variable?"}},
		{"discovery issuer ends in a newline", jwtauth.OIDC(idp.Issuer()+"\n", "a"),
			[]string{"Issuer has leading or trailing whitespace or a control character"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ti := idp.TrustedIssuer()
			if tc.ti.Issuer != "" {
				ti = tc.ti
			}
			if tc.ti.Keys != nil {
				ti.Keys = tc.ti.Keys
			}
			if tc.ti.Algorithms != nil {
				ti.Algorithms = tc.ti.Algorithms
			}
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, Logger: quietLogger(t)})
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestNew_StaysLenientOnFaultsARetryCanFix(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
			var fail atomic.Bool
			fail.Store(true)
			idp.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if fail.Load() {
					w.WriteHeader(code)
					return
				}
				_, _ = w.Write(idp.JWKS())
			}))
			v := remoteVerifier(t, idp)
			assert.ErrorContains(t, v.Ready(), fmt.Sprintf("HTTP status %d", code))
			fail.Store(false)
			require.Eventually(t, func() bool { return v.Ready() == nil }, 5*time.Second, 20*time.Millisecond)
		})
	}
}

func TestRemoteJWKS_A404AfterStartKeepsTheLastGoodKeys(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	v := remoteVerifier(t, idp)
	tok := idp.Mint(nil)
	idp.SetJWKSHandler(http.NotFoundHandler())
	n := idp.Fetches()
	_, err := v.Verify(context.Background(), idp.Sign(map[string]any{"kid": "unknown"}, map[string]any{"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()}))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.Greater(t, idp.Fetches(), n, "the unknown kid triggered a refresh, which got 404")
	_, err = v.Verify(context.Background(), tok)
	assert.NoError(t, err)
	assert.NoError(t, v.Ready())
}

// A8: jwkset and encoding/json read member names ignoring case, so "D" is a private member to them. One
// reading for everyone: a case variant of a private member makes the key unusable (logged at ERROR, the other
// keys stay), and a key set or discovery document with two names equal under case folding is refused.
func TestRemoteJWKS_CaseVariantMembersHaveOneReading(t *testing.T) {
	good, leaked := jwtauthtest.NewKey("ES256"), jwtauthtest.NewKey("ES256").(*ecdsa.PrivateKey)
	goodJWK := jwtauthtest.PublicJWK(good.Public(), "good", "ES256")
	leakedJWK := map[string]any{}
	for k, v := range jwtauthtest.PublicJWK(leaked.Public(), "leaked", "ES256") {
		leakedJWK[k] = v
	}
	leakedJWK["D"] = base64.RawURLEncoding.EncodeToString(leaked.D.FillBytes(make([]byte, 32)))
	serve := func(body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	newV := func(keys jwtauth.KeySource, issuer string, logger *slog.Logger) *jwtauth.Verifier {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{Logger: logger, Issuers: []jwtauth.TrustedIssuer{{
			Issuer: issuer, Audiences: []string{"api"}, Algorithms: []string{"ES256"}, Keys: keys}}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		return v
	}

	set, _ := json.Marshal(map[string]any{"keys": []any{goodJWK, leakedJWK}})
	var logs logCapture
	v := newV(jwtauth.RemoteJWKS(serve(set)), "https://issuer.test", logs.logger(slog.LevelDebug))
	require.NoError(t, v.Ready(), "the other key of the set is used")
	var leakedLine map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["level"] == "ERROR" {
			leakedLine = rec
		}
	}
	require.NotNil(t, leakedLine, "a published private part is logged at ERROR: %s", logs.String())
	assert.Equal(t, "leaked", leakedLine["kid"])
	claims := map[string]any{"iss": "https://issuer.test", "aud": "api", "exp": time.Now().Add(time.Hour).Unix()}
	_, err := v.Verify(context.Background(), jwtauthtest.SignRaw("ES256", leaked, mustJSON(map[string]any{"alg": "ES256", "kid": "leaked"}), mustJSON(claims)))
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey, "a key whose private part is public verifies nothing")
	_, err = v.Verify(context.Background(), jwtauthtest.SignRaw("ES256", good, mustJSON(map[string]any{"alg": "ES256", "kid": "good"}), mustJSON(claims)))
	assert.NoError(t, err)

	// Two names equal under case folding in one key: jwkset would keep the last, the strict reader the first.
	dupKey := `{"keys":[{"kty":"EC","crv":"P-256","kid":"good","KID":"other","x":"` + goodJWK["x"] + `","y":"` + goodJWK["y"] + `"}]}`
	v = newV(jwtauth.RemoteJWKS(serve([]byte(dupKey))), "https://issuer.test", quietLogger(t))
	assert.ErrorContains(t, v.Ready(), "duplicate member name")

	// The same in a discovery document: "ISSUER" is issuer to encoding/json.
	var disco *httptest.Server
	disco = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"` + disco.URL + `","jwks_uri":"` + disco.URL + `/jwks","JWKS_URI":"https://evil.example/jwks"}`))
	}))
	t.Cleanup(disco.Close)
	v = newV(jwtauth.Discover(disco.URL), disco.URL, quietLogger(t))
	assert.ErrorContains(t, v.Ready(), "duplicate member name")
}
