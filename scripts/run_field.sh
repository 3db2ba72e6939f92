#!/usr/bin/env bash
# A field laptop's app (médicobus, permanence): the same Reflex app in field mode, on
# http://localhost:3001, over the laptop's encrypted store in $CPTS_TERRAIN_DIR (enrol it first:
# `python -m mobile_sync enroll --serveur https://… --code …`). Its own front-end build folder,
# so it can run beside `make run` on the same machine (a demo of server + laptop).
source "$(dirname "$0")/env.sh"
export CPTS_MODE=field
export CPTS_TERRAIN_DIR="${CPTS_TERRAIN_DIR:-$HOME/.cpts-terrain}"
PORT="${PORT:-3001}"
WEB_DIR="${CPTS_FIELD_WEB_DIR:-$PWD/.web-terrain}"
if [ ! -d "$WEB_DIR" ] && [ -d .web ]; then cp -a .web "$WEB_DIR"; fi
export REFLEX_WEB_WORKDIR="$WEB_DIR"
echo "==> Portable de terrain sur http://localhost:${PORT} (données : ${CPTS_TERRAIN_DIR})"
# 127.0.0.1 only: the unlocked laptop must not be reachable from the bus's Wi-Fi or a hotspot.
exec reflex run --env prod --single-port --frontend-port "$PORT" --backend-port "$PORT" --backend-host 127.0.0.1
