package scaleout

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two login servers on one PostgreSQL database behind a load balancer: 200 registrations at once, spread over
// both (both replicas also migrate the fresh database at the same moment), never answer 500; every user
// answered 201 logs in on the other replica; a refresh token spent on one is a reuse on the other.
func TestTwoLoginServers_OnePostgres_ShareUsersAndSessions(t *testing.T) {
	dbURL := testsvc.PostgresURL(t)
	loginBin, _ := binaries(t)
	replicas := startReplicas(t, 2, "login", loginBin, loginEnv(signingKey(t), dbURL)...)

	const n = 200
	results := make([]reply, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			results[i] = call(http.MethodPost, replicas[i%2].URL+"/register", credentials(fmt.Sprintf("user%d@example.com", i)), forwardedFor(i))
		})
	}
	close(gate)
	wg.Wait()

	var created []int
	count := map[int]int{}
	for i, r := range results {
		require.NoError(t, r.err, "registration %d", i)
		count[r.status]++
		switch r.status {
		case http.StatusCreated:
			created = append(created, i)
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			// The global registration limit (60 a minute per replica without Redis) and the hasher's queue
			// (20 s) refuse with a time to come back; both are answers, not failures.
			assert.NotEmpty(t, r.header.Get("Retry-After"), "registration %d: %s", i, r)
		default:
			t.Errorf("registration %d: %s", i, r)
		}
	}
	t.Logf("200 registrations: %v (status: count)", count)
	assert.Zero(t, count[http.StatusInternalServerError], "no 500")
	require.GreaterOrEqual(t, len(created), 60, "at least one replica's registration burst is admitted")

	// Each user logs in on the replica it did not register on.
	logins := make([]reply, n)
	sem := make(chan struct{}, 16)
	for _, i := range created {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			logins[i] = call(http.MethodPost, replicas[(i+1)%2].URL+"/login", credentials(fmt.Sprintf("user%d@example.com", i)), forwardedFor(i))
		})
	}
	wg.Wait()
	for _, i := range created {
		assert.Equal(t, http.StatusOK, logins[i].status, "login of user %d (registered on replica %d): %s", i, i%2, logins[i])
	}

	t.Run("a refresh token rotated on one replica is refused as reused on the other", func(t *testing.T) {
		i := created[0]
		first := logins[i]
		require.NotEmpty(t, first.field("refresh_token"), "%s", first)
		a, b := replicas[0], replicas[1]
		rotated := call(http.MethodPost, a.URL+"/token/refresh", "grant_type=refresh_token&refresh_token="+first.field("refresh_token"), forwardedFor(i))
		require.Equal(t, http.StatusOK, rotated.status, "%s", rotated)

		reused := call(http.MethodPost, b.URL+"/token/refresh", "grant_type=refresh_token&refresh_token="+first.field("refresh_token"), forwardedFor(i))
		assert.Equal(t, http.StatusBadRequest, reused.status, "%s", reused)
		assert.Equal(t, "invalid_grant", reused.field("error"), "%s", reused)
		assert.True(t, b.logged("refresh token reused: session revoked"), "%s", b.tail(4<<10))

		// The reuse revoked the whole session, on both replicas: the new refresh token and access token too.
		next := call(http.MethodPost, a.URL+"/token/refresh", "grant_type=refresh_token&refresh_token="+rotated.field("refresh_token"), forwardedFor(i))
		assert.Equal(t, http.StatusBadRequest, next.status, "%s", next)
		for _, p := range replicas {
			me := call(http.MethodGet, p.URL+"/users/me", nil, "Authorization: Bearer "+rotated.field("access_token"))
			assert.Equal(t, http.StatusUnauthorized, me.status, "%s: %s", p.name, me)
			assert.Contains(t, challenges(me), `error_description="token revoked"`, p.name)
		}
	})
}
