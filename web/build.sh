#!/usr/bin/env bash
# Builds the demo apps into web/dist/ (not in git): the pages and styles are copied, the React demos are bundled with
# Debian's esbuild against Debian's React 18 (/usr/share/nodejs) and the sources of clients/js and clients/react
# (paths in web/tsconfig.json). No npm install, no prior build of clients/.
set -euo pipefail
cd "$(dirname "$0")"
command -v esbuild >/dev/null || { echo "web/build.sh: esbuild is missing (apt-get install esbuild)" >&2; exit 1; }
[ -d /usr/share/nodejs/react-dom ] || { echo "web/build.sh: React is missing (apt-get install node-react node-react-dom)" >&2; exit 1; }
[ -d /usr/share/nodejs/y-websocket ] || { echo "web/build.sh: Yjs is missing (apt-get install node-yjs node-y-websocket node-y-protocols)" >&2; exit 1; }
rm -rf dist
mkdir -p dist
cp ./*.html style.css dist/
# One ES module per page; React, the client and the bindings land in shared chunks (--splitting).
NODE_PATH=/usr/share/nodejs esbuild src/chat.jsx src/ticker.jsx src/notifications.jsx src/lab.jsx src/news.js src/news-ws.js src/editor.js \
  --bundle --splitting --format=esm --target=es2020 --minify --sourcemap \
  --tsconfig=tsconfig.json --jsx=automatic --define:process.env.NODE_ENV='"production"' \
  --outdir=dist --chunk-names=chunks/[name]-[hash] --log-level=warning
echo "web/build.sh: built $(ls dist/*.html | wc -l) pages into web/dist/"
