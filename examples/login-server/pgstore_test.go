package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostgresRebind_NumbersPlaceholders(t *testing.T) {
	assert.Equal(t, `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`, postgres{}.rebind(`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`))
	assert.Equal(t, []any{1, 0, "x"}, postgres{}.args([]any{true, false, "x"}))
}

// PostgreSQL is stopped and started again while clients register and log in: while it is down they get 503
// with Retry-After (never a 500), once it is back every request succeeds again without a restart of the
// server, and every registration answered 201 was kept: its user logs in.
func TestPostgres_RestartUnderLoad(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	cfg := testConfig(t)
	cfg.DatabasePath = pg.URL
	cfg.DatabasePool = dbOptions{MaxConns: 8, Timeout: 2 * time.Second}
	// Neither limits nor hashing capacity are under test: many requests come from one IP.
	cfg.Limits = limits{IPPerMinute: 1 << 20, IPBurst: 1 << 20, EmailFailures: 1000,
		RegisterIPPerHour: 1 << 20, RegisterIPBurst: 1 << 20, RegisterPerMinute: 1 << 20, RegisterBurst: 1 << 20}
	cfg.HashConcurrency = 4
	ts := startServer(t, cfg)
	client := ts.srv.Client()

	type answer struct {
		op         string
		status     int
		retryAfter string
		body       string
		began, end int32 // phases
	}
	const (
		up = iota
		down
		restarting
		back
	)
	var phase atomic.Int32
	do := func(op, path, email string) answer {
		a := answer{op: op + " " + email, began: phase.Load()}
		res, err := client.Post(ts.URL+path, "application/json", bytes.NewReader(robCredentials(email, classicPassword)))
		a.end = phase.Load()
		if err != nil {
			a.body = err.Error()
			return a
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		a.status, a.retryAfter, a.body = res.StatusCode, res.Header.Get("Retry-After"), string(b)
		return a
	}

	var (
		mu      sync.Mutex
		answers []answer
		created []string
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				email := fmt.Sprintf("w%d-%d@example.com", w, i)
				a := do("register", "/register", email)
				mu.Lock()
				answers = append(answers, a)
				if a.status == http.StatusCreated {
					created = append(created, email)
				}
				prior := created[len(created)/2:]
				mu.Unlock()
				if len(prior) > 0 {
					l := do("login", "/login", prior[i%len(prior)])
					mu.Lock()
					answers = append(answers, l)
					mu.Unlock()
				}
				if a.status == http.StatusServiceUnavailable {
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	phase.Store(down)
	pg.Stop()
	time.Sleep(2 * time.Second)
	phase.Store(restarting)
	pg.Start()
	phase.Store(back)
	time.Sleep(3 * time.Second)
	stop.Store(true)
	wg.Wait()

	var during, after int
	for _, a := range answers {
		assert.NotEqual(t, http.StatusInternalServerError, a.status, "%s: %s", a.op, a.body)
		if a.status == http.StatusServiceUnavailable {
			assert.NotEmpty(t, a.retryAfter, "%s: a 503 says when to retry", a.op)
			assert.Contains(t, a.body, errDatabaseUnreachable, a.op)
		}
		switch {
		case a.began == down && a.end == down:
			during++
			assert.Equal(t, http.StatusServiceUnavailable, a.status, "%s while PostgreSQL is down: %s", a.op, a.body)
		case a.began == back:
			after++
			assert.Contains(t, []int{http.StatusOK, http.StatusCreated}, a.status, "%s after PostgreSQL is back: %s", a.op, a.body)
		}
	}
	require.Positive(t, during, "requests ran while PostgreSQL was down")
	require.Positive(t, after, "requests ran after PostgreSQL was back")
	for _, email := range created {
		assert.Equal(t, http.StatusOK, do("login", "/login", email).status, "%s was answered 201: it logs in", email)
	}
	t.Logf("%d answers, %d while down, %d after; %d users created", len(answers), during, after, len(created))
}
