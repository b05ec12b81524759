#!/usr/bin/env bash
# Installs what the test suites need, only when missing (safe to run again).
set -euo pipefail
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c "import pytest" 2>/dev/null || need_apt+=(python3-pytest)
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
