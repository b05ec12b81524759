#!/usr/bin/env bash
# Two server builds, one bench client (docs/benchmarks.md, "before/after"): interleaved rounds (before, after; then
# after, before; …) so slow drifts of the machine hit both builds alike, each server pinned to CPU 0 and the bench to
# CPU 1, a fresh server process per run, the memory engine. The bench binary is the same for both builds, so only the
# server differs.
#
#   Benchmarks/before-after.sh BEFORE_BINARY AFTER_BINARY
#
# Knobs (environment): ROUNDS (6), DURATION (20 s), RATE (100/s), PAYLOAD (128 B), SCENARIOS ("ws:5000 sse:5000"),
# OUT (artifacts/before-after), BENCH (.build/release/switchboard), BEFORE_ARGS / AFTER_ARGS (extra `serve` arguments;
# default `--engine memory` for builds that have engines, nothing for older ones), BEFORE_ENV / AFTER_ENV (extra
# environment of that server, `NAME=VALUE …`; the same binary twice with different environments compares settings).
# Writes one JSON report per run,
# named before-rN-… / after-rN-…, and the load average at each run's start to $OUT/uptime.log.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 BEFORE_BINARY AFTER_BINARY" >&2; exit 2; }
declare -A BINARY=([before]=$1 [after]=$2)
BENCH=${BENCH:-.build/release/switchboard}
OUT=${OUT:-artifacts/before-after}
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-20}
RATE=${RATE:-100}
PAYLOAD=${PAYLOAD:-128}
SCENARIOS=${SCENARIOS:-"ws:5000 sse:5000"}
KEY=bench-key-0123456789
PORT=18181
mkdir -p "$OUT"

source Benchmarks/server-lifecycle.sh

# `--engine memory` where the build knows the option (builds before the engines had only memory).
engine_args() {
    if "$1" serve --help 2>&1 | grep -q -- "--engine"; then echo "--engine memory"; fi
}
declare -A ENVIRONMENT=([before]=${BEFORE_ENV:-} [after]=${AFTER_ENV:-})
declare -A ARGS=([before]=${BEFORE_ARGS-$(engine_args "${BINARY[before]}")} [after]=${AFTER_ARGS-$(engine_args "${BINARY[after]}")})

for round in $(seq "$ROUNDS"); do
    order="before after"
    ((round % 2 == 0)) && order="after before"
    for scenario in $SCENARIOS; do
        transport=${scenario%%:*}
        count=${scenario##*:}
        for build in $order; do
            # shellcheck disable=SC2086 # ARGS holds separate words
            # shellcheck disable=SC2086 # ENVIRONMENT holds separate words
            env ${ENVIRONMENT[$build]} SWITCHBOARD_API_KEY=$KEY taskset -c 0 "${BINARY[$build]}" serve --port "$PORT" --log-level warning ${ARGS[$build]} \
                >"$OUT/server.log" 2>&1 &
            server_pid=$!
            wait_for_port
            file="$OUT/$build-r$round-$transport-$count.json"
            echo "$(date -u +%H:%M:%S) $build r$round $scenario $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/uptime.log" >&2
            run_bench "$BENCH" "$file" switchboard "$transport" "$count" "$server_pid"
            stop_server
        done
    done
done
python3 Benchmarks/before-after-summary.py "$OUT"
