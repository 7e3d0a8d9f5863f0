package jwtauthredis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const iss = jwtauthtest.ClaimsIssuer

func claims(t *testing.T, m map[string]any) *jwtauth.Claims {
	t.Helper()
	return jwtauthtest.Claims(t, m)
}

func revoked(t *testing.T, d *Denylist, c *jwtauth.Claims) bool {
	t.Helper()
	r, err := d.Revoked(context.Background(), c)
	require.NoError(t, err)
	return r
}

func TestDenylist_RevokeToken(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	tok := claims(t, map[string]any{"sub": "u1", "jti": "j1", "exp": exp.Unix()})
	require.False(t, revoked(t, d, tok))
	require.NoError(t, d.RevokeToken(ctx, iss, "j1", exp))
	assert.True(t, revoked(t, d, tok))
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "jti": "j2"})), "another jti")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://other.example/", "sub": "u1", "jti": "j1"})), "same jti of another issuer")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1"})), "no jti")

	pttl, err := c.PTTL(ctx, d.tokenKey(iss, "j1")).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Until(exp.Add(jwtauth.MaxLeeway)), pttl, float64(2*time.Second), "kept until exp plus MaxLeeway")
}

func TestDenylist_RevokeSubjectIssuedBeforeBoundary(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	before := time.Now().Truncate(time.Second).Add(-time.Minute)
	require.NoError(t, d.RevokeSubject(ctx, iss, "u1", before, before.Add(time.Hour)))
	for _, tc := range []struct {
		name    string
		claims  map[string]any
		revoked bool
	}{
		{"issued earlier", map[string]any{"sub": "u1", "iat": before.Add(-time.Second).Unix()}, true},
		{"issued in the second of issuedBefore", map[string]any{"sub": "u1", "iat": before.Unix()}, true},
		{"issued a second later", map[string]any{"sub": "u1", "iat": before.Add(time.Second).Unix()}, false},
		{"no iat", map[string]any{"sub": "u1", "iat": nil}, true},
		{"another subject", map[string]any{"sub": "u2", "iat": before.Add(-time.Second).Unix()}, false},
		{"same subject of another issuer", map[string]any{"iss": "https://other.example/", "sub": "u1", "iat": before.Add(-time.Second).Unix()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.revoked, revoked(t, d, claims(t, tc.claims)))
		})
	}
}

func TestDenylist_RevokeSubjectAgainNeverMovesBack(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	require.NoError(t, d.RevokeSubject(ctx, iss, "u1", now, now.Add(2*time.Hour)))
	require.NoError(t, d.RevokeSubject(ctx, iss, "u1", now.Add(-time.Hour), now.Add(time.Hour)))
	assert.True(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "iat": now.Add(-time.Minute).Unix()})), "issuedBefore kept at the later time")
	pttl, err := c.PTTL(ctx, d.subjectKey(iss, "u1")).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Until(now.Add(2*time.Hour+jwtauth.MaxLeeway)), pttl, float64(2*time.Second), "expiry kept at the later time")
}

func TestDenylist_ConcurrentRevocationsKeepTheLatest(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	base := time.Now().Truncate(time.Second).Add(-time.Hour)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			at := base.Add(time.Duration(i) * time.Second)
			assert.NoError(t, d.RevokeSubject(context.Background(), iss, "u1", at, at.Add(time.Hour)))
		})
	}
	wg.Wait()
	last := base.Add(199 * time.Second)
	assert.True(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "iat": last.Unix()})), "the latest issuedBefore won")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "iat": last.Add(time.Second).Unix()})))
	pttl, err := c.PTTL(context.Background(), d.subjectKey(iss, "u1")).Result()
	require.NoError(t, err)
	assert.InDelta(t, time.Until(last.Add(time.Hour+jwtauth.MaxLeeway)), pttl, float64(2*time.Second), "and the latest expiry")
}

func TestDenylist_RevokeSession(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	require.NoError(t, d.RevokeSession(ctx, iss, "s1", time.Now().Add(time.Hour)))
	assert.True(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "sid": "s1"})))
	assert.True(t, revoked(t, d, claims(t, map[string]any{"sub": "u2", "sid": "s1", "iat": time.Now().Add(time.Minute).Unix()})), "whenever issued")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "sid": "s2"})))
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1"})), "no sid")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://other.example/", "sub": "u1", "sid": "s1"})), "other issuer unaffected")
	assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "u1", "SID": "s1"})), "only the claim named exactly sid")

	_, err := d.Revoked(ctx, claims(t, map[string]any{"sub": "u1", "sid": 7}))
	assert.ErrorContains(t, err, "sid claim is not a string", "fails closed rather than skip the check")
}

func TestDenylist_ExpiredRevocationsAreNotStored(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	past := time.Now().Add(-jwtauth.MaxLeeway - time.Minute)
	require.NoError(t, d.RevokeToken(ctx, iss, "j1", past))
	require.NoError(t, d.RevokeSubject(ctx, iss, "u1", past.Add(-time.Hour), past))
	require.NoError(t, d.RevokeSession(ctx, iss, "s1", past))
	n, err := c.Exists(ctx, d.tokenKey(iss, "j1"), d.subjectKey(iss, "u1"), d.sessionKey(iss, "s1")).Result()
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestDenylist_EntriesExpire(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	// Expires (with MaxLeeway) 300ms from now.
	require.NoError(t, d.RevokeSession(ctx, iss, "s1", time.Now().Add(-jwtauth.MaxLeeway+300*time.Millisecond)))
	tok := claims(t, map[string]any{"sub": "u1", "sid": "s1"})
	require.True(t, revoked(t, d, tok))
	require.Eventually(t, func() bool { return !revoked(t, d, tok) }, 5*time.Second, 20*time.Millisecond)
}

func TestDenylist_RevokeNeedsIssuerAndID(t *testing.T) {
	d := NewDenylist(nil, "")
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	assert.ErrorContains(t, d.RevokeToken(ctx, "", "j", exp), "needs the token's issuer and jti")
	assert.ErrorContains(t, d.RevokeToken(ctx, iss, "", exp), "needs the token's issuer and jti")
	assert.ErrorContains(t, d.RevokeSubject(ctx, iss, "", exp, exp), "needs the issuer and subject")
	assert.ErrorContains(t, d.RevokeSession(ctx, iss, "", exp), "needs the issuer and sid")
	assert.ErrorIs(t, d.RevokeSession(ctx, iss, "s", exp), errNilClient)
}

// The pipeline's first error is the jti lookup's redis.Nil (not revoked); a later GET that fails must not
// hide behind it, or a subject revocation that cannot be read would let the token through.
func TestDenylist_FailsClosedWhenALaterLookupFails(t *testing.T) {
	c, prefix := testClient(t)
	d := NewDenylist(c, prefix)
	ctx := context.Background()
	require.NoError(t, c.HSet(ctx, d.subjectKey(iss, "u1"), "f", "v").Err()) // GET on it: WRONGTYPE
	r, err := d.Revoked(ctx, claims(t, map[string]any{"sub": "u1", "jti": "j1"}))
	assert.Error(t, err, "an unreadable subject entry is an error, not 'not revoked'")
	assert.False(t, r)
}

// A zero issuedBefore would store 0 and revoke only tokens without iat: refused instead of a silent no-op.
func TestDenylist_RevokeSubjectRefusesAZeroIssuedBefore(t *testing.T) {
	d := NewDenylist(nil, "")
	err := d.RevokeSubject(context.Background(), iss, "alice", time.Time{}, time.Now().Add(time.Hour))
	assert.ErrorContains(t, err, "pass time.Now()")
}
