// Command ratios reads `go test -bench` output of the bench suite and prints, per algorithm, each row's median
// ns/op, B/op and allocs/op with its ratio to the raw floor, the scaling of the parallel benchmark, and whether
// jwtauth meets its performance targets.
//
//	go run ./cmd/ratios bench.txt
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Targets of issue #5.
const (
	maxFloorRatioES256 = 1.12
	maxFloorRatioRS256 = 1.35
	maxAllocs          = 100
	maxCachedOverNs    = 1500
	minCachedSpeedup   = 20
)

// peers are the other libraries' rows measured through httptest, like the jwtauth rows.
var peers = []string{"keyfunc", "auth0-v2", "auth0-v3", "go-chi-jwtauth"}

// sample holds every measurement of one benchmark.
type sample struct{ ns, bytes, allocs []float64 }

// stat is the median of each metric.
type stat struct{ ns, bytes, allocs float64 }

// line matches "BenchmarkVerify/ES256/jwtauth-2   1000   1234 ns/op   56 B/op   7 allocs/op".
var line = regexp.MustCompile(`^(Benchmark\S+?)(?:-(\d+))?\s+\d+\s+(.*)$`)

func main() {
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		var all []byte
		for _, name := range os.Args[1:] {
			b, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "ratios:", err)
				os.Exit(1)
			}
			all = append(all, b...)
		}
		in = bytes.NewReader(all)
	}
	samples, order, err := parse(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(1)
	}
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "ratios: no benchmark results in the input")
		os.Exit(1)
	}
	stats := map[string]stat{}
	for name, s := range samples {
		stats[name] = stat{median(s.ns), median(s.bytes), median(s.allocs)}
	}
	failed := report(os.Stdout, stats, order)
	if failed > 0 {
		fmt.Printf("\n%d target(s) missed.\n", failed)
	}
}

// parse collects samples keyed by "Benchmark.../alg/row@cpu" (cpu "" when GOMAXPROCS was 1), in first-seen order.
func parse(r io.Reader) (map[string]*sample, []string, error) {
	samples := map[string]*sample{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := m[1] + "@" + m[2]
		s := samples[key]
		if s == nil {
			s = &sample{}
			samples[key] = s
			order = append(order, key)
		}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	return samples, order, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// report prints the tables and the target checks, and returns how many targets were missed.
func report(w io.Writer, stats map[string]stat, order []string) int {
	missed := 0
	check := func(ok bool, format string, args ...any) {
		verdict := "MET   "
		if !ok {
			verdict = "MISSED"
			missed++
		}
		fmt.Fprintf(w, "  %s %s\n", verdict, fmt.Sprintf(format, args...))
	}

	// BenchmarkVerify: one table per algorithm, rows in suite order, at the first GOMAXPROCS measured.
	type cell struct {
		row string
		st  stat
	}
	tables := map[string][]cell{}
	var algs []string
	seen := map[string]bool{}
	for _, key := range order {
		name, _, _ := strings.Cut(key, "@")
		parts := strings.Split(name, "/")
		if parts[0] != "BenchmarkVerify" || len(parts) != 3 {
			continue
		}
		alg, row := parts[1], parts[2]
		if seen[alg+"/"+row] {
			continue // another -cpu value of a row already listed
		}
		seen[alg+"/"+row] = true
		if _, ok := tables[alg]; !ok {
			algs = append(algs, alg)
		}
		tables[alg] = append(tables[alg], cell{row, stats[key]})
	}

	for _, alg := range algs {
		byRow := map[string]stat{}
		for _, c := range tables[alg] {
			byRow[c.row] = c.st
		}
		floor := byRow["raw-floor"].ns
		noAuth, hasNoAuth := byRow["no-auth"]
		fmt.Fprintf(w, "\n%s (medians)\n", alg)
		fmt.Fprintf(w, "  %-22s %12s %10s %10s %9s  %s\n", "row", "ns/op", "B/op", "allocs/op", "x floor", "notes")
		bestPeer, bestNs := "", 0.0
		for _, p := range peers {
			if st, ok := byRow[p]; ok && (bestPeer == "" || st.ns < bestNs) {
				bestPeer, bestNs = p, st.ns
			}
		}
		for _, c := range tables[alg] {
			ratio := "-"
			if floor > 0 {
				ratio = fmt.Sprintf("%.2fx", c.st.ns/floor)
			}
			note := ""
			switch {
			case c.row == "jwtauth-cached" && hasNoAuth && bestNs > 0:
				note = fmt.Sprintf("%+.0f ns over no-auth; %.1fx faster than best peer (%s)", c.st.ns-noAuth.ns, bestNs/c.st.ns, bestPeer)
			case strings.HasPrefix(c.row, "jwtauth") && hasNoAuth && floor > 0:
				note = fmt.Sprintf("%.2fx floor without httptest (ns/op - no-auth)", (c.st.ns-noAuth.ns)/floor)
			}
			out := fmt.Sprintf("  %-22s %12.0f %10.0f %10.0f %9s  %s", c.row, c.st.ns, c.st.bytes, c.st.allocs, ratio, note)
			fmt.Fprintln(w, strings.TrimRight(out, " "))
		}

		fmt.Fprintf(w, "  targets:\n")
		ja, ok := byRow["jwtauth"]
		if !ok || floor == 0 {
			fmt.Fprintf(w, "  (jwtauth or raw-floor row missing)\n")
			continue
		}
		limit := map[string]float64{"ES256": maxFloorRatioES256, "RS256": maxFloorRatioRS256}[alg]
		if limit > 0 {
			check(ja.ns/floor <= limit, "jwtauth %.0f ns/op = %.2fx raw floor (target <= %.2fx)", ja.ns, ja.ns/floor, limit)
		}
		for _, p := range peers {
			if st, ok := byRow[p]; ok {
				check(ja.ns < st.ns, "jwtauth faster than %s: %.0f vs %.0f ns/op (%.2fx)", p, ja.ns, st.ns, st.ns/ja.ns)
			}
			if st, ok := byRow[p+"+scope"]; ok {
				if js, ok := byRow["jwtauth+scope"]; ok {
					check(js.ns < st.ns, "jwtauth+scope faster than %s+scope: %.0f vs %.0f ns/op (%.2fx)", p, js.ns, st.ns, st.ns/js.ns)
				}
			}
		}
		if gj, ok := byRow["golang-jwt"]; ok && hasNoAuth {
			own := ja.ns - noAuth.ns
			check(own < gj.ns, "jwtauth without httptest (%.0f ns/op) faster than golang-jwt ParseWithClaims alone (%.0f ns/op)", own, gj.ns)
		}
		for _, r := range []string{"jwtauth", "jwtauth+scope", "jwtauth-cached"} {
			if st, ok := byRow[r]; ok {
				check(st.allocs <= maxAllocs, "%s %.0f allocs/op including httptest (target <= %d)", r, st.allocs, maxAllocs)
			}
		}
		if c, ok := byRow["jwtauth-cached"]; ok && hasNoAuth {
			check(c.ns-noAuth.ns <= maxCachedOverNs, "jwtauth-cached %.0f ns/op over no-auth (target <= %d)", c.ns-noAuth.ns, maxCachedOverNs)
			if bestNs > 0 {
				check(bestNs/c.ns >= minCachedSpeedup, "jwtauth-cached %.1fx faster than the best peer, %s (target >= %dx)", bestNs/c.ns, bestPeer, minCachedSpeedup)
			}
		}
	}

	// BenchmarkVerifyParallel: ns/op at each GOMAXPROCS and the speed-up over one P.
	type par struct {
		cpu int
		ns  float64
	}
	parallel := map[string][]par{}
	var parNames []string
	for _, key := range order {
		name, cpu, _ := strings.Cut(key, "@")
		rest, ok := strings.CutPrefix(name, "BenchmarkVerifyParallel/")
		if !ok {
			continue
		}
		n := 1
		if cpu != "" {
			n, _ = strconv.Atoi(cpu)
		}
		if _, ok := parallel[rest]; !ok {
			parNames = append(parNames, rest)
		}
		parallel[rest] = append(parallel[rest], par{n, stats[key].ns})
	}
	if len(parNames) > 0 {
		fmt.Fprintf(w, "\nBenchmarkVerifyParallel (medians; speed-up = ns/op at 1 P / ns/op at N P, ideal N)\n")
		for _, name := range parNames {
			ps := parallel[name]
			slices.SortFunc(ps, func(a, b par) int { return a.cpu - b.cpu })
			var cols []string
			for _, p := range ps {
				s := fmt.Sprintf("-cpu %d: %.0f ns/op", p.cpu, p.ns)
				if ps[0].cpu == 1 && p.cpu > 1 {
					s += fmt.Sprintf(" (%.2fx)", ps[0].ns/p.ns)
				}
				cols = append(cols, s)
			}
			fmt.Fprintf(w, "  %-22s %s\n", name, strings.Join(cols, "   "))
		}
	}
	return missed
}
