#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server.
#
#   scripts/with_postgres.sh .venv/bin/pytest tests/test_demo.py -q
#
# Why: the app runs on SQLite by default but must also run on PostgreSQL; CI proves it by running
# the database tests against a real server. This script installs Debian's PostgreSQL when it is
# missing (as root), creates a cluster in a temporary folder, starts it on 127.0.0.1 on a free
# port with trust authentication, creates the database cpts_test, exports
#   CPTS_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/cpts_test
# runs the command, then always stops the server and deletes the cluster. The command's exit
# status is the script's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 64
fi

find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    fi
}

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "with_postgres: PostgreSQL is not installed and installing it needs root." >&2
        exit 69
    fi
    echo "with_postgres: installing PostgreSQL (apt-get)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BINDIR=$(find_bindir)
    if [ -z "$BINDIR" ]; then
        echo "with_postgres: initdb still not found under /usr/lib/postgresql/*/bin" >&2
        exit 69
    fi
fi

# PostgreSQL refuses to run as root: as root, the server runs as the "postgres" system user.
if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    as_server() { runuser -u postgres -- "$@"; }
else
    as_server() { "$@"; }
fi

CLUSTER=$(mktemp -d "${TMPDIR:-/tmp}/cpts-pg.XXXXXX")
DATA="$CLUSTER/data"
SERVER_STARTED=0

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$SERVER_STARTED" -eq 1 ]; then
        as_server "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || as_server "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 10 stop >/dev/null 2>&1 \
            || true
        if [ -f "$DATA/postmaster.pid" ]; then
            # Last resort: the postmaster's pid is the first line of its pid file.
            kill -9 "$(head -n 1 "$DATA/postmaster.pid")" 2>/dev/null || true
        fi
    fi
    rm -rf "$CLUSTER"
    exit "$status"
}
CHILD=0
on_signal() {
    # Pass the signal on to the command, let it finish, then clean up (EXIT trap).
    if [ "$CHILD" -ne 0 ]; then
        kill "-$1" "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$CLUSTER"
fi
chmod 700 "$CLUSTER"

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
PORT=${CPTS_PG_PORT:-55432}
while port_in_use "$PORT"; do
    PORT=$((PORT + 1))
    if [ "$PORT" -gt 55632 ]; then
        echo "with_postgres: no free port between 55432 and 55632" >&2
        exit 69
    fi
done

as_server "$BINDIR/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >/dev/null
as_server mkdir -p "$CLUSTER/socket"
SERVER_STARTED=1
if ! as_server "$BINDIR/pg_ctl" -D "$DATA" -l "$CLUSTER/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $CLUSTER/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null; then
    echo "with_postgres: the server did not start; its log:" >&2
    cat "$CLUSTER/server.log" >&2 || true
    exit 69
fi
"$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres cpts_test

export CPTS_TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/cpts_test"
echo "with_postgres: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2

# In the background so that a signal reaches the trap at once; "<&0" keeps stdin (a background
# command would otherwise read /dev/null, e.g. "cpts create-user" reading a piped password).
set +e
"$@" <&0 &
CHILD=$!
wait "$CHILD"
STATUS=$?
set -e
exit "$STATUS"
