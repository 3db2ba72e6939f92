#!/usr/bin/env bash
# Run a command against a throwaway Redis server.
#
#   scripts/with_redis.sh env GRANIAN_WORKERS=2 reflex run --env prod --single-port
#   scripts/with_redis.sh .venv/bin/python -m benchmarks.ws_fanout --url http://localhost:3000
#
# Why: several backend workers share the browsers' state through Redis (docs/operations.md); tests
# and benchmarks need a real one that nothing else can reach. This script installs Debian's
# redis-server when it is missing (as root), starts it in a temporary folder on 127.0.0.1 on a
# free port (from 56379, or CPTS_REDIS_PORT), protected mode on, no persistence, a random password
# written only in its 0600 configuration file, exports
#   REFLEX_REDIS_URL=redis://:PASSWORD@127.0.0.1:PORT/0
# runs the command, then always stops the server and deletes the folder (also on failure and
# Ctrl-C). The command's exit status is the script's.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 64
fi

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "with_redis: redis-server is not installed and installing it needs root." >&2
        exit 69
    fi
    echo "with_redis: installing redis-server (apt-get)…" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq redis-server >&2; then
        apt-get update -qq >&2
        apt-get install -y -qq redis-server >&2
    fi
    # Debian's package may start a system-wide server on 6379: this script does not need it.
    systemctl disable --now redis-server >/dev/null 2>&1 || service redis-server stop >/dev/null 2>&1 || true
fi

WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/cpts-redis.XXXXXX")
chmod 700 "$WORKDIR"
REDIS_PID=0

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$REDIS_PID" -ne 0 ]; then
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
    rm -rf "$WORKDIR"
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

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
PORT=${CPTS_REDIS_PORT:-56379}
while port_in_use "$PORT"; do
    PORT=$((PORT + 1))
    if [ "$PORT" -gt 56579 ]; then
        echo "with_redis: no free port between 56379 and 56579" >&2
        exit 69
    fi
done

# Hex only, so that it needs no escaping in the URL; in the config file, not on the command line
# (other local users can read a process's arguments).
PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && cat >"$WORKDIR/redis.conf") <<EOF
bind 127.0.0.1
protected-mode yes
port $PORT
dir $WORKDIR
daemonize no
logfile $WORKDIR/redis.log
save ""
appendonly no
requirepass $PASSWORD
notify-keyspace-events K\$sgxe
EOF

redis-server "$WORKDIR/redis.conf" &
REDIS_PID=$!
ready=0
for _ in $(seq 1 100); do
    if ! kill -0 "$REDIS_PID" 2>/dev/null; then
        break
    fi
    if REDISCLI_AUTH="$PASSWORD" redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null | grep -q PONG; then
        ready=1
        break
    fi
    sleep 0.1
done
if [ "$ready" -ne 1 ]; then
    echo "with_redis: the server did not start; its log:" >&2
    cat "$WORKDIR/redis.log" >&2 || true
    exit 69
fi

export REFLEX_REDIS_URL="redis://:$PASSWORD@127.0.0.1:$PORT/0"
echo "with_redis: Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$PORT" >&2

# In the background so that a signal reaches the trap at once; "<&0" keeps stdin.
set +e
"$@" <&0 &
CHILD=$!
wait "$CHILD"
STATUS=$?
set -e
exit "$STATUS"
