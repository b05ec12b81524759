#!/usr/bin/env bash
# Builds the browser client: type-check and .d.ts with tsc, an ES module and an IIFE (global `Switchboard`) with
# esbuild. Only Debian's /usr/bin/tsc and /usr/bin/esbuild are needed (no npm install).
set -euo pipefail
cd "$(dirname "$0")"
rm -rf dist
tsc -p tsconfig.json
esbuild src/index.ts --bundle --format=esm --target=es2020 --sourcemap --outfile=dist/switchboard.mjs --log-level=warning
esbuild src/testing/index.ts --bundle --format=esm --target=es2020 --outfile=dist/testing.mjs --log-level=warning
esbuild src/index.ts --bundle --format=iife --global-name=Switchboard --target=es2020 --sourcemap \
  --outfile=dist/switchboard.iife.js --log-level=warning
# The SharedWorker script apps serve from their own origin (a classic script; also loads as a module worker).
esbuild src/worker.ts --bundle --format=iife --target=es2020 --sourcemap --outfile=dist/switchboard-worker.js --log-level=warning
echo "built: $(ls dist | tr '\n' ' ')"
