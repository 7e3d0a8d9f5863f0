package jwtauth

import (
	"crypto/sha256"
	"sync"
)

// maxCachedTokenSize keeps unusually large tokens out of the cache, so it cannot be used to pin memory.
const maxCachedTokenSize = 4 << 10

const cacheShards = 16

// tokenCache remembers verified tokens (Config.CacheSize), like Envoy's jwt_cache_config. It is keyed by the
// SHA-256 of the exact token bytes: looking a token up reveals nothing, through timing, about cached tokens.
// Only successful verifications are stored; every hit re-checks the key, the stale bound and the times.
type tokenCache struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu         sync.Mutex
	entries    map[[sha256.Size]byte]*cacheEntry
	head, tail *cacheEntry // most and least recently used
	max        int
}

type cacheEntry struct {
	id         [sha256.Size]byte
	claims     *Claims
	trust      *trust
	key        *pubKey
	set        *keySet // the set key was found in; re-checked when the issuer's set changes
	exp        float64
	nbf, iat   float64
	hasNbf     bool
	hasIat     bool
	prev, next *cacheEntry
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{}
	per := max(1, (size+cacheShards-1)/cacheShards)
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*cacheEntry)
		c.shards[i].max = per
	}
	return c
}

// get returns a private copy of the cached claims when the token is cached and still valid now.
func (c *tokenCache) get(v *Verifier, token string) (*Claims, bool) {
	if len(token) > maxCachedTokenSize {
		return nil, false
	}
	id := sha256.Sum256([]byte(token))
	s := &c.shards[id[0]%cacheShards]
	s.mu.Lock()
	e := s.entries[id]
	if e == nil {
		s.mu.Unlock()
		return nil, false
	}
	s.touch(e)
	set, knownSet := e.set, e.trust
	s.mu.Unlock()

	now := v.now()
	current, err := knownSet.keys.current(now)
	valid := err == nil
	if valid && current != set {
		// The key set was refreshed: the entry stays only while its key is still in the set.
		valid = current.has(e.key)
		if valid {
			s.mu.Lock()
			e.set = current
			s.mu.Unlock()
		}
	}
	if valid {
		f, _ := v.checkTimes(e.exp, e.hasNbf, e.nbf, e.hasIat, e.iat, now)
		valid = f == nil
	}
	if !valid {
		s.mu.Lock()
		if s.entries[id] == e {
			s.remove(e)
		}
		s.mu.Unlock()
		return nil, false
	}
	return e.claims.clone(), true
}

// put stores a verified token. The stored Claims is a private copy, never handed out itself.
func (c *tokenCache) put(token string, claims *Claims, p *payload, t *trust, key *pubKey) {
	set, err := t.keys.current(claims.v.now())
	if err != nil {
		return
	}
	id := sha256.Sum256([]byte(token))
	e := &cacheEntry{
		id:     id,
		claims: claims.clone(),
		trust:  t,
		key:    key,
		set:    set,
		exp:    p.exp,
		nbf:    p.nbf,
		iat:    p.iat,
		hasNbf: p.hasNbf,
		hasIat: p.hasIat,
	}
	s := &c.shards[id[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.entries[id]; old != nil {
		s.remove(old)
	}
	for len(s.entries) >= s.max && s.tail != nil {
		s.remove(s.tail)
	}
	s.entries[id] = e
	s.pushFront(e)
}

func (s *cacheShard) touch(e *cacheEntry) {
	if s.head == e {
		return
	}
	s.unlink(e)
	s.pushFront(e)
}

func (s *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = nil, s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}

func (s *cacheShard) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *cacheShard) remove(e *cacheEntry) {
	s.unlink(e)
	delete(s.entries, e.id)
}
