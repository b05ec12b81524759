#!/usr/bin/env bash
# The bench's newer modes against a release Switchboard (docs/benchmarks.md, "New modes"): fan-out to WebSocket vs
# long-poll subscribers, echo round trips, a reconnect storm, and many subscribers spread over worker processes. Each
# scenario gets a fresh server pinned to CPU 0 with the bench on CPU 1; one JSON report per scenario in $OUT, and a
# summary table at the end. About 2–3 minutes of load in all.
#
# Knobs (environment): OUT (artifacts/bench-modes), DURATION (10 s), SCENARIOS (all of the names below).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/switchboard
OUT=${OUT:-artifacts/bench-modes}
DURATION=${DURATION:-10}
SCENARIOS=${SCENARIOS:-"fanout-ws-1000 fanout-poll-1000 echo-100 storm-5000 fanout-ws-15000-workers idle-sse-15000-workers baseline-ws-15000-workers"}
ENGINE=${ENGINE:-memory}
KEY=bench-key-0123456789
PORT=18191
mkdir -p "$OUT"

source Benchmarks/server-lifecycle.sh

start_server() {
    if [[ "${1:-}" == baseline ]]; then
        # The bare SwiftNIO WebSocket server: what a connection costs without any hub state.
        taskset -c 0 "$BIN" bench-baseline-server --port "$PORT" >"$OUT/server.log" 2>&1 &
    else
        SWITCHBOARD_API_KEY=$KEY taskset -c 0 "$BIN" serve --port "$PORT" --log-level warning --engine "$ENGINE" --set engine.sqlite.path="$(mktemp -d)" >"$OUT/server.log" 2>&1 &
    fi
    server_pid=$!
    wait_for_port
}

bench() {
    taskset -c 1 "$BIN" bench --url "http://127.0.0.1:$PORT" --api-key "$KEY" --server-pid "$server_pid" --json --quiet "$@"
}

for scenario in $SCENARIOS; do
    if [[ "$scenario" == baseline-* ]]; then start_server baseline; else start_server; fi
    file="$OUT/$scenario.json"
    echo "== $scenario -> $file" >&2
    case "$scenario" in
    fanout-ws-1000) bench --ws 1000 --rate 100 --duration "$DURATION" --payload-bytes 128 >"$file" || true ;;
    fanout-poll-1000) bench --ws 0 --poll 1000 --rate 100 --duration "$DURATION" --payload-bytes 128 >"$file" || true ;;
    # 10 publications/s per client: well under limits.commands_per_second (100 per connection).
    echo-100) bench --mode echo --ws 100 --rate 1000 --duration "$DURATION" --payload-bytes 128 >"$file" || true ;;
    # Issue target 5: 5,000 clients drop and come back at once, each recovering 100 missed publications.
    storm-5000) bench --mode reconnect-storm --ws 5000 --channels 1 --missed 100 --rate 1000 --workers 2 >"$file" || true ;;
    # Issue target 4: 15,000 WebSocket subscribers on one server process, 1 publication/s; the bench holds them in 2
    # worker processes.
    # Issue target 3: idle memory per connection over 15,000 connections (heartbeats on), SSE, and a bare SwiftNIO
    # WebSocket server in the same run (memory only: it has no publish endpoint, its one publication is refused).
    idle-sse-15000-workers) bench --ws 0 --sse 15000 --rate 1 --duration 2 --connect-rate 3000 --settle 3 --workers 2 --source-addresses 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 >"$file" || true ;;
    baseline-ws-15000-workers) bench --target nchan --ws 15000 --rate 1 --duration 1 --connect-rate 3000 --settle 3 --workers 2 --source-addresses 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 >"$file" || true ;;
    fanout-ws-15000-workers) bench --ws 15000 --rate 1 --duration "$DURATION" --connect-rate 3000 --workers 2 --source-addresses 127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5 >"$file" || true ;;
    esac
    stop_server
done

python3 - "$OUT" $SCENARIOS <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| scenario | established / failed | delivered / expected | lost | dup | p50 ms | p99 ms | max ms | server µs/delivery | server B/conn | bench CPU % | extra |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for name in sys.argv[2:]:
    try:
        r = json.loads((out / f"{name}.json").read_text())
    except Exception as error:
        print(f"| {name} | no report ({error}) |"); continue
    s = r.get("server") or {}
    lat = r["latencyMillis"]
    extra = ""
    if r.get("storm"):
        st = r["storm"]
        t = st["allRecoveredSeconds"]
        extra = f"{st['recovered']}/{st['reconnected']} recovered, {st['resets']} resets, all after {t:.2f} s; recovery p50 {st['recoveryMillis']['p50']:.0f} ms p99 {st['recoveryMillis']['p99']:.0f} ms" if t is not None else f"{st['recovered']}/{st['reconnected']} recovered (NOT all)"
    if r.get("echo"):
        e = r["echo"]; extra = f"{e['sent']} sent, {e['accepted']} accepted, {e['refused']} refused"
    print(f"| {name} | {r['established']} / {r['failed']} | {r['delivered']} / {r['expectedDeliveries']} | {r['lost']} | {r['duplicated']} | "
          f"{lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} | {s.get('cpuMicrosPerDelivery', float('nan')):.2f} | "
          f"{s.get('bytesPerConnection', float('nan')):.0f} | {r['benchCPUUtilisation']*100:.0f} | {extra} |")
PY
