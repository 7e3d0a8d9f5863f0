package main

// Shared state in Redis (REDIS_URL): with several replicas behind a load balancer, the rate limits, the DPoP
// replay store and the revocations that API replicas check must be the same for all of them. Without
// REDIS_URL each process keeps its own, in memory (ratelimit.go, jwtauth's built-in replay store), and
// revocations reach only this server (through the database, refresh.go).
//
// When Redis is unreachable, each use fails its own way (README.md, "Redis"):
//   - rate limits and the per-email lockout fail open: the request is let through, and one WARN per
//     outageLogEvery says so (a limit is a defence in depth; refusing every login while Redis is down would be
//     an outage of its own);
//   - the DPoP replay check fails closed: 503 with Retry-After (a proof that may be a replay is never
//     accepted);
//   - publishing a revocation fails loudly: the session is revoked in the database all the same (so this server
//     refuses its tokens and its refresh tokens), but the request is answered 503, since API replicas may
//     accept the access tokens until they expire.
// Every call is tried again on the next request: recovery needs no restart.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtauth-go/jwtauth"
	jwtauthredis "github.com/jwtauth-go/jwtauth/redis"
	"github.com/redis/go-redis/v9"
)

const (
	// outageLogEvery is how often an outage of Redis is logged again while it lasts.
	outageLogEvery = time.Minute
	// redisLimitTimeout bounds a rate-limit call: a Redis that is slow costs a request at most this before the
	// limit fails open.
	redisLimitTimeout = time.Second
	// redisPublishTimeout bounds the publication of a revocation.
	redisPublishTimeout = 2 * time.Second
)

// redisConfig is REDIS_URL and REDIS_PREFIX.
type redisConfig struct {
	URL    string // "": no Redis, state in process
	Prefix string // "": jwtauthredis.DefaultPrefix
}

func loadRedisConfig(getenv func(string) string) (redisConfig, []error) {
	c := redisConfig{URL: strings.TrimSpace(getenv("REDIS_URL")), Prefix: strings.TrimSpace(getenv("REDIS_PREFIX"))}
	var errs []error
	if c.URL == "" {
		if c.Prefix != "" {
			errs = append(errs, errors.New("REDIS_PREFIX is set but REDIS_URL is not: set REDIS_URL (redis://host:6379/0) or unset REDIS_PREFIX"))
		}
		return c, errs
	}
	if _, err := redis.ParseURL(c.URL); err != nil {
		// Never quote the URL: it may hold a password.
		errs = append(errs, errors.New("REDIS_URL is not a Redis URL: use redis://[user:password@]host:port/db, rediss://... for TLS, or unix:///path"))
	}
	return c, errs
}

// revocationPublisher tells API replicas about revocations: jwtauthredis.Denylist, nil without Redis.
type revocationPublisher interface {
	RevokeSession(ctx context.Context, issuer, sid string, latestExpiry time.Time) error
	RevokeSubject(ctx context.Context, issuer, subject string, issuedBefore, latestExpiry time.Time) error
}

// sharedState is what the replicas share: in process without Redis, in Redis with it.
type sharedState struct {
	loginIP, registerIP, registerGlobal, refreshIP rateLimit
	emails                                         failureLimit
	replay                                         jwtauth.ReplayStore // nil: the built-in store of each verifier
	denylist                                       revocationPublisher // nil: revocations reach this server only
	client                                         *redis.Client       // nil without Redis; closed by close
}

// newSharedState builds the limits (and, with Redis, the replay store and the denylist). An unreachable Redis
// at start is logged, not fatal: each use behaves as documented until it is back.
func newSharedState(ctx context.Context, cfg config, attemptTTL time.Duration, log *slog.Logger) (*sharedState, error) {
	l := cfg.Limits.withDefaults()
	now := cmpClock(cfg.Clock)
	if cfg.Redis.URL == "" {
		login := newLoginLimiter(cfg.Limits, cfg.Clock)
		regIPs := newLoginLimiter(limits{IPBurst: l.RegisterIPBurst, MaxKeys: l.MaxKeys}, cfg.Clock)
		regIPs.ipRate = perSecond(l.RegisterIPPerHour, time.Hour)
		refresh := newLoginLimiter(limits{IPPerMinute: l.RefreshIPPerMinute, IPBurst: l.RefreshIPBurst, MaxKeys: l.MaxKeys}, cfg.Clock)
		return &sharedState{
			loginIP:        ipLimit{login},
			emails:         emailLimit{login},
			registerIP:     ipLimit{regIPs},
			registerGlobal: newGlobalLimit(l.RegisterPerMinute, time.Minute, l.RegisterBurst, now),
			refreshIP:      ipLimit{refresh},
		}, nil
	}
	c, err := jwtauthredis.Open(cfg.Redis.URL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, redisLimitTimeout)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		log.Warn("Redis unreachable at start: rate limits fail open, DPoP logins answer 503 and logouts 503 until it is back",
			"err", err)
	} else {
		log.Info("shared state in Redis: rate limits, DPoP replay store, revocation denylist", "prefix", prefixOrDefault(cfg.Redis.Prefix))
	}
	lim := jwtauthredis.NewLimiter(c, cfg.Redis.Prefix)
	outage := &outageLog{log: log, down: "rate limits are not enforced (fail open)", up: "rate limits are enforced", now: now}
	limit := func(name string, rate int, per time.Duration, burst int) rateLimit {
		return redisLimit{l: lim, name: name, lim: jwtauthredis.Limit{Rate: rate, Period: per, Burst: burst}, outage: outage}
	}
	return &sharedState{
		loginIP:        limit("login:ip", l.IPPerMinute, time.Minute, l.IPBurst),
		registerIP:     limit("register:ip", l.RegisterIPPerHour, time.Hour, l.RegisterIPBurst),
		registerGlobal: limit("register:global", l.RegisterPerMinute, time.Minute, l.RegisterBurst),
		refreshIP:      limit("refresh:ip", l.RefreshIPPerMinute, time.Minute, l.RefreshIPBurst),
		emails: &redisEmailLimit{c: c, prefix: prefixOrDefault(cfg.Redis.Prefix), max: l.EmailFailures,
			window: l.EmailWindow, attemptTTL: attemptTTL, outage: outage},
		replay:   jwtauthredis.NewReplayStore(c, cfg.Redis.Prefix),
		denylist: jwtauthredis.NewDenylist(c, cfg.Redis.Prefix),
		client:   c,
	}, nil
}

func (s *sharedState) close() error {
	if s.client == nil {
		return nil
	}
	return s.client.Close()
}

func prefixOrDefault(p string) string {
	if p == "" {
		return jwtauthredis.DefaultPrefix
	}
	return p
}

func cmpClock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// redisLimit is a rateLimit in Redis, shared by every replica on the same Redis and prefix. It fails open.
type redisLimit struct {
	l      *jwtauthredis.Limiter
	name   string // login:ip, register:ip, ...: part of the key
	lim    jwtauthredis.Limit
	outage *outageLog
}

func (r redisLimit) take(ctx context.Context, key string) (bool, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, redisLimitTimeout)
	defer cancel()
	res, err := r.l.Allow(ctx, r.name+":"+key, r.lim)
	if err != nil {
		r.outage.failed(ctx, r.name, err)
		return true, 0
	}
	r.outage.ok(ctx)
	return res.Allowed, res.RetryAfter
}

// redisEmailLimit is the per-email failure lockout in Redis: a sorted set of the failures inside the window
// and one of the attempts in flight (each with a deadline, so that a replica that dies mid-attempt frees its
// place), checked and updated by one Lua script each, so that concurrent guesses on several replicas cannot
// slip past the limit. Emails are hashed into the keys. It fails open.
type redisEmailLimit struct {
	c          redis.UniversalClient
	prefix     string
	max        int
	window     time.Duration
	attemptTTL time.Duration // an attempt in flight longer than this no longer counts
	outage     *outageLog
}

// emailBeginScript: KEYS = failures, in flight; ARGV = window ms, max, attempt id, attempt ttl ms.
// Returns {1, 0} when the attempt may go ahead (and is counted in flight), else {0, retry ms}.
var emailBeginScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local fails, busy = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
if fails + busy >= max then
  local retry = 1000
  if fails >= max then
    local oldest = redis.call('ZRANGE', KEYS[1], fails - max, fails - max, 'WITHSCORES')
    retry = math.max(1, tonumber(oldest[2]) + window - now)
  end
  return {0, retry}
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0}
`)

// emailEndScript: KEYS = failures, in flight; ARGV = outcome (s, f or a), attempt id, window ms, max.
var emailEndScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window, max = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREM', KEYS[2], ARGV[2])
if ARGV[1] == 's' then
  redis.call('DEL', KEYS[1])
elseif ARGV[1] == 'f' then
  redis.call('ZADD', KEYS[1], now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
  redis.call('PEXPIRE', KEYS[1], window)
end
return 1
`)

func (r *redisEmailLimit) keys(email string) []string {
	h := sha256.Sum256([]byte(email))
	k := r.prefix + "login:email:" + base64.RawURLEncoding.EncodeToString(h[:])
	return []string{k + ":fails", k + ":busy"}
}

func (r *redisEmailLimit) begin(ctx context.Context, email string) (func(outcome int), bool, time.Duration) {
	keys := r.keys(email)
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	cctx, cancel := context.WithTimeout(ctx, redisLimitTimeout)
	defer cancel()
	v, err := emailBeginScript.Run(cctx, r.c, keys, r.window.Milliseconds(), r.max, id, r.attemptTTL.Milliseconds()).Int64Slice()
	if err == nil && len(v) != 2 {
		err = fmt.Errorf("the email lockout script returned %d values, want 2", len(v))
	}
	if err != nil {
		r.outage.failed(ctx, "login:email", err)
		return func(int) {}, true, 0
	}
	r.outage.ok(ctx)
	if v[0] != 1 {
		return nil, false, time.Duration(v[1]) * time.Millisecond
	}
	var once sync.Once
	return func(outcome int) {
		once.Do(func() {
			code := map[int]string{attemptSucceeded: "s", attemptFailed: "f"}[outcome]
			if code == "" {
				code = "a"
			}
			// The attempt is over even when its client left: record it regardless of ctx.
			ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisLimitTimeout)
			defer cancel()
			if err := emailEndScript.Run(ectx, r.c, keys, code, id, r.window.Milliseconds(), r.max).Err(); err != nil {
				r.outage.failed(ectx, "login:email", err)
			}
		})
	}, true, 0
}

// outageLog logs an outage of Redis for one use once per outageLogEvery while it lasts, not once per request,
// with the number of failed calls since the last line; and its end once.
type outageLog struct {
	log      *slog.Logger
	down, up string // what the outage and its end mean: "rate limits are not enforced (fail open)"
	now      func() time.Time

	isDown atomic.Bool // fast path of ok
	mu     sync.Mutex
	last   time.Time // of the last WARN
	missed int       // failed calls since the last WARN
}

func (o *outageLog) failed(ctx context.Context, use string, err error) {
	now := o.now()
	o.mu.Lock()
	o.missed++
	if o.isDown.Load() && now.Sub(o.last) < outageLogEvery {
		o.mu.Unlock()
		return
	}
	n := o.missed
	o.missed, o.last = 0, now
	o.isDown.Store(true)
	o.mu.Unlock()
	o.log.WarnContext(ctx, "Redis unreachable: "+o.down, "use", use, "failed_calls", n,
		"next_report_in", outageLogEvery.String(), "err", err)
}

func (o *outageLog) ok(ctx context.Context) {
	if !o.isDown.Load() {
		return
	}
	o.mu.Lock()
	was := o.isDown.Swap(false)
	n := o.missed
	o.missed = 0
	o.mu.Unlock()
	if was {
		o.log.InfoContext(ctx, "Redis reachable again: "+o.up, "failed_calls_since_last_report", n)
	}
}

// goRedisLog sends go-redis's own messages (one per failed dial: one per request while Redis is down) to the
// server's log at DEBUG: outageLog reports outages at WARN, once per interval.
type goRedisLog struct{ log *slog.Logger }

func (l goRedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// routeRedisLogs installs goRedisLog; go-redis has one logger per process, so the command does this once.
func routeRedisLogs(cfg config, log *slog.Logger) {
	if cfg.Redis.URL != "" {
		redis.SetLogger(goRedisLog{log})
	}
}

// errNotPublished wraps a failure to publish a revocation to the Redis denylist.
var errNotPublished = errors.New("the revocation could not be published to the API servers (Redis unreachable)")

// publishSessions tells API replicas that sessions sids of the issuer are revoked; their access tokens expire
// at the latest one TokenTTL from now. Without Redis it does nothing.
func (a *app) publishSessions(ctx context.Context, sids []string) error {
	if a.shared.denylist == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisPublishTimeout)
	defer cancel()
	until := a.store.now().Add(a.issuer.TTL())
	for _, sid := range sids {
		if err := a.shared.denylist.RevokeSession(ctx, a.cfg.Issuer, sid, until); err != nil {
			return fmt.Errorf("%w: %w", errNotPublished, err)
		}
	}
	return nil
}

// publishSubject tells API replicas that every token of userID issued until now is revoked.
func (a *app) publishSubject(ctx context.Context, userID string) error {
	if a.shared.denylist == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisPublishTimeout)
	defer cancel()
	now := a.store.now()
	if err := a.shared.denylist.RevokeSubject(ctx, a.cfg.Issuer, userID, now, now.Add(a.issuer.TTL())); err != nil {
		return fmt.Errorf("%w: %w", errNotPublished, err)
	}
	return nil
}
