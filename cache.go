package jwtauth

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DefaultCacheBytes bounds the verified-token cache when Config.CacheBytes is zero: about 13,000 typical
// access tokens (an entry is its token, its payload JSON, its claims and about 650 bytes of bookkeeping:
// 2.3 KiB for a 790-byte ES256 token, 2.6 KiB for a 1,050-byte RS256 one), so 10,000 clients all hit.
const DefaultCacheBytes = 32 << 20

// CacheOff, as Config.CacheBytes, turns the verified-token cache off: every Verify checks the signature.
const CacheOff = -1

// minCacheBytes gives every shard room for the largest cacheable entry several times over.
const minCacheBytes = 256 << 10

// maxCachedTokenSize keeps unusually large tokens out of the cache, so it cannot be used to pin memory.
const maxCachedTokenSize = 4 << 10

const cacheShards = 16

// entryOverhead is what an entry costs besides its variable-length bytes: the entry and its Claims copy,
// its sync.Map node (the node, the boxed key and its share of the trie's inner nodes: about 96 bytes), its
// ring and free-list slots, and rounding to the allocator's size classes (up to 1/8 of each allocation,
// added by entrySize for the variable part).
const entryOverhead = int(unsafe.Sizeof(cacheEntry{})+unsafe.Sizeof(ownedClaims{})) + 96 + 8 + 8

// tokenCache remembers verified tokens (Config.CacheBytes), like Envoy's jwt_cache_config. Only successful
// verifications are stored, and every hit re-checks what can change with time: the key is still in the issuer's
// current set, the set is within the stale bound, and exp, nbf and the max age hold now.
//
// Entries are found by a hash with a per-process random seed, then the token is compared in full in constant
// time: an attacker can neither aim at a collision nor learn a cached token from how long a lookup takes.
// Each of 16 shards holds at most 1/16 of the byte bound, counted from each entry's real size. A hit takes
// no lock: entries are found in a sync.Map (lock-free loads), and only stores and evictions take the shard's
// mutex. Eviction is CLOCK (second chance), so a hit at most sets a flag, once per pass of the hand.
type tokenCache struct {
	seed   maphash.Seed
	budget int // bytes per shard
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	entries sync.Map // uint64 hash → *cacheEntry; written only with mu held
	mu      sync.Mutex
	ring    []*cacheEntry // eviction order; nil slots are free
	free    []int         // the nil slots of ring
	hand    int
	used    int      // bytes of the entries held
	n       int      // entries held
	_       [64]byte // keeps each shard's mutex on its own cache line
}

type cacheEntry struct {
	token    string
	hash     uint64
	slot     int
	size     int
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

func newTokenCache(bytes int) *tokenCache {
	return &tokenCache{seed: maphash.MakeSeed(), budget: bytes / cacheShards}
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
	v0, _ := s.entries.Load(h)
	e, _ := v0.(*cacheEntry)
	if e == nil || !equalConstantTime(e.token, token) {
		return nil, nil, false
	}
	if !e.referred.Load() { // a hot entry's flag is already set: no write, so no cache-line ping-pong
		e.referred.Store(true)
	}

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

// put stores a verified token with a private copy of its claims, evicting until its shard has room for it.
func (c *tokenCache) put(token string, claims *Claims, p *payload, t *trust, key *pubKey) {
	size := entrySize(token, claims)
	if size > c.budget {
		return
	}
	set, err := t.keys.current(claims.v.now())
	if err != nil {
		return
	}
	e := &cacheEntry{
		token:  strings.Clone(token), // not a slice of a larger request buffer that the entry would pin
		hash:   maphash.String(c.seed, token),
		size:   size,
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
	if old, ok := s.entries.Load(e.hash); ok {
		s.remove(old.(*cacheEntry))
	}
	for s.used+size > c.budget {
		s.evict()
	}
	if n := len(s.free); n > 0 {
		e.slot = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		e.slot = len(s.ring)
		s.ring = append(s.ring, nil)
	}
	s.ring[e.slot] = e
	s.entries.Store(e.hash, e)
	s.used += size
	s.n++
}

// evict removes one entry with the clock hand: an entry hit since the hand last passed gets a second chance.
// The shard holds an entry (used > 0), so this ends within two turns of the ring. s.mu is held.
func (s *cacheShard) evict() {
	// Bounded: hits on other cores can set flags again behind the hand, so after two full turns the first
	// entry under the hand goes whatever its flag; a third turn finding none means the ring is empty.
	for step := 0; step < 3*len(s.ring); step++ {
		e := s.ring[s.hand]
		s.hand = (s.hand + 1) % len(s.ring)
		if e == nil || (step < 2*len(s.ring) && e.referred.Swap(false)) {
			continue
		}
		s.remove(e)
		return
	}
}

// remove drops e if it is still the entry for its hash. s.mu is held.
func (s *cacheShard) remove(e *cacheEntry) {
	if !s.entries.CompareAndDelete(e.hash, e) {
		return
	}
	s.ring[e.slot] = nil
	s.n--
	s.free = append(s.free, e.slot)
	s.used -= e.size
}

// entrySize is the memory an entry of token with claims c holds: the token copy, the payload JSON's whole
// buffer (shared by every copy handed out, never written), the claim strings and slices, and the fixed overhead, plus 1/8 for
// the allocator's rounding. It counts strings that may share memory with the payload as separate, so it errs
// high.
func entrySize(token string, c *Claims) int {
	n := len(token) + cap(c.raw) + len(c.Issuer) + len(c.Subject) + len(c.ID) + len(c.KeyID) + len(c.Algorithm) +
		len(c.DPoPThumbprint) + len(c.cnf.x5t) + len(c.cnf.jkt)
	for _, list := range [...][]string{c.Audience, c.Scopes, c.Roles} {
		n += len(list) * int(unsafe.Sizeof(""))
		for _, s := range list {
			n += len(s)
		}
	}
	return entryOverhead + n + n/8
}

// equalConstantTime compares two strings in time that depends only on their length, eight bytes at a time
// (the compiler merges load64's byte loads into one): a byte loop was the largest cost of a cache hit.
func equalConstantTime(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		d |= load64(a, i) ^ load64(b, i)
	}
	for ; i < len(a); i++ {
		d |= uint64(a[i] ^ b[i])
	}
	return d == 0
}

func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
