#!/usr/bin/env bash
# `make run`: install, migrate, load the demo territory into an empty database, and serve the app
# (front end and back end on one port) at http://localhost:3000.
source "$(dirname "$0")/env.sh"
export CPTS_DEMO="${CPTS_DEMO:-true}"
PORT="${PORT:-3000}"
export CPTS_PUBLIC_URL="${CPTS_PUBLIC_URL:-http://localhost:${PORT}}"
cpts demo --if-empty
echo "==> Application disponible sur http://localhost:${PORT}"
exec reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT"
