package main

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth/bench"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

var peers = []string{"auth0-v2", "auth0-v3", "go-chi-jwtauth", "keyfunc"}

// result is one row's measurements in one round.
type result struct {
	rps, cpuPerReq      float64 // requests/s at saturation; server CPU µs per request at the fixed rate
	p50, p99, p999      time.Duration
	rss                 int64
	refusedValid, sent  int64
	fetches, maxFetches int64
}

type key struct {
	alg, scenario, row string
	k                  int
}

func generate(o options) error {
	if o.smoke {
		o.algs, o.ks, o.rounds = "ES256", "100", 1
		o.sat, o.lat, o.warm, o.stress, o.rotate = 200*time.Millisecond, 200*time.Millisecond, 50*time.Millisecond, 1500*time.Millisecond, 500*time.Millisecond
	}
	if err := pin(o.genCPU); err != nil {
		return err
	}
	algs := strings.Split(o.algs, ",")
	rows := strings.Split(o.rows, ",")
	var ks []int
	for _, s := range strings.Split(o.ks, ",") {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 {
			return fmt.Errorf("-k %q: want positive numbers separated by commas", o.ks)
		}
		ks = append(ks, k)
	}
	maxK := slices.Max(ks)
	results := map[key][]result{}
	var wrong int64
	for _, alg := range algs {
		signer, kid := bench.LoadKey(alg)
		fmt.Fprintf(os.Stderr, "minting %d %s tokens\n", maxK, alg)
		all := bench.LoadTokens(alg, signer, kid, maxK)
		jwks, err := startJWKS(alg)
		if err != nil {
			return err
		}
		defer jwks.close()
		mk := func(k int) *traffic {
			return &traffic{valid: all[:k], invalid: tampered(all, 1000), unknown: unknownKids(all[0], 4096), pInvalid: o.invalid, zipf: o.zipf}
		}
		// Pass 1: saturation, rows interleaved in rounds; the fixed rate is then 60% of the slowest row.
		rate := o.rate
		for round := range o.rounds {
			for _, k := range ks {
				for _, row := range rows {
					r, w, err := runRow(o, alg, row, jwks, mk(k), 0, o.sat)
					if err != nil {
						return err
					}
					wrong += w
					fmt.Fprintf(os.Stderr, "round %d %s K=%d %-16s %8.0f req/s\n", round+1, alg, k, row, r.rps)
					kk := key{alg, "calm", row, k}
					results[kk] = append(results[kk], r)
				}
			}
		}
		if rate == 0 {
			rate = math.Inf(1)
			for kk, rs := range results {
				if kk.alg == alg {
					rate = min(rate, median(rs, func(r result) float64 { return r.rps }))
				}
			}
			rate = math.Round(rate*0.6/100) * 100
			rate = max(rate, 100)
		}
		fmt.Fprintf(os.Stderr, "%s fixed rate %.0f req/s\n", alg, rate)
		// Pass 2: latency, CPU and RSS at the fixed rate.
		for round := range o.rounds {
			for _, k := range ks {
				for _, row := range rows {
					r, w, err := runRow(o, alg, row, jwks, mk(k), rate, o.lat)
					if err != nil {
						return err
					}
					wrong += w
					kk := key{alg, "calm", row, k}
					rs := results[kk]
					rs[round].p50, rs[round].p99, rs[round].p999, rs[round].cpuPerReq, rs[round].rss = r.p50, r.p99, r.p999, r.cpuPerReq, r.rss
					rs[round].refusedValid += r.refusedValid
				}
			}
		}
		printTable(alg, rate, ks, rows, results)
		if o.stress > 0 {
			w, err := stressRows(o, alg, rate, all, jwks, mk)
			if err != nil {
				return err
			}
			wrong += w
		}
	}
	for kk, rs := range results {
		for _, r := range rs {
			if r.refusedValid > 0 {
				fmt.Fprintf(os.Stderr, "%s K=%d %s refused %d valid requests in a calm run\n", kk.alg, kk.k, kk.row, r.refusedValid)
				wrong += r.refusedValid
			}
		}
	}
	if wrong > 0 {
		return fmt.Errorf("%d wrong answers (a valid token refused in a calm run, an invalid one accepted, or a fetch bound exceeded)", wrong)
	}
	return nil
}

// runRow starts row's server, warms it up, and measures saturation (rate 0) or the fixed rate for d.
func runRow(o options, alg, row string, jwks *jwksServer, t *traffic, rate float64, d time.Duration) (result, int64, error) {
	s, err := startServer(o, row, alg, jwks.url)
	if err != nil {
		return result{}, 0, err
	}
	defer s.stop()
	warm := &tally{}
	if row == "jwtauth" && o.prewarm {
		// Steady state: every client has sent its token before (each reuses it for minutes), so the cache
		// has seen all K. The other rows keep no per-token state: nothing to warm.
		if err := sendAll(s.addr, t.valid, o.conns, warm); err != nil {
			return result{}, 0, err
		}
	}
	if rate == 0 {
		if _, err := saturate(s.addr, t, o.conns, o.warm, warm); err != nil {
			return result{}, 0, err
		}
	} else if _, _, err := offer(s.addr, t, o.conns, rate, o.warm, warm); err != nil {
		return result{}, 0, err
	}
	ta := &tally{}
	var r result
	if rate == 0 {
		r.rps, err = saturate(s.addr, t, o.conns, d, ta)
	} else {
		cpu0 := s.cpuTime()
		var lats []time.Duration
		lats, r.sent, err = offer(s.addr, t, o.conns, rate, d, ta)
		r.cpuPerReq = float64((s.cpuTime() - cpu0).Microseconds()) / float64(max(r.sent, 1))
		r.p50, r.p99, r.p999 = quantile(lats, 0.5), quantile(lats, 0.99), quantile(lats, 0.999)
		r.rss = s.peakRSS()
	}
	if err != nil {
		return result{}, 0, fmt.Errorf("%s %s: %w", alg, row, err)
	}
	r.refusedValid = ta.refusedValid.Load()
	if row == "no-auth" {
		return r, 0, nil // it accepts anything by design
	}
	return r, ta.wrong.Load(), nil
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ms(d float64) string { return fmt.Sprintf("%.2f", d/1e6) }

func printTable(alg string, rate float64, ks []int, rows []string, results map[key][]result) {
	fmt.Printf("\n### %s (fixed rate %.0f req/s for the latency, CPU and RSS columns)\n\n", alg, rate)
	fmt.Println("| K | row | req/s at saturation | × no-auth | × best peer | p50 ms | p99 ms | p99.9 ms | CPU µs/req | peak RSS MiB |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, k := range ks {
		rps := func(row string) float64 {
			rs := results[key{alg, "calm", row, k}]
			if len(rs) == 0 {
				return 0
			}
			return median(rs, func(r result) float64 { return r.rps })
		}
		best := 0.0
		for _, p := range peers {
			best = max(best, rps(p))
		}
		noAuth := rps("no-auth")
		for _, row := range rows {
			rs := results[key{alg, "calm", row, k}]
			x := rps(row)
			ratio := func(base float64) string {
				if base == 0 {
					return "–"
				}
				return fmt.Sprintf("%.2f", x/base)
			}
			fmt.Printf("| %d | %s | %.0f | %s | %s | %s | %s | %s | %.1f | %.1f |\n", k, row, x, ratio(noAuth), ratio(best),
				ms(median(rs, func(r result) float64 { return float64(r.p50) })),
				ms(median(rs, func(r result) float64 { return float64(r.p99) })),
				ms(median(rs, func(r result) float64 { return float64(r.p999) })),
				median(rs, func(r result) float64 { return r.cpuPerReq }),
				median(rs, func(r result) float64 { return float64(r.rss) })/(1<<20))
		}
	}
}

// stressRows measures the jwtauth rows at the fixed rate, K=100, calm, while the key set rotates every
// o.rotate (see rotate),
// and with 10% of requests carrying random unknown kids. Fetches are counted at the JWKS server; with the
// default 5 s cooldown at most one per cooldown may be triggered by tokens (plus the startup fetch).
func stressRows(o options, alg string, rate float64, all []string, jwks *jwksServer, mk func(int) *traffic) (int64, error) {
	const k, cooldown = 100, 5 * time.Second
	var wrong int64
	fmt.Printf("\n### %s stress (K=%d, fixed rate %.0f req/s, %s each; p99 of valid requests)\n\n", alg, min(k, len(all)), rate, o.stress)
	fmt.Println("| row | scenario | p50 ms | p99 ms | p99 ÷ calm | valid refused | JWKS fetches | fetch bound |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, row := range []string{"jwtauth", "jwtauth-nocache"} {
		var calm time.Duration
		for _, scenario := range []string{"calm", "rotate", "unknown-kids"} {
			t := mk(min(k, len(all)))
			stop := make(chan struct{})
			done := make(chan error, 1)
			switch scenario {
			case "unknown-kids":
				t.pUnknown = 0.10
				close(done)
			case "rotate":
				t.pRotated = 0.20
				go func() { done <- rotate(alg, o.rotate, jwks, t, stop) }()
			default:
				close(done)
			}
			s, err := startServer(o, row, alg, jwks.url)
			if err != nil {
				return 0, err
			}
			f0 := jwks.fetches.Load()
			ta := &tally{}
			start := time.Now()
			lats, _, err := offer(s.addr, t, o.conns, rate, o.stress, ta)
			elapsed := time.Since(start)
			fetches := jwks.fetches.Load() - f0
			s.stop()
			close(stop)
			if rerr := <-done; rerr != nil && err == nil {
				err = rerr
			}
			if err != nil {
				return 0, err
			}
			wrong += ta.wrong.Load()
			bound := int64(elapsed/cooldown) + 2 // the startup fetch, then one per cooldown started
			if fetches > bound {
				fmt.Fprintf(os.Stderr, "%s %s %s: %d JWKS fetches, more than %d\n", alg, row, scenario, fetches, bound)
				wrong++
			}
			p99 := quantile(lats, 0.99)
			if scenario == "calm" {
				calm = p99
				wrong += ta.refusedValid.Load()
			}
			fmt.Printf("| %s | %s | %s | %s | %.2f | %d | %d | %d |\n", row, scenario, ms(float64(quantile(lats, 0.5))), ms(float64(p99)),
				float64(p99)/float64(max(calm, 1)), ta.refusedValid.Load(), fetches, bound)
		}
	}
	return wrong, nil
}

// rotate publishes a new key every period and signs with the key published one period earlier, as issuers
// do (a key appears in the JWKS before tokens signed by it): 20% of valid requests carry those tokens.
func rotate(alg string, period time.Duration, jwks *jwksServer, t *traffic, stop <-chan struct{}) error {
	tick := time.NewTicker(period)
	defer tick.Stop()
	var next []string // tokens by the key published last, used from the next tick on
	for n := 1; ; n++ {
		signer, err := newKey(alg)
		if err != nil {
			return err
		}
		kid := fmt.Sprintf("rotated-%d-%d", time.Now().UnixNano(), n)
		jwks.add(jwtauthtest.PublicJWK(signer.Public(), kid, alg))
		if next != nil {
			t.rotated.Store(&next)
		}
		next = bench.LoadTokens(alg, signer, kid, 20)
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}
