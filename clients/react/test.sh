#!/usr/bin/env bash
# Builds the React bindings and runs their tests (node --test, TAP output: ends with "# pass N" / "# fail N").
# The real-server scenarios use $SWITCHBOARD_BIN, else <repo>/.build/debug/switchboard.
set -uo pipefail
cd "$(dirname "$0")"
if ! ./build.sh; then
  echo "# pass 0"
  echo "# fail 1"
  exit 1
fi
# Debian's React packages find their own dependencies (scheduler, …) through NODE_PATH.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
if [ $# -eq 0 ]; then set -- test/*.test.mjs; fi
exec node --experimental-websocket --no-warnings=ExperimentalWarning --test --test-reporter=tap "$@"
