package jwtauth

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// maxCachedTokenSize keeps unusually large tokens out of the cache, so it cannot be used to pin memory.
const maxCachedTokenSize = 4 << 10

const cacheShards = 16

// tokenCache remembers verified tokens (Config.CacheSize), like Envoy's jwt_cache_config. Only successful
// verifications are stored, and every hit re-checks what can change with time: the key is still in the issuer's
// current set, the set is within the stale bound, and exp, nbf and the max age hold now.
//
// Entries are found by a hash with a per-process random seed, then the token is compared in full in constant
// time: an attacker can neither aim at a collision nor learn a cached token from how long a lookup takes.
// Eviction is CLOCK (second chance), so a hit only takes a read lock and sets a flag.
type tokenCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[uint64]*cacheEntry
	ring    []*cacheEntry // eviction order; nil slots are free
	hand    int
	max     int
}

type cacheEntry struct {
	token    string
	hash     uint64
	slot     int
	claims   *Claims
	trust    *trust
	key      *pubKey
	set      atomic.Pointer[keySet] // the set key was last seen in
	referred atomic.Bool            // hit since the clock hand last passed
	exp      float64
	nbf, iat float64
	hasNbf   bool
	hasIat   bool
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed()}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[uint64]*cacheEntry, per)
		c.shards[i].ring = make([]*cacheEntry, 0, per)
		c.shards[i].max = per
	}
	return c
}

func (c *tokenCache) shard(h uint64) *cacheShard { return &c.shards[h>>60%cacheShards] }

// get returns a private copy of the cached claims, and the issuer they passed, when the token is cached and
// still valid now.
func (c *tokenCache) get(v *Verifier, token string) (*Claims, *trust, bool) {
	if len(token) > maxCachedTokenSize {
		return nil, nil, false
	}
	h := maphash.String(c.seed, token)
	s := c.shard(h)
	s.mu.RLock()
	e := s.entries[h]
	s.mu.RUnlock()
	if e == nil || !equalConstantTime(e.token, token) {
		return nil, nil, false
	}
	e.referred.Store(true)

	now := v.now()
	valid := false
	if current, err := e.trust.keys.current(now); err == nil {
		valid = current == e.set.Load()
		if !valid && current.has(e.key) {
			// The key set was refreshed and still holds the key.
			e.set.Store(current)
			valid = true
		}
	}
	if valid {
		f, _ := v.checkTimes(e.exp, e.hasNbf, e.nbf, e.hasIat, e.iat, now)
		valid = f == nil
	}
	if !valid {
		s.mu.Lock()
		s.remove(e)
		s.mu.Unlock()
		return nil, nil, false
	}
	return e.claims.clone(), e.trust, true
}

// put stores a verified token with a private copy of its claims.
func (c *tokenCache) put(token string, claims *Claims, p *payload, t *trust, key *pubKey) {
	set, err := t.keys.current(claims.v.now())
	if err != nil {
		return
	}
	e := &cacheEntry{
		token:  token,
		hash:   maphash.String(c.seed, token),
		claims: claims.clone(),
		trust:  t,
		key:    key,
		exp:    p.exp,
		nbf:    p.nbf,
		iat:    p.iat,
		hasNbf: p.hasNbf,
		hasIat: p.hasIat,
	}
	e.set.Store(set)
	s := c.shard(e.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.entries[e.hash]; old != nil {
		s.remove(old)
	}
	e.slot = s.freeSlot()
	s.ring[e.slot] = e
	s.entries[e.hash] = e
}

// freeSlot returns a free ring slot, evicting with the clock hand when the shard is full: an entry hit since
// the hand last passed gets a second chance. s.mu is held.
func (s *cacheShard) freeSlot() int {
	if len(s.ring) < s.max {
		s.ring = append(s.ring, nil)
		return len(s.ring) - 1
	}
	for {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		e := s.ring[i]
		if e == nil {
			return i
		}
		if e.referred.Swap(false) {
			continue
		}
		s.remove(e)
		return i
	}
}

// remove drops e if it is still the entry for its hash. s.mu is held.
func (s *cacheShard) remove(e *cacheEntry) {
	if s.entries[e.hash] != e {
		return
	}
	delete(s.entries, e.hash)
	s.ring[e.slot] = nil
}

// equalConstantTime compares two strings in time that depends only on their length.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}
