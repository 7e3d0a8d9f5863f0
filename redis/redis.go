// Package jwtauthredis keeps the state that jwtauth replicas must share in Redis: the DPoP replay store
// (ReplayStore, for DPoPOptions.Replay), the revocation denylist (Denylist, for Config.Revocations) and rate
// limits (Limiter). Each operation is one atomic Redis command or Lua script, so replicas never race on a
// read-then-write.
//
// When Redis is unreachable, ReplayStore and Denylist return errors, which a jwtauth.Verifier turns into 503
// temporarily_unavailable with Retry-After: a proof that may be a replay, or a token that may be revoked, is
// never let through (fail closed). Limiter returns its error to the caller, who decides; a login server
// usually lets the request through and logs a warning (fail open), since refusing every login while Redis is
// down is an outage of its own.
//
// Keys are the prefix given to each constructor (default DefaultPrefix) followed by a kind and a SHA-256 of
// the caller's values, length-prefixed, so keys have a fixed size whatever the input, values containing
// separators cannot collide, and no token or proof string is ever stored.
//
// It lives in its own module so that the root jwtauth module never depends on go-redis.
package jwtauthredis

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key when a constructor is given prefix "". Replicas that share state must use
// the same prefix (REDIS_PREFIX in the examples).
const DefaultPrefix = "jwtauth:"

// Timeouts Open sets when the URL sets none: short enough that a request waiting on a Redis that is down
// fails within a couple of seconds (and is answered 503), long enough for a loaded Redis on a LAN.
const (
	DefaultDialTimeout  = 2 * time.Second
	DefaultReadTimeout  = time.Second
	DefaultWriteTimeout = time.Second
	DefaultPoolTimeout  = 2 * time.Second
)

// Retries Open sets when the URL sets none (max_retries): a command is retried once, a dial tried twice.
const (
	DefaultMaxRetries    = 1
	DefaultDialerRetries = 2
)

// Open returns a client for rawURL (redis://[user:password@]host:port/db, rediss:// for TLS, or unix://),
// parsed by redis.ParseURL, with DefaultDialTimeout, DefaultReadTimeout, DefaultWriteTimeout and
// DefaultPoolTimeout where the URL sets none (dial_timeout, read_timeout, write_timeout, pool_timeout query
// parameters), DefaultMaxRetries and DefaultDialerRetries, and with context deadlines honoured, so every command is bounded by both. A negative timeout
// (none at all) is refused. It does not connect: the first command does. Close the client when done.
func Open(rawURL string) (*redis.Client, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL may carry a password: name the problem, never echo it.
		return nil, fmt.Errorf("jwtauthredis: the Redis URL is not valid (%v); use redis://[user:password@]host:port/db, rediss://... for TLS, or unix:///path", redactURLError(err, rawURL))
	}
	for _, t := range []struct {
		name string
		d    *time.Duration
		def  time.Duration
	}{
		{"dial_timeout", &o.DialTimeout, DefaultDialTimeout},
		{"read_timeout", &o.ReadTimeout, DefaultReadTimeout},
		{"write_timeout", &o.WriteTimeout, DefaultWriteTimeout},
		{"pool_timeout", &o.PoolTimeout, DefaultPoolTimeout},
	} {
		switch {
		case *t.d < 0:
			return nil, fmt.Errorf("jwtauthredis: the Redis URL sets %s to %v, which means no timeout: every call must be bounded; remove it or set a positive duration such as %s=%v", t.name, *t.d, t.name, t.def)
		case *t.d == 0:
			*t.d = t.def
		}
	}
	// go-redis retries a failed command 3 times and each dial 5 times by default: about 3 s before a request
	// waiting on a Redis that is down gets its 503. One retry still hides a pooled connection that a Redis
	// restart closed.
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = DefaultDialerRetries
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
}

// redactURLError returns err's text with rawURL's password, if any, replaced.
func redactURLError(err error, rawURL string) string {
	msg := err.Error()
	if at := strings.LastIndex(rawURL, "@"); at > 0 {
		if i := strings.Index(rawURL, "://"); i >= 0 && i+3 < at {
			userinfo := rawURL[i+3 : at]
			if c := strings.IndexByte(userinfo, ':'); c >= 0 && c+1 < len(userinfo) {
				msg = strings.ReplaceAll(msg, userinfo[c+1:], "REDACTED")
			}
		}
	}
	return msg
}

// normPrefix applies DefaultPrefix. The prefix is configuration, never request input, so it is not bounded.
func normPrefix(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	return prefix
}

// key returns prefix + kind + ":" + base64url(SHA-256 of the length-prefixed parts). Length prefixes make
// ("a:b", "c") and ("a", "b:c") different keys; the hash makes every key the same short size.
func key(prefix, kind string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return prefix + kind + ":" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// errNilClient is returned by every method of a value made with a nil client.
var errNilClient = errors.New("jwtauthredis: no Redis client (the constructor was given nil): pass the client from Open")
