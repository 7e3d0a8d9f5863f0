#!/usr/bin/env bash
# Runs the real-server load benchmark (bench/load): builds the binary once, then runs it; the server of each
# row is pinned to CPU 0 and this generator to CPU 1 (taskset). Arguments go to the binary, e.g.
#   bash load/run.sh                    # the full run: ES256 and RS256, K = 1, 100, 10000, stress rows
#   bash load/run.sh -smoke             # seconds (what .ci/run runs); also SMOKE=1
#   bash load/run.sh -rounds 3 -invalid 0.05 -algs RS256
# `go run ./load -h` lists every flag.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/load" ./load
"$tmp/load" "$@"
