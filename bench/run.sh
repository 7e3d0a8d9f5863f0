#!/usr/bin/env bash
# Runs the side-by-side benchmarks and prints benchstat's table, then per algorithm each row's medians, its ratio
# to the raw signature check and the target checks (cmd/ratios).
#
# Environment:
#   COUNT      runs of each benchmark (default 6)
#   BENCHTIME  -benchtime of each run (default 1s)
#   BENCH      -bench pattern of the side-by-side suite (default ^BenchmarkVerify$; e.g. '^BenchmarkVerify$/ES256')
#   CPU        -cpu list for the side-by-side suite (default: not set, so GOMAXPROCS = all cores)
#   PAR_CPU    -cpu list for BenchmarkVerifyParallel (default 1,2); PAR_CPU=none skips it
#   OUT        file for the raw `go test` output (default bench.txt next to this script)
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-'^BenchmarkVerify$'}
CPU=${CPU:-}
PAR_CPU=${PAR_CPU:-1,2}
OUT=${OUT:-bench.txt}
BENCHSTAT_VERSION=${BENCHSTAT_VERSION:-v0.0.0-20260908200009-22c9c6c9d4da}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"

# The test binary is built once and run COUNT times, each run going through every row once (-count 1), so
# that a burst of load from other processes on a shared machine hits all rows alike instead of all runs of one
# row: `go test -count 6` would run the six runs of a row back to back.
go test -c -o "$tmp/bench.test"
run() {
	if ! "$tmp/bench.test" "$@" >>"$OUT" 2>&1; then
		tail -n 30 "$OUT" >&2
		exit 1
	fi
}

: >"$OUT"
echo "# $(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" >>"$OUT"
for i in $(seq "$COUNT"); do
	echo "round $i/$COUNT: go test -run '^\$' -bench '$BENCH' -benchmem -count 1 -benchtime $BENCHTIME${CPU:+ -cpu $CPU}" >&2
	run -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME" ${CPU:+-test.cpu "$CPU"}
	if [ "$PAR_CPU" != none ]; then
		echo "round $i/$COUNT: go test -run '^\$' -bench '^BenchmarkVerifyParallel\$' -benchmem -count 1 -benchtime $BENCHTIME -cpu $PAR_CPU" >&2
		run -test.run '^$' -test.bench '^BenchmarkVerifyParallel$' -test.benchmem -test.count 1 -test.benchtime "$BENCHTIME" -test.cpu "$PAR_CPU"
	fi
done
echo "raw output: $(realpath "$OUT")" >&2

echo "== benchstat $OUT"
"$tmp/benchstat" "$OUT"
echo
echo "== go run ./cmd/ratios $OUT"
# ratios exits 0 even when targets are missed: the script measures, it does not gate.
go run ./cmd/ratios "$OUT"
