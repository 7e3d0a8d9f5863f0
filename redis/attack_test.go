package jwtauthredis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttacks_RedisKeys are the Redis rows of the attack table (the HTTP ones are in the root module's
// attack_test.go, which cannot import go-redis): what a caller or a token's claims can do to the keys and
// memory of the shared Redis. Each row gets a fresh prefix.
func TestAttacks_RedisKeys(t *testing.T) {
	ctx := context.Background()
	hour := time.Now().Add(time.Hour)
	huge := strings.Repeat("x", 1<<20)
	rows := []struct {
		name string
		run  func(t *testing.T, c *redis.Client, prefix string)
	}{
		{"separator moved between issuer and jti does not collide", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, d.RevokeToken(ctx, "https://a.test/:x", "y", hour))
			assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://a.test/", "sub": "u", "jti": ":x:y"})))
			assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://a.test/:x:y", "sub": "u", "jti": ""})))
		}},
		{"NUL and newline in values do not collide", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, d.RevokeSubject(ctx, "https://a.test/", "u\x00v", hour, hour))
			assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://a.test/", "sub": "u"})))
			assert.False(t, revoked(t, d, claims(t, map[string]any{"iss": "https://a.test/", "sub": "u\nv"})))
			assert.True(t, revoked(t, d, claims(t, map[string]any{"iss": "https://a.test/", "sub": "u\x00v"})))
		}},
		{"a jti equal to a subject does not revoke the subject, nor a sid", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, d.RevokeToken(ctx, iss, "alice", hour))
			assert.False(t, revoked(t, d, claims(t, map[string]any{"sub": "alice", "sid": "alice"})))
		}},
		{"a proof key equal to a limiter key is another key", func(t *testing.T, c *redis.Client, p string) {
			r, err := NewLimiter(c, p).Allow(ctx, "k", Limit{Rate: 1, Period: time.Hour, Burst: 1})
			require.NoError(t, err)
			require.True(t, r.Allowed)
			added, err := NewReplayStore(c, p).Add(ctx, "k", time.Minute)
			require.NoError(t, err)
			assert.True(t, added)
		}},
		{"a value spelling a full key does not reach that key", func(t *testing.T, c *redis.Client, p string) {
			s := NewReplayStore(c, p)
			require.NoError(t, c.Set(ctx, p+"dpop:k", "1", time.Minute).Err())
			added, err := s.Add(ctx, p+"dpop:k", time.Minute)
			require.NoError(t, err)
			assert.True(t, added)
			added, err = s.Add(ctx, "k", time.Minute)
			require.NoError(t, err)
			assert.True(t, added, "keys are hashed: the raw name is not where k lives")
		}},
		{"glob and Lua in a limiter key are data", func(t *testing.T, c *redis.Client, p string) {
			l := NewLimiter(c, p)
			lim := Limit{Rate: 1, Period: time.Hour, Burst: 1}
			for _, k := range []string{"*", "') redis.call('FLUSHALL') --", "]]..redis.call('DEL',KEYS[1])..[["} {
				r, err := l.Allow(ctx, k, lim)
				require.NoError(t, err)
				assert.True(t, r.Allowed, k)
				r, err = l.Allow(ctx, k, lim)
				require.NoError(t, err)
				assert.False(t, r.Allowed, "%s: counted once, under its own key", k)
			}
		}},
		{"megabyte values are stored under fixed-size keys with small values", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, d.RevokeToken(ctx, huge, huge, hour))
			require.NoError(t, d.RevokeSubject(ctx, huge, huge, hour, hour))
			require.NoError(t, d.RevokeSession(ctx, huge, huge, hour))
			_, err := NewReplayStore(c, p).Add(ctx, huge, time.Minute)
			require.NoError(t, err)
			_, err = NewLimiter(c, p).Allow(ctx, huge, Limit{Rate: 1, Period: time.Hour, Burst: 1})
			require.NoError(t, err)
			keys, err := c.Keys(ctx, p+"*").Result()
			require.NoError(t, err)
			require.Len(t, keys, 5)
			for _, k := range keys {
				assert.LessOrEqual(t, len(k), len(p)+len("rev:jti:")+43, k)
				mem, err := c.MemoryUsage(ctx, k).Result()
				require.NoError(t, err)
				assert.Less(t, mem, int64(256), "%s: bytes in Redis", k)
			}
		}},
		{"an entry this package did not write fails closed", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, c.Set(ctx, d.subjectKey(iss, "u"), "garbage", time.Minute).Err())
			_, err := d.Revoked(ctx, claims(t, map[string]any{"sub": "u", "iat": time.Now().Unix()}))
			assert.ErrorContains(t, err, "is not one this package wrote")
		}},
		{"a revocation with a garbage stored value is overwritten, not skipped", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			require.NoError(t, c.Set(ctx, d.subjectKey(iss, "u"), "garbage", time.Minute).Err())
			require.NoError(t, d.RevokeSubject(ctx, iss, "u", time.Now(), hour))
			assert.True(t, revoked(t, d, claims(t, map[string]any{"sub": "u", "iat": time.Now().Add(-time.Minute).Unix()})))
		}},
		{"an oversized sid fails closed", func(t *testing.T, c *redis.Client, p string) {
			_, err := NewDenylist(c, p).Revoked(ctx, claims(t, map[string]any{"sub": "u", "sid": strings.Repeat("s", maxSID+1)}))
			assert.ErrorContains(t, err, "sid claim has")
		}},
		{"a revocation far in the future expires no later than asked", func(t *testing.T, c *redis.Client, p string) {
			d := NewDenylist(c, p)
			far := time.Now().Add(24 * time.Hour)
			require.NoError(t, d.RevokeToken(ctx, iss, "j", far))
			ttl, err := c.PTTL(ctx, d.tokenKey(iss, "j")).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, ttl, time.Until(far.Add(jwtauth.MaxLeeway))+time.Second)
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c, prefix := testClient(t)
			row.run(t, c, prefix)
		})
	}
}
