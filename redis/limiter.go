package jwtauthredis

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a rate: Rate requests per Period on average, with bursts of up to Burst at once. Rate 10, Period
// time.Minute, Burst 5 allows 5 requests at once, then one every 6 seconds.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// Result is the outcome of Limiter.Allow.
type Result struct {
	// Allowed reports whether the request is within the limit (and was counted).
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is how long until the next request is allowed; zero when Allowed.
	RetryAfter time.Duration
}

// Limiter is a rate limiter in Redis shared by every replica using the same Redis and prefix, so N replicas
// allow a limit's requests in total, not N times as many. Each Allow is one Lua script implementing GCRA
// (the generic cell rate algorithm: one timestamp per key, in Redis's own clock), atomic across replicas.
// Keys expire once their limit has fully recovered. It is safe for concurrent use.
//
// On error (Redis unreachable, timeout, ctx done) the caller decides: a login server usually allows the
// request and logs a warning, since a rate limit is a defence in depth, not an authorization check.
type Limiter struct {
	c      redis.UniversalClient
	prefix string
}

// NewLimiter returns a Limiter on c whose keys start with prefix ("" means DefaultPrefix).
func NewLimiter(c redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{c: c, prefix: normPrefix(prefix)}
}

// gcraScript: KEYS[1] holds the theoretical arrival time (TAT) in microseconds of Redis's clock. ARGV are the
// emission interval and burst in microseconds (Period/Rate, and interval*Burst). Returns {allowed,
// remaining, retry_after_us}. A refused request changes nothing.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local diff = now - (new_tat - burst)
if diff < 0 then
  return {0, 0, math.ceil(-diff)}
end
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)), 'PX', string.format('%d', math.max(1, math.ceil((new_tat - now) / 1000))))
return {1, math.floor(diff / interval), 0}
`)

// Allow counts one request for key against l and reports whether it is allowed. key names what is limited
// ("login:ip:203.0.113.7"); it is hashed, so any length and any characters are fine. A Limit with Rate,
// Period or Burst below 1 (or Period below a microsecond per request) is refused with an error.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (Result, error) {
	if l.c == nil {
		return Result{}, errNilClient
	}
	if lim.Rate < 1 || lim.Period <= 0 || lim.Burst < 1 {
		return Result{}, fmt.Errorf("jwtauthredis: Limit{Rate: %d, Period: %v, Burst: %d} is not a rate: Rate and Burst must be at least 1 and Period positive", lim.Rate, lim.Period, lim.Burst)
	}
	interval := lim.Period.Microseconds() / int64(lim.Rate)
	if interval < 1 {
		return Result{}, fmt.Errorf("jwtauthredis: Limit{Rate: %d, Period: %v} allows more than one request per microsecond: lower Rate or lengthen Period", lim.Rate, lim.Period)
	}
	if interval > math.MaxInt64/int64(lim.Burst) {
		return Result{}, fmt.Errorf("jwtauthredis: Limit{Rate: %d, Period: %v, Burst: %d} is too long a window to compute: shorten Period or lower Burst", lim.Rate, lim.Period, lim.Burst)
	}
	v, err := gcraScript.Run(ctx, l.c, []string{l.key(key)}, interval, interval*int64(lim.Burst)).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("jwtauthredis: rate limit %s: %w", quote(key), err)
	}
	if len(v) != 3 {
		return Result{}, fmt.Errorf("jwtauthredis: rate limit script returned %d values, want 3", len(v))
	}
	return Result{Allowed: v[0] == 1, Remaining: int(v[1]), RetryAfter: time.Duration(v[2]) * time.Microsecond}, nil
}

func (l *Limiter) key(k string) string { return key(l.prefix, "rate", k) }
