#!/usr/bin/env bash
# Builds the browser client and runs its tests (node --test, TAP output: ends with "# pass N" / "# fail N").
# The server binary comes from $SWITCHBOARD_BIN, else <repo>/.build/debug/switchboard.
set -uo pipefail
cd "$(dirname "$0")"
if ! ./build.sh; then
  echo "# pass 0"
  echo "# fail 1"
  exit 1
fi
exec node --experimental-websocket --no-warnings=ExperimentalWarning --test --test-reporter=tap test/*.test.mjs
