#!/usr/bin/env bash
# The main job on the embedded examples: qualify each documented example and price a sample entry.
set -euo pipefail
cd "$(dirname "$0")/.."
U=.venv/bin/usmca
$U hts show 9401.99.10 --as-of 2026-03-01
for f in examples/*.yaml; do
  case "$f" in *entry*) continue ;; esac
  echo "== $f"
  $U qualify "$f"
done
for f in examples/*entry*.yaml; do
  [ -e "$f" ] || continue
  echo "== $f"
  $U duty "$f" --compare-claim
done
