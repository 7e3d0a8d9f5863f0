package jwtauthredis

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimiter_ConcurrentBurstAllowsExactlyBurst(t *testing.T) {
	c, prefix := testClient(t)
	l := NewLimiter(c, prefix)
	lim := Limit{Rate: 1, Period: time.Hour, Burst: 20}
	var allowed, failed atomic.Int32
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			r, err := l.Allow(context.Background(), "login:ip:203.0.113.7", lim)
			switch {
			case err != nil:
				failed.Add(1)
			case r.Allowed:
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	assert.Equal(t, int32(lim.Burst), allowed.Load())
}

func TestLimiter_RemainingAndRetryAfter(t *testing.T) {
	c, prefix := testClient(t)
	l := NewLimiter(c, prefix)
	ctx := context.Background()
	lim := Limit{Rate: 10, Period: time.Hour, Burst: 3} // one every 6 minutes
	for want := 2; want >= 0; want-- {
		r, err := l.Allow(ctx, "k", lim)
		require.NoError(t, err)
		require.True(t, r.Allowed)
		assert.Equal(t, want, r.Remaining)
		assert.Zero(t, r.RetryAfter)
	}
	r, err := l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	assert.False(t, r.Allowed)
	assert.Zero(t, r.Remaining)
	assert.InDelta(t, 6*time.Minute, r.RetryAfter, float64(time.Second))
	pttl, err := c.PTTL(ctx, l.key("k")).Result()
	require.NoError(t, err)
	assert.InDelta(t, 18*time.Minute, pttl, float64(2*time.Second), "the key lives until the limit has fully recovered")

	r, err = l.Allow(ctx, "other", lim)
	require.NoError(t, err)
	assert.True(t, r.Allowed, "keys are limited separately")
}

func TestLimiter_RecoversAtRate(t *testing.T) {
	c, prefix := testClient(t)
	l := NewLimiter(c, prefix)
	ctx := context.Background()
	lim := Limit{Rate: 10, Period: time.Second, Burst: 1} // one every 100ms
	r, err := l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.True(t, r.Allowed)
	r, err = l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	require.False(t, r.Allowed)
	time.Sleep(r.RetryAfter + 10*time.Millisecond)
	r, err = l.Allow(ctx, "k", lim)
	require.NoError(t, err)
	assert.True(t, r.Allowed, "allowed again after RetryAfter")
}

func TestLimiter_RefusesLimitsThatAreNotRates(t *testing.T) {
	l := NewLimiter(nil, "")
	for _, lim := range []Limit{{0, time.Second, 1}, {1, 0, 1}, {1, time.Second, 0}, {1, -time.Second, 1}} {
		_, err := l.Allow(context.Background(), "k", lim)
		assert.ErrorIs(t, err, errNilClient, "nil client checked first")
	}
	c, prefix := testClient(t)
	l = NewLimiter(c, prefix)
	for _, lim := range []Limit{{0, time.Second, 1}, {1, 0, 1}, {1, time.Second, 0}, {1, -time.Second, 1}, {2_000_000, time.Second, 1}, {1, 1 << 62, 1 << 20}} {
		_, err := l.Allow(context.Background(), "k", lim)
		assert.ErrorContains(t, err, "Limit{", "%+v", lim)
	}
}
