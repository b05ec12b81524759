#!/usr/bin/env bash
# Installs what `make run` needs to build the demo apps (web/build.sh), only when missing: Debian's esbuild, React and Yjs
# (the collaborative editor: yjs, y-websocket and its y-protocols).
set -euo pipefail
need_apt=()
command -v esbuild >/dev/null || need_apt+=(esbuild)
[ -d /usr/share/nodejs/react ] || need_apt+=(node-react)
[ -d /usr/share/nodejs/react-dom ] || need_apt+=(node-react-dom)
[ -d /usr/share/nodejs/yjs ] || need_apt+=(node-yjs)
[ -d /usr/share/nodejs/y-websocket ] || need_apt+=(node-y-websocket node-y-protocols)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
