#!/usr/bin/env bash
# Runs every test runner and ends with one line "N passed, N failed".
# Installs what the tests need first (idempotent), so it works on a fresh machine of this kind.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
export PATH="/opt/swift/usr/bin:$PATH"

bash scripts/install-build-deps.sh && bash scripts/install-test-deps.sh || { echo "installing test dependencies failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
echo "== swift build"
if ! swift build --build-tests 2>&1 | tee artifacts/swift-build.log | grep -E "error:|Compiling|Build complete" | grep -v "^\[" | tail -20; then :; fi
if ! grep -q "Build complete" artifacts/swift-build.log; then
    echo "swift build failed"; tail -50 artifacts/swift-build.log; echo "0 passed, 1 failed"; exit 1
fi
swift build --product switchboard >/dev/null 2>&1 || { echo "building the switchboard binary failed"; echo "0 passed, 1 failed"; exit 1; }

# One PostgreSQL 15 for the Swift tests and pytest (each test makes its own database in it); removed on exit.
# Tests that need PostgreSQL fail when SWITCHBOARD_TEST_POSTGRES_URL is missing (docs/engines.md, "Testing"). It is
# given to those two runners only: a server started with it in its environment refuses it (unknown SWITCHBOARD_*).
postgres_out="$(bash scripts/postgres-test-server.sh start)" || { echo "starting PostgreSQL for the tests failed"; echo "0 passed, 1 failed"; exit 1; }
postgres_dir="$(echo "$postgres_out" | head -1)"
postgres_url="$(echo "$postgres_out" | tail -1)"
trap 'bash scripts/postgres-test-server.sh remove "$postgres_dir"' EXIT
echo "PostgreSQL for the tests: $postgres_url"

echo "== swift test"
# A watchdog: a test that hangs must fail the run with its name, not use up CI's time. The whole suite takes 1-10 min
# on 2 cores; SWIFT_TEST_TIMEOUT (seconds) moves the limit. timeout signals the whole process group (swift test and
# the test binary it starts). The output goes to a file, not a pipe: a process a test started and left behind would
# hold a pipe open and keep the step waiting after the tests ended.
# At most SWIFT_TEST_WIDTH tests at a time (default 24) instead of all ~1,000 at once: on a loaded two-core machine the
# timing-sensitive ones (slow readers, rate limits, PostgreSQL nodes starting) failed and passed alone.
SWITCHBOARD_TEST_POSTGRES_URL="$postgres_url" timeout -k 20 "${SWIFT_TEST_TIMEOUT:-900}" swift test --skip-build \
    --experimental-maximum-parallelization-width "${SWIFT_TEST_WIDTH:-24}" \
    --event-stream-output-path artifacts/swift-test-events.jsonl --event-stream-version 0 > artifacts/swift-test.log 2>&1
swift_status=$?
grep -E "✘|Test run with|error:|Fatal" artifacts/swift-test.log | tail -60
if [ "$swift_status" -eq 124 ] || [ "$swift_status" -eq 137 ]; then
    echo "swift test did not finish within ${SWIFT_TEST_TIMEOUT:-900} s; tests still running:"
    python3 scripts/unfinished_tests.py artifacts/swift-test-events.jsonl
    # swift test starts the test binary in a process group of its own, which the timeout does not reach.
    pkill -KILL -f "SwitchboardPackageTests.xctest" || true
fi
[ "$swift_status" -eq 0 ] || status=1

echo "== pytest (CLI, tour, independent peers, real browser)"
# Each test has 300 s (pytest-timeout names it and prints its stack); the step as a whole 1800 s.
SWITCHBOARD_TEST_POSTGRES_URL="$postgres_url" timeout -k 20 "${PYTEST_TIMEOUT:-1800}" python3 -m pytest tests -q -p no:cacheprovider \
    --timeout 300 > artifacts/pytest.log 2>&1
[ $? -eq 0 ] || status=1
tail -15 artifacts/pytest.log

echo "== node --test (browser client)"
SWITCHBOARD_BIN="$PWD/.build/debug/switchboard" timeout -k 20 900 bash clients/js/test.sh > artifacts/node-test.log 2>&1
[ $? -eq 0 ] || status=1
grep -E "^# (pass|fail) " artifacts/node-test.log
grep -E "^not ok " artifacts/node-test.log | head -20

echo "== node --test (React bindings)"
SWITCHBOARD_BIN="$PWD/.build/debug/switchboard" timeout -k 20 900 bash clients/react/test.sh > artifacts/node-test-react.log 2>&1
[ $? -eq 0 ] || status=1
grep -E "^# (pass|fail) " artifacts/node-test-react.log
grep -E "^not ok " artifacts/node-test-react.log | head -20

echo "== autobahn (WebSocket conformance: groups 1-11, 12.1, 13.1; make conformance runs all)"
timeout -k 20 900 bash scripts/autobahn.sh quick > artifacts/autobahn.log 2>&1
[ $? -eq 0 ] || status=1
grep -E "^autobahn: " artifacts/autobahn.log | tail -30

echo "== fuzz (every parser target ${FUZZ_SECONDS:-30} s under libFuzzer + AddressSanitizer; make fuzz runs longer)"
FUZZ_CONFIG=debug timeout -k 20 2400 bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}" > artifacts/fuzz.log 2>&1
[ $? -eq 0 ] || status=1
grep -E "^fuzz: |passed, " artifacts/fuzz.log | tail -20

python3 scripts/summarize_tests.py artifacts/swift-test.log artifacts/pytest.log artifacts/node-test.log artifacts/node-test-react.log artifacts/autobahn.log artifacts/fuzz.log || status=1
exit $status
