package jwtauth_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"fmt"
	"math/big"
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
		c.CacheSize = 64
		c.OnVerify = p.observe
	}}, mutate...)...)
	return f, p
}

func TestCache_AnswersRepeatedTokens(t *testing.T) {
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

func TestCache_IsBoundedLRU(t *testing.T) {
	f, p := cachedLocal(t, func(c *jwtauth.Config) { c.CacheSize = 16 })
	first := f.token(nil, map[string]any{"jti": "first"})
	_, err := f.verify(first)
	require.NoError(t, err)
	for i := 0; i < 200; i++ {
		_, err := f.verify(f.token(nil, map[string]any{"jti": fmt.Sprint(i)}))
		require.NoError(t, err)
	}
	_, err = f.verify(first)
	require.NoError(t, err)
	assert.False(t, p.cached(), "evicted")
}

func TestCache_DropsEntriesWhoseKeyLeftTheSet(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	p := &cacheProbe{}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.CacheSize = 64
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

func TestCache_NeverOutlivesTheStaleKeysBound(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	clock := &fixedClock{now: time.Now()}
	p := &cacheProbe{}
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.Clock = clock.Now
		c.CacheSize = 64
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
