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

func TestReplayStore_ConcurrentAddsOfOneKeyAddOnce(t *testing.T) {
	c, prefix := testClient(t)
	s := NewReplayStore(c, prefix)
	var added, failed atomic.Int32
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() {
			ok, err := s.Add(context.Background(), "proof-jti-hash", time.Minute)
			if err != nil {
				failed.Add(1)
			} else if ok {
				added.Add(1)
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	assert.Equal(t, int32(1), added.Load())
}

func TestReplayStore_KeyExpiresAfterTTL(t *testing.T) {
	c, prefix := testClient(t)
	s := NewReplayStore(c, prefix)
	ctx := context.Background()
	ok, err := s.Add(ctx, "k", 150*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.Add(ctx, "k", 150*time.Millisecond)
	require.NoError(t, err)
	assert.False(t, ok, "present before its ttl")
	pttl, err := c.PTTL(ctx, s.key("k")).Result()
	require.NoError(t, err)
	assert.InDelta(t, 150, pttl.Milliseconds(), 100, "stored with PX ttl")
	require.Eventually(t, func() bool {
		ok, err := s.Add(ctx, "k", time.Minute)
		return err == nil && ok
	}, 5*time.Second, 20*time.Millisecond, "added again once expired")
}

func TestReplayStore_PrefixesAreSeparate(t *testing.T) {
	c, prefix := testClient(t)
	ctx := context.Background()
	ok, err := NewReplayStore(c, prefix+"a:").Add(ctx, "k", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = NewReplayStore(c, prefix+"b:").Add(ctx, "k", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "another prefix is another store")
}

func TestReplayStore_EmptyPrefixIsDefault(t *testing.T) {
	assert.Equal(t, DefaultPrefix+"dpop:", NewReplayStore(nil, "").key("k")[:len(DefaultPrefix)+5])
	_, err := NewReplayStore(nil, "").Add(context.Background(), "k", time.Second)
	assert.ErrorIs(t, err, errNilClient)
}
