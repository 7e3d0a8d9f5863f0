package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/jwtauth-go/jwtauth"
	jwtauthredis "github.com/jwtauth-go/jwtauth/redis"
	"github.com/redis/go-redis/v9"
)

// maxRedisPrefix bounds REDIS_PREFIX: it starts every key.
const maxRedisPrefix = 64

// loadShared applies DPOP, EXTERNAL_URL, REDIS_URL and REDIS_PREFIX to ti and cfg. With REDIS_URL the DPoP
// replay store and the revocation denylist (Config.Revocations) are in Redis, shared by every replica and by
// the login server; without it proofs are remembered in memory (one replica) and nothing is revoked.
func loadShared(env func(string) string, ti *jwtauth.TrustedIssuer, cfg *config) error {
	switch v := strings.ToLower(env("DPOP")); v {
	case "", "off":
		ti.DPoP = jwtauth.DPoPOff
	case "allowed":
		ti.DPoP = jwtauth.DPoPOptional
	case "required":
		ti.DPoP = jwtauth.DPoPRequired
	default:
		return fmt.Errorf("DPOP is %q: set off (bearer tokens only, the default), allowed (bearer or DPoP-bound tokens) or required (DPoP-bound tokens only)", env("DPOP"))
	}
	external := env("EXTERNAL_URL")
	if ti.DPoP != jwtauth.DPoPOff && external == "" {
		return fmt.Errorf("DPOP=%s needs EXTERNAL_URL, this API's URL as clients call it (e.g. https://api.example.com): each DPoP proof names the URL it was made for", strings.ToLower(env("DPOP")))
	}
	cfg.auth.DPoP.ExternalURL = external // checked by jwtauth.New

	prefix := env("REDIS_PREFIX")
	rawURL := env("REDIS_URL")
	if prefix != "" {
		if rawURL == "" {
			return fmt.Errorf("REDIS_PREFIX is set but REDIS_URL is not: set REDIS_URL=redis://host:6379/0 too, or unset REDIS_PREFIX")
		}
		if len(prefix) > maxRedisPrefix || strings.ContainsFunc(prefix, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
			return fmt.Errorf("REDIS_PREFIX must be at most %d printable characters without spaces, e.g. %q (the login server and every replica use the same one)", maxRedisPrefix, jwtauthredis.DefaultPrefix)
		}
	}
	if rawURL == "" {
		return nil
	}
	client, err := jwtauthredis.Open(rawURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	cfg.redis, cfg.redisPrefix = client, prefix
	if cfg.redisPrefix == "" {
		cfg.redisPrefix = jwtauthredis.DefaultPrefix
	}
	cfg.auth.DPoP.Replay = jwtauthredis.NewReplayStore(client, prefix)
	cfg.auth.Revocations = jwtauthredis.NewDenylist(client, prefix)
	return nil
}

// checkRedis logs whether Redis answers at startup. A Redis that is down is no reason to exit: requests are
// refused with 503 and Retry-After until it is back, and served again without a restart.
func checkRedis(logger *slog.Logger, c *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addr := c.Options().Addr // never the URL: it may hold a password
	if err := c.Ping(ctx).Err(); err != nil {
		logger.Warn("Redis does not answer: DPoP and revocation checks answer 503 until it does", "addr", addr, "error", err.Error())
		return
	}
	logger.Info("DPoP replay store and revocation denylist in Redis", "addr", addr, "prefix", prefix)
}

// redisLogEvery bounds how often go-redis's own log lines are written.
const redisLogEvery = 10 * time.Second

// redisLogger sends go-redis's own log lines (redis.SetLogger: failed dials while Redis is down) to the
// server's JSON log as WARN, at most one per redisLogEvery with a count of those left out, so an outage
// under load cannot flood the log.
type redisLogger struct {
	logger  *slog.Logger
	mu      sync.Mutex
	last    time.Time
	dropped int
}

// Printf implements go-redis's internal.Logging.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < redisLogEvery {
		l.dropped++
		l.mu.Unlock()
		return
	}
	dropped := l.dropped
	l.last, l.dropped = now, 0
	l.mu.Unlock()
	l.logger.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...), "suppressed", dropped)
}
