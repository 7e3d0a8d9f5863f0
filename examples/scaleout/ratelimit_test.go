package scaleout

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The per-IP login limit (30 a minute, burst 30) counts the attempts made on every replica sharing Redis:
// a client spreading guesses over two replicas gets 30 in total, not 30 on each. Other clients are not affected.
// The replicas share a SQLite file here (the limit is Redis's business; PostgreSQL is the test above).
func TestLoginLimit_PerIPHoldsAcrossReplicasWithRedis(t *testing.T) {
	redisURL := testsvc.RedisURL(t)
	loginBin, _ := binaries(t)
	replicas := startReplicas(t, 2, "login", loginBin,
		loginEnv(signingKey(t), sqlitePath(t), "REDIS_URL="+redisURL, "REDIS_PREFIX="+testsvc.RedisPrefix(t))...)
	const attacker, other = 1, 2
	r := call(http.MethodPost, replicas[0].URL+"/register", credentials("victim@example.com"), forwardedFor(other))
	require.Equal(t, http.StatusCreated, r.status, "%s", r)

	// 70 wrong guesses at once for as many emails (the per-email lockout stays out of the way), alternating
	// replicas. Per-replica limits would let 60 through.
	const attempts = 70
	var allowed atomic.Int64
	var limited [2]atomic.Int64 // per replica
	var wg sync.WaitGroup
	began := time.Now()
	for i := range attempts {
		wg.Go(func() {
			body := map[string]string{"email": fmt.Sprintf("guess%d@example.com", i), "password": "wrong-Password1!"}
			r := call(http.MethodPost, replicas[i%2].URL+"/login", body, forwardedFor(attacker))
			switch r.status {
			case http.StatusUnauthorized, http.StatusServiceUnavailable: // past the limit: checked, or queued too long
				allowed.Add(1)
			case http.StatusTooManyRequests:
				limited[i%2].Add(1)
				assert.NotEmpty(t, r.header.Get("Retry-After"))
			default:
				t.Errorf("guess %d: %s", i, r)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	// The limit refills one attempt every 2 s: allow for what the run itself took.
	refill := int64(elapsed/(2*time.Second)) + 1
	t.Logf("%d attempts over 2 replicas in %v: %d checked, %d and %d refused with 429", attempts,
		elapsed.Round(time.Millisecond), allowed.Load(), limited[0].Load(), limited[1].Load())
	assert.GreaterOrEqual(t, allowed.Load(), int64(30), "the documented burst is admitted")
	assert.LessOrEqual(t, allowed.Load(), 30+refill, "30 in total over both replicas (plus %d refilled while the test ran)", refill)
	assert.Positive(t, limited[0].Load(), "replica 0 refuses the attacker")
	assert.Positive(t, limited[1].Load(), "replica 1 refuses the attacker")

	for _, p := range replicas {
		r := call(http.MethodPost, p.URL+"/login", credentials("victim@example.com"), forwardedFor(other))
		assert.Equal(t, http.StatusOK, r.status, "%s: another client logs in: %s", p.name, r)
	}
}
