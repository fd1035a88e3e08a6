#!/bin/bash
# The strategy comparison of issues 5 and 7, on the default IMDB task, in one
# run on one machine: random, grid, random + median pruning and halving under
# the same CO2 budget, then the linear baseline (the reference row), the
# comparison (terminal and HTML) and the random sweep's HTML report.
#
#   bench/strategies.sh [BINARY] [OUT_DIR] [BUDGET] [SEED]
# defaults: build/cli/carbonsweep, strategies/, 1.2g, 0
#   SWEEPS="random halving ..."  which sweeps to run (default: the four
#   below); halving-eta2 is halving with reduction factor 2 (rungs 1, 2, 4).
#
# Trials run two at a time with one thread each (--parallel 2 --threads 2):
# on a 2-core machine a one-thread trial's CPU time, which is what the
# CPU-time power model meters, does not grow when something else runs.
# Each sweep ends with exit 3 (budget spent), which is success here.
set -euo pipefail
bin="${1:-build/cli/carbonsweep}"; out="${2:-strategies}"; budget="${3:-1.2g}"; seed="${4:-0}"
read -r -a sweeps <<< "${SWEEPS:-random grid random-median halving}"
mkdir -p "$out"; db="$out/strategies.db"
common=(--db "$db" --budget "$budget" --seed "$seed" --parallel 2 --threads 2 --quiet)

flags_of() {  # NAME: the run flags of a named sweep.
  case "$1" in
    random) echo "--strategy random" ;;
    grid) echo "--strategy grid" ;;
    random-median) echo "--strategy random --prune median" ;;
    halving) echo "--strategy halving" ;;
    halving-eta2) echo "--strategy halving --reduction-factor 2" ;;
    *) echo "bench/strategies.sh: unknown sweep '$1'" >&2; return 2 ;;
  esac
}

for name in "${sweeps[@]}"; do
  read -r -a flags <<< "$(flags_of "$name")"
  code=0
  "$bin" run --name "$name" "${common[@]}" "${flags[@]}" || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then echo "sweep $name: exit $code" >&2; exit "$code"; fi
  echo "sweep $name: exit $code ($(date -u +%H:%M:%S))"
done
[ -f "$out/baseline.json" ] || "$bin" baseline --task imdb --db "$db" --out "$out/baseline.json"
"$bin" compare "${sweeps[@]}" --db "$db" --html "$out/compare.html" | tee "$out/compare.txt"
for name in "${sweeps[@]}"; do "$bin" report "$name" --db "$db" --format json --out "$out/$name.json"; done
