#!/usr/bin/env bash
# Instruction counts per operation for each row, with valgrind's callgrind: repeatable on a noisy shared
# machine, where ns/op can swing by ±10 % between runs. Each row runs N1 and N2 iterations; the difference,
# divided by N2-N1, removes start-up work. GOMAXPROCS=1 and no async preemption (callgrind cannot follow
# Go's preemption signals). Instructions are not nanoseconds (cache misses and GC pauses differ), but a
# ratio of instruction counts says how much work a row adds over the raw floor.
#
# Environment: ROWS (space-separated row names), ALGS (default "ES256 RS256"), N1/N2 (default 100/300).
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is required (apt-get install valgrind)" >&2; exit 1; }
ROWS=${ROWS:-"raw-floor no-auth golang-jwt keyfunc jwtauth jwtauth+scope jwtauth-cached auth0-v2 auth0-v3 go-chi-jwtauth"}
ALGS=${ALGS:-"ES256 RS256"}
N1=${N1:-100}
N2=${N2:-300}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/bench.test"

count() { # alg row n → total instructions
  local out="$tmp/cg.out"
  GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$tmp/bench.test" -test.run '^$' -test.bench "^BenchmarkVerify\$/^$1\$/^$(printf '%s' "$2" | sed 's/+/\\+/g')\$" \
    -test.benchtime "${3}x" -test.cpu 1 >/dev/null 2>"$tmp/cg.err" || { cat "$tmp/cg.err" >&2; exit 1; }
  awk '/^totals:/ {print $2}' "$out"
}

for alg in $ALGS; do
  echo "$alg (instructions per op, callgrind; N=$N1..$N2)"
  printf '  %-22s %12s %9s\n' row instr/op "x floor"
  floor=""
  for row in $ROWS; do
    a=$(count "$alg" "$row" "$N1"); b=$(count "$alg" "$row" "$N2")
    per=$(( (b - a) / (N2 - N1) ))
    [ "$row" = raw-floor ] && floor=$per
    if [ -n "$floor" ]; then
      printf '  %-22s %12d %8.3fx\n' "$row" "$per" "$(echo "$per $floor" | awk '{printf "%.3f", $1/$2}')"
    else
      printf '  %-22s %12d\n' "$row" "$per"
    fi
  done
done
