#!/usr/bin/env bash
# Switchboard vs Nchan, side by side (docs/benchmarks.md): each server on CPU 0, the bench on CPU 1, a fresh server
# process per run so RSS deltas are not flattered by memory kept from an earlier run. Writes one JSON report per run
# to $OUT and prints a summary table (medians) at the end.
#
# Knobs (environment): RUNS (3), DURATION (20 s), RATE (100/s), PAYLOAD (128 B), SCENARIOS ("ws:1000 ws:5000 sse:5000"),
# TARGETS ("switchboard nchan"), OUT (artifacts/bench), ENGINE (memory; sqlite runs the durable default in a fresh data
# directory per run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/switchboard
OUT=${OUT:-artifacts/bench}
RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
RATE=${RATE:-100}
PAYLOAD=${PAYLOAD:-128}
SCENARIOS=${SCENARIOS:-"ws:1000 ws:5000 sse:5000"}
TARGETS=${TARGETS:-"switchboard nchan"}
ENGINE=${ENGINE:-memory}
KEY=bench-key-0123456789
PORT=18181
mkdir -p "$OUT"

source Benchmarks/server-lifecycle.sh

# Starts the target pinned to CPU 0; sets server_pid (the process to kill) and measured_pid (the one doing the work).
start_server() {
    case "$1" in
    switchboard)
        SWITCHBOARD_API_KEY=$KEY taskset -c 0 "$BIN" serve --port "$PORT" --log-level warning --engine "$ENGINE" --set engine.sqlite.path="$(mktemp -d)" >"$OUT/server.log" 2>&1 &
        server_pid=$!
        measured_pid=$server_pid
        ;;
    nchan)
        taskset -c 0 Benchmarks/nchan/run.sh "$PORT" >"$OUT/server.log" 2>&1 &
        server_pid=$!
        wait_for_port
        measured_pid=$(pgrep -P "$server_pid" | head -1) # the single nginx worker
        ;;
    esac
    wait_for_port
}

for run in $(seq "$RUNS"); do
    for scenario in $SCENARIOS; do
        transport=${scenario%%:*}
        count=${scenario##*:}
        for target in $TARGETS; do
            start_server "$target"
            file="$OUT/$target-$transport-$count-run$run.json"
            echo "== run $run: $target, $count $transport subscribers -> $file" >&2
            run_bench "$BIN" "$file" "$target" "$transport" "$count" "$measured_pid"
            stop_server
        done
    done
done
python3 Benchmarks/plot.py "$OUT"
