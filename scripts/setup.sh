#!/usr/bin/env bash
# One command for a fresh machine: install, sync the reference data, build the store, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
SRC=${USMCA_DATA_SOURCE:-../shared/data}
.venv/bin/usmca data sync --source "$SRC"
.venv/bin/usmca data build
bash scripts/demo.sh
