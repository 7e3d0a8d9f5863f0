package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheProbe records whether the last verification was answered by the cache.
type cacheProbe struct {
	mu   sync.Mutex
	last jwtauth.Outcome
}

func (p *cacheProbe) observe(_ context.Context, o jwtauth.Outcome) {
	p.mu.Lock()
	p.last = o
	p.mu.Unlock()
}

func (p *cacheProbe) cached() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.Cached
}

func cachedLocal(t *testing.T, mutate ...func(*jwtauth.Config)) (*localFixture, *cacheProbe) {
	p := &cacheProbe{}
	f := newLocal(t, "ES256", append([]func(*jwtauth.Config){func(c *jwtauth.Config) {
		c.OnVerify = p.observe // the cache is on by default
	}}, mutate...)...)
	return f, p
}

func TestCache_IsOnByDefaultAndAnswersRepeatedTokens(t *testing.T) {
	f, p := cachedLocal(t)
	tok := f.token(nil, nil)
	c1, err := f.verify(tok)
	require.NoError(t, err)
	assert.False(t, p.cached())
	c2, err := f.verify(tok)
	require.NoError(t, err)
	assert.True(t, p.cached())
	assert.Equal(t, c1.Subject, c2.Subject)
	assert.Equal(t, c1.Scopes, c2.Scopes)
	assert.Equal(t, c1.ExpiresAt, c2.ExpiresAt)
	assert.Equal(t, c1.RawJSON(), c2.RawJSON())
}

func TestCache_RechecksTimesOnEveryHit(t *testing.T) {
	f, p := cachedLocal(t, func(c *jwtauth.Config) { c.MaxAge = 30 * time.Minute })
	tok := f.token(nil, map[string]any{"exp": f.clock.Now().Add(time.Hour).Unix()})
	_, err := f.verify(tok)
	require.NoError(t, err)
	f.clock.Add(20 * time.Minute)
	_, err = f.verify(tok)
	require.NoError(t, err)
	assert.True(t, p.cached())

	f.clock.Add(15 * time.Minute) // iat is now 35 minutes old: past MaxAge + leeway
	_, err = f.verify(tok)
	assert.ErrorIs(t, err, jwtauth.ErrTokenTooOld)
	assert.False(t, p.cached())

	g, q := cachedLocal(t)
	tok = g.token(nil, map[string]any{"exp": g.clock.Now().Add(time.Minute).Unix()})
	_, err = g.verify(tok)
	require.NoError(t, err)
	g.clock.Add(2*time.Minute + time.Second) // past exp + leeway
	_, err = g.verify(tok)
	assert.ErrorIs(t, err, jwt.ErrTokenExpired, "an entry never outlives its token's exp")
	assert.False(t, q.cached())
}

func TestCache_StoresOnlySuccesses(t *testing.T) {
	f, p := cachedLocal(t)
	bad := f.token(nil, map[string]any{"aud": "other"})
	for i := 0; i < 3; i++ {
		_, err := f.verify(bad)
		assert.ErrorIs(t, err, jwt.ErrTokenInvalidAudience)
		assert.False(t, p.cached())
	}
}

func TestCache_SkipsTokensOver4KiB(t *testing.T) {
	f, p := cachedLocal(t)
	big := f.token(nil, map[string]any{"pad": strings.Repeat("x", 4000)})
	require.Greater(t, len(big), 4096)
	for i := 0; i < 2; i++ {
		_, err := f.verify(big)
		require.NoError(t, err)
		assert.False(t, p.cached())
	}
}

func TestCache_HandsOutClaimsThatCannotChangeTheNextHit(t *testing.T) {
	f, _ := cachedLocal(t)
	tok := f.token(nil, nil)
	c1, err := f.verify(tok)
	require.NoError(t, err)
	c1.Scopes[0] = "admin"
	c1.Audience[0] = "other"
	c1.Subject = "root"
	c2, err := f.verify(tok)
	require.NoError(t, err)
	c2.Scopes[0] = "admin"
	c3, err := f.verify(tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"read:messages", "write:messages"}, c3.Scopes)
	assert.Equal(t, []string{testAudience}, c3.Audience)
	assert.Equal(t, "user-1", c3.Subject)
}

// The bound is in bytes: a 256 KiB cache holds about 200 typical entries, so a token verified once and then
// followed by 1,000 others is gone, while a token hit between them keeps its second chance.
func TestCache_EvictsByBytesAndKeepsHotTokens(t *testing.T) {
	f, p := cachedLocal(t, func(c *jwtauth.Config) { c.CacheBytes = 256 << 10 })
	cold := f.token(nil, map[string]any{"jti": "cold"})
	hot := f.token(nil, map[string]any{"jti": "hot"})
	for _, tok := range []string{cold, hot} {
		_, err := f.verify(tok)
		require.NoError(t, err)
	}
	for i := 0; i < 1000; i++ {
		_, err := f.verify(f.token(nil, map[string]any{"jti": fmt.Sprint(i)}))
		require.NoError(t, err)
		_, err = f.verify(hot)
		require.NoError(t, err)
		require.True(t, p.cached(), "the hot token stays cached (after %d others)", i)
	}
	entries, bytes := jwtauth.CacheUsage(f.v)
	assert.LessOrEqual(t, bytes, 256<<10)
	assert.Greater(t, entries, 100, "bytes, not a small entry count, bound it")
	_, err := f.verify(cold)
	require.NoError(t, err)
	assert.False(t, p.cached(), "evicted")
}

// The bytes the cache accounts for are at least what its entries really take on the heap.
func TestCache_AccountsAtLeastTheHeapItUses(t *testing.T) {
	f, _ := cachedLocal(t, func(c *jwtauth.Config) { c.CacheBytes = 4 << 20 })
	toks := make([]string, 1500)
	for i := range toks {
		toks[i] = f.token(nil, map[string]any{"jti": fmt.Sprint(i), "email": fmt.Sprintf("user-%d@example.com", i),
			"roles": []string{"reader", "writer"}})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, tok := range toks {
		_, err := f.verify(tok)
		require.NoError(t, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	entries, bytes := jwtauth.CacheUsage(f.v)
	require.Equal(t, len(toks), entries, "all fit in 4 MiB")
	heap := int(after.HeapAlloc) - int(before.HeapAlloc)
	t.Logf("%d entries: %d bytes accounted (%d each), heap grew %d bytes (%d each)", entries, bytes, bytes/entries, heap, heap/entries)
	assert.LessOrEqual(t, heap, bytes, "the accounting errs high")
	assert.Greater(t, heap, bytes/2, "but not by more than double")
	runtime.KeepAlive(toks)
}

func TestCache_OffChecksEverySignature(t *testing.T) {
	f, p := cachedLocal(t, func(c *jwtauth.Config) { c.CacheBytes = jwtauth.CacheOff })
	tok := f.token(nil, nil)
	for i := 0; i < 3; i++ {
		_, err := f.verify(tok)
		require.NoError(t, err)
		assert.False(t, p.cached())
	}
	entries, _ := jwtauth.CacheUsage(f.v)
	assert.Zero(t, entries)
}

func TestNew_RefusesCacheSettingsWithAHint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*jwtauth.Config)
		want   string
	}{
		{"CacheSize, replaced by CacheBytes", func(c *jwtauth.Config) { c.CacheSize = 1000 },
			"Config.CacheSize is replaced by Config.CacheBytes, a bound in bytes, and the cache is on by default (32 MiB): remove CacheSize 1000, or set CacheBytes"},
		{"CacheSize -1", func(c *jwtauth.Config) { c.CacheSize = -1 }, "or CacheBytes: jwtauth.CacheOff"},
		{"CacheBytes below the minimum", func(c *jwtauth.Config) { c.CacheBytes = 1000 },
			"Config.CacheBytes 1000 is out of range: use 0 (default 32 MiB), at least 256 KiB, or jwtauth.CacheOff (-1) for no cache"},
		{"CacheBytes negative other than CacheOff", func(c *jwtauth.Config) { c.CacheBytes = -2 }, "Config.CacheBytes -2 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{testAudience},
				Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(jwksOf(map[string]string{"k1": "ES256"},
					map[string]crypto.Signer{"k1": testKey("ES256", 0)}))}}}
			tc.mutate(&cfg)
			_, err := jwtauth.New(context.Background(), cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// Many goroutines hitting, storing and evicting in one small cache: run with -race.
func TestCache_ConcurrentHitsStoresAndEvictions(t *testing.T) {
	f, _ := cachedLocal(t, func(c *jwtauth.Config) { c.CacheBytes = 256 << 10 })
	toks := make([]string, 400)
	for i := range toks {
		toks[i] = f.token(nil, map[string]any{"jti": fmt.Sprint(i)})
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				tok := toks[(i*7+g*101)%len(toks)]
				if i%3 != 0 {
					tok = toks[g] // a hot token per goroutine
				}
				c, err := f.verify(tok)
				if !assert.NoError(t, err) {
					return
				}
				c.Scopes[0] = fmt.Sprint("mutated by ", g) // each caller owns its copy
			}
		}()
	}
	wg.Wait()
	c, err := f.verify(toks[0])
	require.NoError(t, err)
	assert.Equal(t, []string{"read:messages", "write:messages"}, c.Scopes)
	_, bytes := jwtauth.CacheUsage(f.v)
	assert.LessOrEqual(t, bytes, 256<<10)
}

func TestCache_DropsEntriesWhoseKeyLeftTheSet(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	p := &cacheProbe{}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.OnVerify = p.observe
		c.JWKS.RefreshInterval = 50 * time.Millisecond
	})
	old := idp.Mint(nil)
	_, err := v.Verify(context.Background(), old)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), old)
	require.NoError(t, err)
	require.True(t, p.cached())

	// a refresh that keeps the key keeps the entry
	fetches := idp.Fetches()
	require.Eventually(t, func() bool { return idp.Fetches() > fetches+1 }, 5*time.Second, 10*time.Millisecond)
	_, err = v.Verify(context.Background(), old)
	require.NoError(t, err)
	assert.True(t, p.cached())

	oldKid := idp.KeyID()
	idp.Rotate()
	idp.Unpublish(oldKid)
	require.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), old)
		return err != nil
	}, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(context.Background(), old)
	assert.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	assert.False(t, p.cached())
}

// A kid that comes back naming another key (a botched rotation, a compromised key replaced in place) must not
// let the cache vouch for tokens of the old key: the entry keeps the key itself, not its kid.
func TestCache_DropsEntriesWhoseKidNowNamesAnotherKey(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	p := &cacheProbe{}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.OnVerify = p.observe
		c.JWKS.RefreshInterval = 50 * time.Millisecond
	})
	tok := idp.Mint(nil)
	for i := 0; i < 2; i++ {
		_, err := v.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	require.True(t, p.cached())

	set, err := json.Marshal(map[string]any{"keys": []any{jwtauthtest.PublicJWK(jwtauthtest.NewKey("ES256").Public(), idp.KeyID(), "ES256")}})
	require.NoError(t, err)
	idp.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	require.Eventually(t, func() bool {
		_, err := v.Verify(context.Background(), tok)
		return err != nil
	}, 5*time.Second, 20*time.Millisecond)
	_, err = v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "checked against the key the kid names now")
	assert.False(t, p.cached())
}

func TestCache_NeverOutlivesTheStaleKeysBound(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	clock := &fixedClock{now: time.Now()}
	p := &cacheProbe{}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.Clock = clock.Now
		c.OnVerify = p.observe
		c.JWKS.MaxStale = time.Hour
		c.JWKS.MaxWait = 100 * time.Millisecond
	})
	tok := idp.Mint(map[string]any{"exp": clock.Now().Add(3 * time.Hour).Unix()})
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	idp.SetFault(jwtauthtest.FaultStatus500)
	clock.Add(61 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
	assert.False(t, p.cached())
}

// Copies keep up to 6 list items inside the one allocation and put longer lists in a second: both kinds are
// private, roles included, and the payload JSON they share cannot be written through RawJSON.
func TestCache_CopiesArePrivateWhateverTheirSize(t *testing.T) {
	for _, n := range []int{1, 12} {
		t.Run(fmt.Sprint(n, " roles"), func(t *testing.T) {
			roles := make([]string, n)
			for i := range roles {
				roles[i] = fmt.Sprint("role-", i)
			}
			f, p := cachedLocal(t, withRoles(jwtauth.RolesAt("roles")))
			tok := f.token(nil, map[string]any{"roles": roles})
			c1, err := f.verify(tok)
			require.NoError(t, err)
			c2, err := f.verify(tok)
			require.NoError(t, err)
			require.True(t, p.cached())
			for _, c := range []*jwtauth.Claims{c1, c2} {
				c.Roles[0], c.Scopes[0], c.Audience[0] = "admin", "admin", "admin"
				_ = append(c.Roles[:1], "appended")
				raw := c.RawJSON()
				copy(raw, "XXXXXXXX")
			}
			c3, err := f.verify(tok)
			require.NoError(t, err)
			assert.True(t, p.cached())
			assert.Equal(t, roles, c3.Roles)
			assert.Equal(t, []string{"read:messages", "write:messages"}, c3.Scopes)
			assert.Equal(t, []string{testAudience}, c3.Audience)
			assert.True(t, json.Valid(c3.RawJSON()))
			sub, err := jwtauth.GetClaim[string](c3, "sub")
			require.NoError(t, err)
			assert.Equal(t, "user-1", sub)
		})
	}
}

func TestCache_CopiesDoNotShareAppendableStorage(t *testing.T) {
	f, _ := cachedLocal(t)
	tok := f.token(nil, map[string]any{"aud": []string{testAudience, "other"}})
	_, err := f.verify(tok)
	require.NoError(t, err)
	c, err := f.verify(tok)
	require.NoError(t, err)
	_ = append(c.Audience, "appended") // must not land in Scopes
	assert.Equal(t, []string{"read:messages", "write:messages"}, c.Scopes)
}

// A10: ECDSA signatures are malleable: (r, n−s) verifies wherever (r, s) does, so the same claims come in two
// token strings. The cache is keyed on the token bytes: the second string is a second entry, both verify to
// identical claims, and neither entry answers for a string it was not made from. Replay and revocation must
// therefore key on jti (or the claims), never on the token bytes.
func TestCache_MalleatedECDSASignatureIsASecondEntryWithTheSameClaims(t *testing.T) {
	f, p := cachedLocal(t)
	tok := f.token(nil, map[string]any{"jti": "id-1"})
	dot := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	require.NoError(t, err)
	require.Len(t, sig, 64)
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	twin := append(append([]byte(nil), sig[:32]...), new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
	malleated := tok[:dot+1] + base64.RawURLEncoding.EncodeToString(twin)
	require.NotEqual(t, tok, malleated)

	c1, err := f.verify(tok)
	require.NoError(t, err)
	assert.False(t, p.cached())
	c2, err := f.verify(malleated)
	require.NoError(t, err, "crypto/ecdsa accepts (r, n-s)")
	assert.False(t, p.cached(), "a second string is a second entry, not a hit on the first")
	for _, tk := range []string{tok, malleated} {
		c, err := f.verify(tk)
		require.NoError(t, err)
		assert.True(t, p.cached(), "both strings are cached")
		assert.Equal(t, c1.RawJSON(), c.RawJSON())
	}
	assert.Equal(t, c1.ID, c2.ID, "jti is the same: key replay and revocation on it")
	assert.Equal(t, c1.Subject, c2.Subject)
	assert.Equal(t, c1.RawJSON(), c2.RawJSON())

	// A third string, (r, s+1), is in neither entry and does not verify.
	bad := append(append([]byte(nil), sig[:32]...), new(big.Int).Add(s, big.NewInt(1)).FillBytes(make([]byte, 32))...)
	_, err = f.verify(tok[:dot+1] + base64.RawURLEncoding.EncodeToString(bad))
	assert.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	assert.False(t, p.cached())
}

func TestEqualConstantTime_FindsADifferenceAtEveryPosition(t *testing.T) {
	for n := 0; n <= 40; n++ {
		a := strings.Repeat("x", n)
		assert.True(t, jwtauth.EqualConstantTime(a, strings.Clone(a)), "length %d", n)
		assert.False(t, jwtauth.EqualConstantTime(a, a+"x"), "length %d and %d", n, n+1)
		for i := 0; i < n; i++ {
			b := []byte(a)
			b[i] ^= 0x80
			assert.False(t, jwtauth.EqualConstantTime(a, string(b)), "length %d, byte %d differs", n, i)
		}
	}
}

// typicalClaims make a token of the size of an Auth0 or Entra ID access token (about 800 bytes in ES256):
// two audiences, azp, RBAC permissions and a namespaced custom claim.
var typicalClaims = map[string]any{
	"aud":                           []string{testAudience, "https://tenant.example.com/userinfo"},
	"azp":                           "kT3e1oiFZ6bS5UzPxG9Lh0cAq2NrWmYd",
	"gty":                           "client-credentials",
	"permissions":                   []string{"read:messages", "write:messages", "read:profile", "delete:messages"},
	"https://example.com/email":     "someone.with.a.long.name@example.com",
	"https://example.com/tenant_id": "6f1c2a9e-4b7d-4e3a-9c21-58d0b7f3a4e6",
}

// BenchmarkVerifyCacheHit measures Verify answered by the cache: the same token every time.
func BenchmarkVerifyCacheHit(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			f := newLocal(b, alg) // the cache is on by default
			tok := f.token(nil, typicalClaims)
			_, err := f.verify(tok)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.verify(tok); err != nil {
					b.Fatal(err)
				}
			}
			_, bytes := jwtauth.CacheUsage(f.v)
			b.ReportMetric(float64(bytes), "entry-B")
			b.ReportMetric(float64(len(tok)), "token-B")
		})
	}
}

// BenchmarkVerifyCacheHitParallel is BenchmarkVerifyCacheHit from every P at once, on one token (one shard,
// one entry): run with -cpu 1,2; ns/op at 2 P about half of 1 P means hits do not contend.
func BenchmarkVerifyCacheHitParallel(b *testing.B) {
	f := newLocal(b, "ES256")
	tok := f.token(nil, typicalClaims)
	_, err := f.verify(tok)
	require.NoError(b, err)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyCacheMiss measures Verify that checks the signature: with the cache off, and with the cache
// on but too small for the tokens cycled through it, so that every verification also stores and evicts.
func BenchmarkVerifyCacheMiss(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		for _, mode := range []string{"off", "evicting"} {
			b.Run(alg+"/"+mode, func(b *testing.B) {
				f := newLocal(b, alg, func(c *jwtauth.Config) {
					c.CacheBytes = jwtauth.CacheOff
					if mode == "evicting" {
						c.CacheBytes = 256 << 10 // about 200 entries for the 256 tokens cycled through
					}
				})
				toks := make([]string, 256)
				for i := range toks {
					toks[i] = f.token(nil, map[string]any{"jti": fmt.Sprint(i), "permissions": typicalClaims["permissions"]})
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := f.verify(toks[i%len(toks)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// One eviction from a shard whose entries are all hot removes exactly one (the bounded loop of evict gives
// every entry its second chance before its step limit).
func TestCache_EvictionFromAnAllHotShardRemovesOne(t *testing.T) {
	assert.Equal(t, 1, jwtauth.EvictFromHotShard(64))
}
