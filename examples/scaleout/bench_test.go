package scaleout

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
)

// loadConcurrency is how many clients log in at once, each sending its next login when the last is answered.
const loadConcurrency = 16

// BenchmarkLogins measures successful logins per second and their latency (p50, p99) at a fixed concurrency,
// against one login server on SQLite, one on PostgreSQL, and two on one PostgreSQL database behind a
// round-robin "load balancer" (the client), all on this machine. It reports each instance's CPU use in cores
// and the servers' CPU time per login.
// A login is one argon2id verification (19 MiB, t=2) and two small writes (the session); the hash dominates,
// so on one machine the figure is bound by its cores, whatever the database: replicas add throughput when
// they add machines.
//
//	go -C examples test -run '^$' -bench Logins -benchtime 200x ./scaleout/
func BenchmarkLogins(b *testing.B) {
	for _, c := range []struct {
		name      string
		instances int
		postgres  bool
	}{
		{"sqlite-1", 1, false},
		{"postgres-1", 1, true},
		{"postgres-2", 2, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var db string
			if c.postgres {
				db = testsvc.PostgresURL(b)
			} else {
				db = sqlitePath(b)
			}
			loginBin, _ := binaries(b)
			replicas := startReplicas(b, c.instances, "login", loginBin, loginEnv(signingKey(b), db)...)
			benchLogins(b, replicas)
		})
	}
}

// benchLogins registers loadConcurrency users, then logs them in over and over, spreading the logins over the
// replicas in turn. Every login comes from a client address of its own (X-Forwarded-For from the trusted
// client), so the per-IP limit never answers instead of the server.
func benchLogins(b *testing.B, replicas []*proc) {
	emails := make([]string, loadConcurrency)
	for i := range emails {
		emails[i] = fmt.Sprintf("load%d@example.com", i)
		r := call(http.MethodPost, replicas[i%len(replicas)].URL+"/register", credentials(emails[i]), forwardedFor(i))
		if r.status != http.StatusCreated {
			b.Fatalf("registering %s: %s", emails[i], r)
		}
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []string
		next      atomic.Int64 // login number: picks the replica and the client address
		wg        sync.WaitGroup
	)
	jobs := make(chan struct{})
	for w := range loadConcurrency {
		wg.Go(func() {
			for range jobs {
				n := int(next.Add(1))
				began := time.Now()
				r := call(http.MethodPost, replicas[n%len(replicas)].URL+"/login", credentials(emails[w]), forwardedFor(1000+n))
				d := time.Since(began)
				mu.Lock()
				if r.status == http.StatusOK {
					latencies = append(latencies, d)
				} else if len(failures) < 5 {
					failures = append(failures, r.String())
				}
				mu.Unlock()
			}
		})
	}

	cpu0 := make([]time.Duration, len(replicas))
	for i, p := range replicas {
		cpu0[i] = p.cpuTime()
	}
	began := time.Now()
	for b.Loop() {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(began)

	if len(failures) > 0 {
		b.Fatalf("%d logins failed, for example: %v", int(next.Load())-len(latencies), failures)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))] }
	b.ReportMetric(float64(len(latencies))/wall.Seconds(), "logins/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	var cpu time.Duration
	for i, p := range replicas {
		used := p.cpuTime() - cpu0[i]
		cpu += used
		b.ReportMetric(used.Seconds()/wall.Seconds(), fmt.Sprintf("cpu%d-cores", i))
	}
	// The servers' CPU time per login, all replicas together (PostgreSQL's own processes not counted).
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(latencies)), "cpu-ms/login")
}
