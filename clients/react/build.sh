#!/usr/bin/env bash
# Builds the React bindings: type-check and .d.ts with tsc, ES modules with esbuild. Only Debian's tsc, esbuild and
# /usr/share/nodejs packages are used (no npm install).
#
# React and the browser client are peer dependencies: both bundles import `react` and `@switchboard/client`
# instead of carrying copies, so an app that also imports the client gets one client class, one React. For the
# tests, node_modules/ (not in git) links those names to Debian's React and to ../js, whose dist/ is built first.
set -euo pipefail
cd "$(dirname "$0")"
../js/build.sh >/dev/null
mkdir -p node_modules/@switchboard
ln -sfn ../../../js node_modules/@switchboard/client
ln -sfn ../.. node_modules/@switchboard/react   # the tests import the bindings by their package name
for package in react react-dom react-test-renderer scheduler react-is jsdom; do
  [ -d "/usr/share/nodejs/$package" ] && ln -sfn "/usr/share/nodejs/$package" "node_modules/$package"
done
rm -rf dist
tsc -p tsconfig.json
external=(--external:react --external:@switchboard/client --external:@switchboard/client/testing)
# Hooks and the provider only run in the browser: frameworks with React Server Components must treat the bindings as
# client code. esbuild drops directives it does not know from a bundle, so the banner puts it back on line 1.
client_directive=(--banner:js='"use client";')
esbuild src/index.ts --bundle --format=esm --target=es2020 --sourcemap "${external[@]}" "${client_directive[@]}" \
  --outfile=dist/switchboard-react.mjs --log-level=warning
esbuild src/testing/index.ts --bundle --format=esm --target=es2020 "${external[@]}" "${client_directive[@]}" \
  --outfile=dist/testing.mjs --log-level=warning
# CommonJS (Jest, `require`): its own folder with `"type": "commonjs"` and its own copy of the declarations, which
# TypeScript's node16 resolution then reads as CommonJS types.
esbuild src/index.ts --bundle --format=cjs --platform=neutral --target=es2020 "${external[@]}" "${client_directive[@]}" \
  --outfile=dist/cjs/switchboard-react.cjs --log-level=warning
esbuild src/testing/index.ts --bundle --format=cjs --platform=neutral --target=es2020 "${external[@]}" "${client_directive[@]}" \
  --outfile=dist/cjs/testing.cjs --log-level=warning
echo '{ "type": "commonjs" }' > dist/cjs/package.json
cp -R dist/types dist/cjs/types
cp ../../LICENSE LICENSE
echo "built: $(ls dist | tr '\n' ' ')"
