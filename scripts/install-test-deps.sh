#!/usr/bin/env bash
# Installs what the test suites need, only when missing (safe to run again).
set -euo pipefail
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c "import pytest" 2>/dev/null || need_apt+=(python3-pytest)
# The browser client (clients/js) is built and tested with Debian's Node packages; no npm registry is used.
command -v node >/dev/null || need_apt+=(nodejs)
command -v esbuild >/dev/null || need_apt+=(esbuild)
command -v tsc >/dev/null || need_apt+=(node-typescript)
[ -d /usr/share/nodejs/jsdom ] || need_apt+=(node-jsdom)
[ -d /usr/share/nodejs/react ] || need_apt+=(node-react node-react-dom node-react-test-renderer)
# The Yjs update utilities are checked against Yjs itself (tests/yjs); y-websocket and ws are its client and socket.
[ -d /usr/share/nodejs/yjs ] || need_apt+=(node-yjs)
[ -d /usr/share/nodejs/y-websocket ] || need_apt+=(node-y-websocket node-y-protocols)
[ -d /usr/share/nodejs/ws ] || need_apt+=(node-ws)
# Real-browser tests drive Debian's Chromium.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
# The PostgreSQL engine's tests start their own PostgreSQL 15 (scripts/postgres-test-server.sh).
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql)
# The cluster test puts haproxy (round robin, no stickiness) in front of three nodes (tests/engine/test_cluster_haproxy.py).
command -v haproxy >/dev/null || need_apt+=(haproxy)
# /metrics is checked by promtool and scraped by a real Prometheus (tests/cli/test_metrics_prometheus.py).
command -v promtool >/dev/null && command -v prometheus >/dev/null || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
python3 -c "import pytest" 2>/dev/null || python3 -m pip install -q pytest
# The permessage-deflate tests use an independent client implementation.
python3 -c "import websockets" 2>/dev/null || python3 -m pip install -q websockets
# The MessagePack codecs are checked against an independent implementation (tests/msgpack_vectors).
python3 -c "import msgpack" 2>/dev/null || python3 -m pip install -q msgpack
# The Yjs update utilities' second oracle (tests/yjs): pycrdt, Python bindings of the Rust port yrs.
python3 -c "import pycrdt" 2>/dev/null || python3 -m pip install -q pycrdt
# The real-browser tests (tests/browser) drive Debian's chromium/chromedriver with Selenium.
python3 -c "import selenium" 2>/dev/null || python3 -m pip install -q selenium
# A test that hangs fails with its name and stack after scripts/test.sh's per-test limit instead of using up CI's time.
python3 -c "import pytest_timeout" 2>/dev/null || python3 -m pip install -q pytest-timeout
