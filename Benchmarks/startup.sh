#!/usr/bin/env bash
# Issue target 6: cold start to ready, and the release binary's size. Starts `switchboard serve` RUNS times (default
# 5) with development defaults and measures, from exec to the first accepted TCP connection and to the first 200 from
# GET /readyz, polling every millisecond. Prints one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/switchboard}
RUNS=${RUNS:-5}
python3 - "$BIN" "$RUNS" <<'PY'
import json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

binary, runs = sys.argv[1], int(sys.argv[2])

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def milliseconds_until(check, start, what):
    """Polls `check` every millisecond until it holds; the time since `start`."""
    while True:
        try:
            if check():
                return (time.monotonic() - start) * 1000
        except OSError:
            pass
        if time.monotonic() - start > 10:
            raise SystemExit(f"server not {what} within 10 s")
        time.sleep(0.001)

def accepts(port):
    socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
    return True

def ready(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
        return response.status == 200

accept_ms, ready_ms = [], []
for _ in range(runs):
    port = free_port()
    start = time.monotonic()
    server = subprocess.Popen([binary, "serve", "--port", str(port), "--log-level", "warning",
                               "--set", "engine.sqlite.path=" + tempfile.mkdtemp(prefix="switchboard-data-")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        accept_ms.append(milliseconds_until(lambda: accepts(port), start, "accepting"))
        ready_ms.append(milliseconds_until(lambda: ready(port), start, "ready"))
    finally:
        server.terminate()
        server.wait()

size = os.path.getsize(binary)
stripped = subprocess.run(["sh", "-c", f"strip -o /tmp/switchboard-stripped {binary} && stat -c %s /tmp/switchboard-stripped"],
                          capture_output=True, text=True).stdout.strip()
print(json.dumps({
    "runs": runs,
    "acceptMillisMedian": round(statistics.median(accept_ms), 1),
    "acceptMillisMax": round(max(accept_ms), 1),
    "readyMillisMedian": round(statistics.median(ready_ms), 1),
    "readyMillisMax": round(max(ready_ms), 1),
    "binaryBytes": size,
    "strippedBinaryBytes": int(stripped) if stripped.isdigit() else None,
}))
PY
