#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: its own data directory and port on 127.0.0.1,
# password authentication (scram-sha-256) for a role made for it, stopped and removed afterwards.
#   scripts/test-postgres.sh start DIR PORT   prints the server's URL (postgres://…) on stdout
#   scripts/test-postgres.sh restart DIR     stops the server at once (as a crash would) and starts it again
#   scripts/test-postgres.sh stop DIR
# PostgreSQL 15 comes from Debian's packages, installed here when missing.
set -euo pipefail
command=${1:?usage: test-postgres.sh start DIR PORT | stop DIR}
dir=${2:?a data directory}
here=$(cd "$(dirname "$0")" && pwd)

bin=""
find_bin() { bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true); }
find_bin
# Debian's server binaries refuse to run as root: as root they run as the `postgres` user.
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$command" in
start)
    port=${3:?a port}
    if [ -z "$bin" ]; then "$here/install-system-packages.sh" postgresql >&2; find_bin; fi
    [ -n "$bin" ] || { echo "test-postgres: PostgreSQL's server binaries are not installed" >&2; exit 1; }
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -d '+/=')
    printf '%s\n' "$password" > "$dir/.password"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/.password"
    as_server "$bin/initdb" -D "$dir/data" -U circuitry --pwfile="$dir/.password" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    printf '%s\n' "$port" > "$dir/.port"
    # The tests' database sorts text as a lab's server usually does (a language's collation, not
    # byte order), so the tests see that stores compare and order text as SQLite does regardless.
    PGPASSWORD=$password "$bin/psql" -q -h 127.0.0.1 -p "$port" -U circuitry -d postgres \
        -c "CREATE DATABASE circuitry TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'" >/dev/null
    echo "postgres://circuitry:$password@127.0.0.1:$port/circuitry"
    ;;
restart)
    port=$(cat "$dir/.port")
    as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
    sleep "${RESTART_PAUSE:-1}"
    as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null
    ;;
stop)
    if [ -n "$bin" ] && [ -d "$dir/data" ]; then as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
*) echo "usage: test-postgres.sh start DIR PORT | restart DIR | stop DIR" >&2; exit 2 ;;
esac
