#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for tests: a new cluster in a temporary directory, on a free loopback port, as an
# unprivileged user (the server refuses to run as root), trust authentication, no fsync (test data only).
#
#   scripts/postgres-test-server.sh start          prints DIR and URL on two lines (URL: postgres://switchboard@127.0.0.1:PORT/postgres)
#   scripts/postgres-test-server.sh stop DIR       stops the server, keeps DIR (start-again restarts it on the same port)
#   scripts/postgres-test-server.sh start-again DIR
#   scripts/postgres-test-server.sh remove DIR     stops the server if it runs and deletes DIR
#
# Debian's binaries are used (/usr/lib/postgresql/15/bin; `apt-get install postgresql` puts them there).
set -euo pipefail
BIN="${POSTGRES_BIN:-/usr/lib/postgresql/15/bin}"
RUN_AS="switchboard-test"

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

server_start() {
    local dir="$1" port
    port="$(cat "$dir/port")"
    as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
        start >/dev/null
}

case "${1:-}" in
start)
    [ -x "$BIN/initdb" ] || { echo "postgres-test-server: $BIN/initdb is missing: apt-get install -y postgresql" >&2; exit 1; }
    if [ "$(id -u)" = 0 ] && ! id "$RUN_AS" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$RUN_AS"
    fi
    dir="$(mktemp -d /tmp/switchboard-postgres.XXXXXX)"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown "$RUN_AS" "$dir"
    as_owner "$BIN/initdb" -D "$dir/data" -U switchboard -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
    free_port >"$dir/port"
    # A port taken between choosing and binding makes pg_ctl fail: try a few.
    for attempt in 1 2 3 4 5; do
        if server_start "$dir" 2>>"$dir/start.log"; then
            echo "$dir"
            echo "postgres://switchboard@127.0.0.1:$(cat "$dir/port")/postgres"
            exit 0
        fi
        free_port >"$dir/port"
    done
    cat "$dir/server.log" >&2 2>/dev/null || true
    rm -rf "$dir"
    exit 1
    ;;
stop)
    as_owner "$BIN/pg_ctl" -D "$2/data" -m fast -w stop >/dev/null
    ;;
start-again)
    server_start "$2"
    ;;
remove)
    [ -d "$2/data" ] && as_owner "$BIN/pg_ctl" -D "$2/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$2"
    ;;
*)
    echo "usage: $0 start | stop DIR | start-again DIR | remove DIR" >&2
    exit 2
    ;;
esac
