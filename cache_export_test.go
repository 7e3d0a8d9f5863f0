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
