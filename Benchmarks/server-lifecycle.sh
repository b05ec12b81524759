# Sourced by the benchmark scripts: one server process at a time, killed on exit.
# Uses $PORT; sets server_pid (the process stop_server kills).
server_pid=""

stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

wait_for_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server did not open port $PORT" >&2
    return 1
}

# One fan-out run of BENCH_BINARY against TARGET (switchboard, nchan) on $PORT, pinned to CPU 1, its JSON report to FILE; uses $KEY,
# $RATE, $DURATION and $PAYLOAD. A run that reports loss or failure is said so and does not stop the script.
run_bench() { # BENCH_BINARY FILE TARGET TRANSPORT COUNT MEASURED_PID
    local bench=$1 file=$2 target=$3 transport=$4 count=$5 measured=$6
    taskset -c 1 "$bench" bench --target "$target" --url "http://127.0.0.1:$PORT" --api-key "$KEY" \
        --"$transport" "$count" $([[ "$transport" == sse ]] && echo --ws 0) \
        --rate "$RATE" --duration "$DURATION" --payload-bytes "$PAYLOAD" --connect-rate 2000 \
        --server-pid "$measured" --json --quiet >"$file" || echo "(run reported loss or failure)" >&2
}
