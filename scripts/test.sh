#!/usr/bin/env bash
# The test command: installs what the tests need, builds the store from the committed code, then
# lints, type-checks and runs the whole test suite. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,spark]"

export USMCA_HOME=${USMCA_HOME:-$REPO/var/home}
SRC=${USMCA_DATA_SOURCE:-$REPO/../shared/data}
STORE="$USMCA_HOME/store/reference.sqlite"
# Rebuild when there is no store or any source file of the program is newer than it.
if [ ! -f "$STORE" ] || [ -n "$(find src -newer "$STORE" -type f -print -quit)" ]; then
  .venv/bin/usmca data sync --source "$SRC"
  .venv/bin/usmca data build
fi

# Services the tests need (PostgreSQL, Chromium): installed and started here, stopped on exit.
# shellcheck source=scripts/services.sh
source scripts/services.sh

.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/pytest "$@"
