package jwtauth

// CacheUsage reports how many entries the verified-token cache of v holds and the bytes they account for.
func CacheUsage(v *Verifier) (entries, bytes int) {
	if v.cache == nil {
		return 0, 0
	}
	for i := range v.cache.shards {
		s := &v.cache.shards[i]
		s.mu.Lock()
		entries += s.n
		bytes += s.used
		s.mu.Unlock()
	}
	return entries, bytes
}

// EqualConstantTime is the token comparison of cache hits.
var EqualConstantTime = equalConstantTime

// EvictFromHotShard runs evict once on a shard of n entries, every one of them hit since the hand last
// passed, and reports how many entries it removed.
func EvictFromHotShard(n int) (removed int) {
	s := &cacheShard{ring: make([]*cacheEntry, n)}
	for i := range s.ring {
		e := &cacheEntry{hash: uint64(i), slot: i}
		e.referred.Store(true)
		s.entries.Store(e.hash, e)
		s.ring[i] = e
		s.n++
	}
	s.evict()
	return n - s.n
}
