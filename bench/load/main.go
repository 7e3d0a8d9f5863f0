// Command load is the real-server load benchmark: each row of the suite (bench.LoadRows) behind a real
// http.Server on loopback, in its own process pinned to one core, driven by this process pinned to the other,
// with keep-alive connections and K distinct valid tokens drawn from a Zipf distribution. It prints per row
// requests/s at saturation (closed loop), p50/p99/p99.9 at one fixed offered rate (open loop, latency counted
// from each request's scheduled start, so a slow server cannot hide queueing: no coordinated omission), CPU per
// request and peak RSS of the server, then the stress rows (key rotation, unknown kids). run.sh runs it.
//
//	go run ./load                         # the full run (minutes)
//	go run ./load -smoke                  # seconds: every row once, fails on a wrong answer
//	go run ./load -serve -row jwtauth -alg ES256 -jwks http://127.0.0.1:PORT/jwks.json
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	var o options
	flag.BoolVar(&o.serve, "serve", false, "run one row's server (started by the generator; prints its address)")
	flag.StringVar(&o.row, "row", "", "with -serve: the row ("+strings.Join(rowsList(), ", ")+")")
	flag.StringVar(&o.alg, "alg", "ES256", "with -serve: ES256 or RS256")
	flag.StringVar(&o.jwks, "jwks", "", "with -serve: the JWKS URL of the jwtauth rows")
	flag.BoolVar(&o.smoke, "smoke", os.Getenv("SMOKE") != "", "a few seconds in all (also SMOKE=1): every row once, fails on a wrong answer")
	flag.StringVar(&o.algs, "algs", "ES256,RS256", "algorithms")
	flag.StringVar(&o.ks, "k", "1,100,10000", "numbers of distinct valid tokens")
	flag.StringVar(&o.rows, "rows", strings.Join(rowsList(), ","), "rows")
	flag.IntVar(&o.rounds, "rounds", 2, "rounds: every row once per round, medians reported")
	flag.DurationVar(&o.sat, "sat", 2*time.Second, "saturation phase per row")
	flag.DurationVar(&o.lat, "lat", 3*time.Second, "fixed-rate phase per row")
	flag.DurationVar(&o.warm, "warm", 500*time.Millisecond, "warm-up before each phase, not counted")
	flag.DurationVar(&o.stress, "stress", 12*time.Second, "fixed-rate phase of each stress row (0: no stress rows)")
	flag.DurationVar(&o.rotate, "rotate", 3*time.Second, "key rotation period of the rotation stress rows")
	flag.IntVar(&o.conns, "conns", 32, "keep-alive connections")
	flag.Float64Var(&o.rate, "rate", 0, "offered requests/s of the fixed-rate phase (0: 60% of the slowest row's saturation, per algorithm)")
	flag.Float64Var(&o.invalid, "invalid", 0, "share of requests with an invalid (tampered) token")
	flag.BoolVar(&o.prewarm, "prewarm", true, "send each of the K tokens once to the jwtauth (cached) row before measuring it: the steady state of clients that reuse their tokens")
	flag.Float64Var(&o.zipf, "zipf", 1.1, "Zipf exponent s of the token choice (> 1)")
	flag.StringVar(&o.serverCPU, "server-cpu", "0", "taskset CPU list of the server (empty: no pinning)")
	flag.StringVar(&o.genCPU, "gen-cpu", "1", "taskset CPU list of this generator (empty: no pinning)")
	flag.Parse()
	var err error
	if o.serve {
		err = serve(o)
	} else {
		err = generate(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type options struct {
	serve               bool
	row, alg, jwks      string
	smoke, prewarm      bool
	algs, ks, rows      string
	rounds, conns       int
	sat, lat, warm      time.Duration
	stress, rotate      time.Duration
	rate, invalid, zipf float64
	serverCPU, genCPU   string
}
