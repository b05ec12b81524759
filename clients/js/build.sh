#!/usr/bin/env bash
# Builds the browser client: type-check and .d.ts with tsc; an ES module, a CommonJS build (for Jest and other
# `require` users) and an IIFE (global `Switchboard`) with esbuild. Debian's /usr/bin/tsc and /usr/bin/esbuild are
# enough (no npm install); `npm run build` uses the devDependencies' copies when they are installed.
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
# CommonJS: its own folder with `"type": "commonjs"`, so the copy of the declarations there is read as CommonJS
# types by TypeScript's node16 resolution (the ESM ones would "masquerade" as CommonJS otherwise).
esbuild src/index.ts --bundle --format=cjs --platform=neutral --target=es2020 --outfile=dist/cjs/switchboard.cjs --log-level=warning
esbuild src/testing/index.ts --bundle --format=cjs --platform=neutral --target=es2020 --outfile=dist/cjs/testing.cjs --log-level=warning
echo '{ "type": "commonjs" }' > dist/cjs/package.json
cp -R dist/types dist/cjs/types
# npm pack takes the license from the package folder; the one LICENSE lives at the repository root.
cp ../../LICENSE LICENSE
echo "built: $(ls dist | tr '\n' ' ')"
