#!/usr/bin/env bash
# Starts nginx+Nchan in the foreground on 127.0.0.1:PORT with the config next to this script, state in a temp dir.
# Usage: Benchmarks/nchan/run.sh PORT   (wrap in `taskset -c 0` to pin it)
set -euo pipefail
port="${1:-8090}"
prefix="$(mktemp -d /tmp/switchboard-nchan.XXXXXX)"
sed -e "s#__PREFIX__#${prefix}#g" -e "s#__PORT__#${port}#g" "$(dirname "$0")/nginx.conf" >"${prefix}/nginx.conf"
exec nginx -p "${prefix}" -c "${prefix}/nginx.conf"
