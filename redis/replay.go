package jwtauthredis

import (
	"context"
	"fmt"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/redis/go-redis/v9"
)

// ReplayStore is a jwtauth.ReplayStore in Redis, for DPoPOptions.Replay: replicas sharing it refuse a DPoP
// proof that any of them has accepted. Add is one SET NX PX, atomic across replicas. It is safe for
// concurrent use.
type ReplayStore struct {
	c      redis.UniversalClient
	prefix string
}

var _ jwtauth.ReplayStore = (*ReplayStore)(nil)

// NewReplayStore returns a ReplayStore on c whose keys start with prefix ("" means DefaultPrefix).
func NewReplayStore(c redis.UniversalClient, prefix string) *ReplayStore {
	return &ReplayStore{c: c, prefix: normPrefix(prefix)}
}

// Add implements jwtauth.ReplayStore: it stores key for ttl (at least a millisecond) unless it is already
// stored, and reports whether it stored it. An error (Redis unreachable, timeout, ctx done) makes the
// Verifier refuse the request with 503 rather than risk accepting a replay.
func (s *ReplayStore) Add(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.c == nil {
		return false, errNilClient
	}
	ttl = max(ttl, time.Millisecond)
	ok, err := s.c.SetNX(ctx, s.key(key), "1", ttl.Round(time.Millisecond)).Result()
	if err != nil {
		return false, fmt.Errorf("jwtauthredis: DPoP replay store: %w", err)
	}
	return ok, nil
}

func (s *ReplayStore) key(k string) string { return key(s.prefix, "dpop", k) }
