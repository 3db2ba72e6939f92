#!/usr/bin/env bash
# `make test`: install what the tests need, then run the whole suite:
#   1. ruff;  2. unit and integration tests on SQLite;  3. the database tests on a real PostgreSQL;
#   4. the browser tests (production build driven by Debian's Chromium).
source "$(dirname "$0")/env.sh"
scripts/ensure_chromium.sh
echo "==> ruff"
ruff check .
echo "==> Tests (SQLite)"
pytest -q -m "not browser" tests
echo "==> Tests de base de données (PostgreSQL)"
scripts/with_postgres.sh pytest -q -m "not browser" tests
echo "==> Tests dans le navigateur (Chromium)"
pytest -q -m browser tests/browser
