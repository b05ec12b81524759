#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzingclient against Switchboard's production WebSocket pipeline (the test-only
# /testing/echo endpoint) and prints a summary; exits non-zero on any FAILED case.
#
#   scripts/autobahn.sh quick   groups 1–11 plus 12.1.* and 13.1.* (a few minutes; CI)
#   scripts/autobahn.sh full    all 517 cases (~18 min on 2 cores; `make conformance`)
#
# The suite is Python 2 code: it runs in a virtualenv (.venv-autobahn) made from the pyenv Python 2.7.18 by
# virtualenv 20.21.1, the last release that still creates 2.7 environments. See docs/conformance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

selection="${1:-quick}"
case "$selection" in
    quick) cases='["1.*","2.*","3.*","4.*","5.*","6.*","7.*","8.*","9.*","10.*","11.*","12.1.*","13.1.*"]' ;;
    full) cases='["*"]' ;;
    *) echo "usage: $0 quick|full" >&2; exit 2 ;;
esac

out="artifacts/autobahn-$selection"
venv=".venv-autobahn"
log() { echo "autobahn: $*" >&2; }

# --- Python 2.7 and the suite (idempotent) ---------------------------------------------------------------------
find_python27() {
    for candidate in "${AUTOBAHN_PYTHON27:-}" "$HOME/.pyenv/versions/2.7.18/bin/python2.7" "$(command -v python2.7 || true)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    if command -v pyenv >/dev/null; then
        log "no Python 2.7 found: installing 2.7.18 with pyenv (needs the build dependencies of CPython)"
        pyenv install -s 2.7.18 >&2 && { echo "$(pyenv root)/versions/2.7.18/bin/python2.7"; return 0; }
    fi
    return 1
}

if ! "$venv/bin/wstest" --help >/dev/null 2>&1; then
    python27="$(find_python27)" || {
        echo "autobahn: Python 2.7 is required (set AUTOBAHN_PYTHON27 or install pyenv 2.7.18); see docs/conformance.md" >&2
        echo "autobahn: 0 passed, 1 failed"
        exit 1
    }
    log "creating $venv from $python27"
    # Debian's python3 needs python3-venv for `python3 -m venv`.
    if ! python3 -m venv .venv-autobahn-bootstrap >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2
        python3 -m venv .venv-autobahn-bootstrap
    fi
    .venv-autobahn-bootstrap/bin/pip install -q virtualenv==20.21.1
    rm -rf "$venv"
    .venv-autobahn-bootstrap/bin/virtualenv -q -p "$python27" "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check autobahntestsuite==25.10.1 2>&1 | grep -v DEPRECATION >&2 || true
    "$venv/bin/wstest" --help >/dev/null 2>&1 || { echo "autobahn: installing autobahntestsuite failed"; echo "autobahn: 0 passed, 1 failed"; exit 1; }
fi

# --- the server --------------------------------------------------------------------------------------------------
swift build --product switchboard >&2
binary="$(swift build --show-bin-path)/switchboard"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
rm -rf "$out"
mkdir -p "$out"
# Big-message cases (9.*) send up to 16 MiB; the suite drives connections faster than a heartbeat would matter.
"$binary" serve --host 127.0.0.1 --port "$port" --engine memory \
    --set testing.echo_endpoint=true \
    --set limits.max_message_bytes=16777216 \
    --set limits.message_timeout_ms=120000 \
    --set limits.outbound_queue_bytes=67108864 \
    >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
    sleep 0.1
done

cat >"$out/fuzzingclient.json" <<JSON
{
    "outdir": "./reports",
    "servers": [{"agent": "switchboard", "url": "ws://127.0.0.1:$port/testing/echo"}],
    "cases": $cases,
    "exclude-cases": [],
    "exclude-agent-cases": {}
}
JSON

log "running $selection cases against ws://127.0.0.1:$port/testing/echo"
start=$(date +%s)
(cd "$out" && "$OLDPWD/$venv/bin/wstest" -m fuzzingclient -s fuzzingclient.json >wstest.log 2>&1) || log "wstest exited non-zero (see $out/wstest.log)"
log "suite took $(($(date +%s) - start)) s"

# --- summary -----------------------------------------------------------------------------------------------------
python3 - "$out/reports/index.json" <<'PY'
import json, sys
from collections import Counter

try:
    index = json.load(open(sys.argv[1]))
except (OSError, ValueError) as error:
    print("autobahn: no report (%s)" % error)
    print("autobahn: 0 passed, 1 failed")
    sys.exit(1)

def key(case_id):
    return [int(part) for part in case_id.split(".")]

results = index["switchboard"]
statuses = Counter()
failed = []
for case_id in sorted(results, key=key):
    result = results[case_id]
    # A case fails if its behaviour or its closing behaviour failed.
    behavior = result["behavior"]
    if result.get("behaviorClose") == "FAILED":
        behavior = "FAILED"
    statuses[behavior] += 1
    # UNIMPLEMENTED would mean permessage-deflate was declined: Switchboard implements it, so that is a failure too.
    if behavior in ("FAILED", "UNIMPLEMENTED"):
        failed.append(case_id)
    elif behavior not in ("OK",):
        print("autobahn: %s %s" % (case_id, behavior))

print("autobahn: " + ", ".join("%s %d" % (status, count) for status, count in sorted(statuses.items())))
for case_id in failed:
    print("autobahn: FAILED %s (see reports/%s)" % (case_id, results[case_id].get("reportfile")))
passed = sum(count for status, count in statuses.items() if status not in ("FAILED", "UNIMPLEMENTED"))
print("autobahn: %d passed, %d failed" % (passed, len(failed)))
sys.exit(1 if failed or not passed else 0)
PY
