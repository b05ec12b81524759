#!/usr/bin/env bash
# Builds the libFuzzer binary (-sanitize=fuzzer,address, its own build folder) and runs every fuzz target, or the
# ones named, for SECONDS each (default 60) from a copy of its committed seed corpus.
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. bash scripts/fuzz.sh 30, bash scripts/fuzz.sh 600 json utf8
#   FUZZ_RUNS=10000000 bash scripts/fuzz.sh 0 json  runs a fixed number of inputs instead of a time
#   FUZZ_CONFIG=debug builds faster and runs slower (make test uses it); FUZZ_OUT=DIR moves logs and crash inputs.
# Ends with "N passed, N failed" (one per target); a crash or sanitizer report saves the input under
# artifacts/fuzz/TARGET/ and fails the target. See docs/security.md ("Fuzzing").
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-60}"
shift || true
config="${FUZZ_CONFIG:-release}"
out="${FUZZ_OUT:-artifacts/fuzz}"  # logs and crash inputs

mkdir -p "$out"
echo "fuzz: building switchboard-fuzz ($config, -sanitize=fuzzer,address)"
if ! SWITCHBOARD_FUZZ=1 swift build -c "$config" --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
    --product switchboard-fuzz > "$out/build.log" 2>&1; then
    grep -E "error:" "$out/build.log" | head -20
    echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1
fi
binary=".build-fuzz/$config/switchboard-fuzz"

if [ "$#" -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(ls Fuzz/corpus); fi
# Targets run FUZZ_JOBS at a time (default: one per core); each is single-threaded, so this halves the step's time
# on two cores without shortening any target's run. Results are printed in target order.
jobs="${FUZZ_JOBS:-$(nproc)}"
run_target() {
    local target="$1" work
    work="$(mktemp -d)"
    mkdir -p "$out/$target"
    # New inputs go to the temporary folder (first); the committed corpus (second) is only read.
    local limits=(-max_total_time="$seconds")
    [ -n "${FUZZ_RUNS:-}" ] && limits=(-runs="$FUZZ_RUNS")
    # SWIFT_BACKTRACE off: after a finding's abort() the Swift backtracer reads memory that AddressSanitizer reports.
    SWIFT_BACKTRACE=enable=no SWITCHBOARD_FUZZ_TARGET="$target" "$binary" "${limits[@]}" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$out/$target/" -print_final_stats=1 "$work" "Fuzz/corpus/$target" \
        > "$out/$target.log" 2>&1
    echo $? > "$out/$target.exit"
    rm -rf "$work"
}
for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    run_target "$target" &
done
wait

passed=0
failed=0
for target in "${targets[@]}"; do
    code=$(cat "$out/$target.exit" 2>/dev/null || echo 1)
    runs=$(grep -oE "^Done [0-9]+ runs" "$out/$target.log" | grep -oE "[0-9]+" | tail -1)
    if [ "$code" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $target ok, ${runs:-?} runs, 0 findings"
    else
        failed=$((failed + 1))
        echo "fuzz: $target FAILED (exit $code), inputs in $out/$target/:"
        grep -E "ERROR|fuzz finding|SUMMARY|Fatal error" "$out/$target.log" | head -5
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
