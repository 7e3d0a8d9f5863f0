package jwtauth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func claimsOf(iss, sub, jti string, iat time.Time) *jwtauth.Claims {
	return &jwtauth.Claims{Issuer: iss, Subject: sub, ID: jti, IssuedAt: iat}
}

func TestRevocationList_RevokesByIDAndBySubjectIssuedBefore(t *testing.T) {
	clock := newClock()
	l := jwtauth.NewRevocationList(10, clock.Now)
	now := clock.Now()
	require.NoError(t, l.RevokeToken("iss", "jti-1", now.Add(time.Hour)))
	require.NoError(t, l.RevokeSubject("iss", "user-2", now, now.Add(time.Hour)))

	for _, tc := range []struct {
		name string
		c    *jwtauth.Claims
		want bool
	}{
		{"revoked jti", claimsOf("iss", "user-1", "jti-1", now), true},
		{"same jti of another issuer", claimsOf("other", "user-1", "jti-1", now), false},
		{"other jti", claimsOf("iss", "user-1", "jti-2", now), false},
		{"subject: iat before", claimsOf("iss", "user-2", "a", now.Add(-time.Second)), true},
		{"subject: iat equal (same second counts as before)", claimsOf("iss", "user-2", "b", now), true},
		{"subject: iat after", claimsOf("iss", "user-2", "c", now.Add(time.Second)), false},
		{"subject: no iat", claimsOf("iss", "user-2", "d", time.Time{}), true},
		{"subject of another issuer", claimsOf("other", "user-2", "e", now.Add(-time.Second)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := l.Revoked(context.Background(), tc.c)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRevocationList_SubjectRevokedAgainMovesForwardOnly(t *testing.T) {
	clock := newClock()
	l := jwtauth.NewRevocationList(10, clock.Now)
	now := clock.Now()
	require.NoError(t, l.RevokeSubject("iss", "u", now, now.Add(time.Hour)))
	require.NoError(t, l.RevokeSubject("iss", "u", now.Add(-time.Hour), now.Add(time.Hour)))
	got, _ := l.Revoked(context.Background(), claimsOf("iss", "u", "", now))
	assert.True(t, got, "an older issuedBefore must not shrink the revocation")
	assert.Equal(t, 1, l.Len())
}

func TestRevocationList_EntriesExpireAfterTheTokensPlusMaxLeeway(t *testing.T) {
	clock := newClock()
	l := jwtauth.NewRevocationList(10, clock.Now)
	exp := clock.Now().Add(time.Minute)
	require.NoError(t, l.RevokeToken("iss", "j", exp))
	c := claimsOf("iss", "u", "j", clock.Now())

	clock.Add(time.Minute + jwtauth.MaxLeeway - time.Second)
	got, _ := l.Revoked(context.Background(), c)
	assert.True(t, got, "a token within exp+leeway can still be accepted, so its revocation must hold")

	clock.Add(2 * time.Second)
	got, _ = l.Revoked(context.Background(), c)
	assert.False(t, got)
	require.NoError(t, l.RevokeToken("iss", "other", clock.Now().Add(time.Hour)))
	assert.Equal(t, 1, l.Len(), "the expired entry is dropped")

	assert.NoError(t, l.RevokeToken("iss", "long-expired", clock.Now().Add(-time.Hour)))
	assert.Equal(t, 1, l.Len(), "a token past exp+MaxLeeway needs no entry")
}

func TestRevocationList_FloodIsBoundedAndFailsClosed(t *testing.T) {
	clock := newClock()
	l := jwtauth.NewRevocationList(1000, clock.Now)
	exp := clock.Now().Add(15 * time.Minute)
	var full int
	for i := range 100_000 {
		err := l.RevokeToken("iss", fmt.Sprint("j", i), exp)
		if err != nil {
			require.ErrorIs(t, err, jwtauth.ErrRevocationListFull)
			full++
		}
	}
	assert.Equal(t, 1000, l.Len())
	assert.Equal(t, 99_000, full)
	// Nothing was evicted: the first revocation still holds.
	got, _ := l.Revoked(context.Background(), claimsOf("iss", "u", "j0", clock.Now()))
	assert.True(t, got)
	// Updating an existing entry still works when full.
	assert.NoError(t, l.RevokeToken("iss", "j0", exp.Add(time.Hour)))
	// Once the tokens expire, room comes back.
	clock.Add(15*time.Minute + jwtauth.MaxLeeway + time.Second)
	assert.NoError(t, l.RevokeToken("iss", "new", clock.Now().Add(time.Hour)))
	assert.Equal(t, 2, l.Len(), "j0 (extended) and new")
}

func TestRevocationList_NeedsIssuerAndKey(t *testing.T) {
	l := jwtauth.NewRevocationList(10, nil)
	assert.Error(t, l.RevokeToken("", "j", time.Now().Add(time.Hour)))
	assert.Error(t, l.RevokeToken("iss", "", time.Now().Add(time.Hour)))
	assert.Error(t, l.RevokeSubject("iss", "", time.Now(), time.Now().Add(time.Hour)))
	assert.Equal(t, 0, l.Len())
}

// failingRevocations is a revocation store that is down.
type failingRevocations struct{}

func (failingRevocations) Revoked(context.Context, *jwtauth.Claims) (bool, error) {
	return false, errors.New("connection refused")
}

func TestVerify_RevokedTokenIsRefusedAlsoOnCacheHit(t *testing.T) {
	var l *jwtauth.RevocationList
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		l = jwtauth.NewRevocationList(10, nil)
		c.Revocations = l
	})
	tok := f.token(nil, map[string]any{"jti": "j1"})
	_, err := f.verify(tok)
	require.NoError(t, err)
	_, err = f.verify(tok) // now cached
	require.NoError(t, err)

	require.NoError(t, l.RevokeToken(testIssuer, "j1", f.clock.Now().Add(time.Hour)))
	_, err = f.verify(tok)
	require.ErrorIs(t, err, jwtauth.ErrTokenRevoked)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 401, e.Status())
	assert.Equal(t, "token revoked", e.Description())
}

func TestVerify_RevocationStoreErrorFailsClosed(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Revocations = failingRevocations{} })
	_, err := f.verify(f.token(nil, nil))
	require.ErrorIs(t, err, jwtauth.ErrRevocationUnavailable)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 503, e.Status())
	assert.Equal(t, "temporarily_unavailable", e.Code())
	assert.NotContains(t, e.Description(), "connection refused", "the store's error stays in logs")
}

func TestVerify_RevocationsAskedOnlyAboutOtherwiseValidTokens(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Revocations = failingRevocations{} })
	_, err := f.verify(f.token(nil, map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix()}))
	assert.ErrorIs(t, err, jwt.ErrTokenExpired, "an expired token is refused as expired, before the store is asked")
}
