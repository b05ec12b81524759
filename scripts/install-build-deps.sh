#!/usr/bin/env bash
# Installs what building the hub needs beyond Swift, only when missing: the system SQLite library and headers, which
# the embedded engine uses through GRDB (docs/engines.md).
set -euo pipefail
if ! dpkg -s libsqlite3-dev >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libsqlite3-dev
fi
