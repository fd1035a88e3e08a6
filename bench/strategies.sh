#!/bin/bash
# The strategy comparison of issues 5 and 7, on the default IMDB task, in one
# run on one machine: random, grid, random + median pruning and halving under
# the same CO2 budget, then the linear baseline (the reference row), the
# comparison (terminal and HTML) and the random sweep's HTML report.
#
#   bench/strategies.sh [BINARY] [OUT_DIR] [BUDGET] [SEED]
# defaults: build/cli/carbonsweep, strategies/, 1.2g, 0
#
# Trials run two at a time with one thread each (--parallel 2 --threads 2):
# on a 2-core machine a one-thread trial's CPU time, which is what the
# CPU-time power model meters, does not grow when something else runs.
# Each sweep ends with exit 3 (budget spent), which is success here.
set -euo pipefail
bin="${1:-build/cli/carbonsweep}"; out="${2:-strategies}"; budget="${3:-1.2g}"; seed="${4:-0}"
mkdir -p "$out"; db="$out/strategies.db"
common=(--db "$db" --budget "$budget" --seed "$seed" --parallel 2 --threads 2 --quiet)

sweep() {  # NAME FLAGS...: runs one sweep unless the store already has it finished.
  local name="$1"; shift
  local code=0
  "$bin" run --name "$name" "${common[@]}" "$@" || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then echo "sweep $name: exit $code" >&2; exit "$code"; fi
  echo "sweep $name: exit $code ($(date -u +%H:%M:%S))"
}

sweep random --strategy random
sweep grid --strategy grid
sweep random-median --strategy random --prune median
sweep halving --strategy halving
"$bin" baseline --task imdb --db "$db" --out "$out/baseline.json"
"$bin" compare random grid random-median halving --db "$db" --html "$out/compare.html" | tee "$out/compare.txt"
"$bin" report random --db "$db" --format html --out "$out/random.html"
