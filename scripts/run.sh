#!/usr/bin/env bash
# The main job on the embedded default: set-up, then a random-search sweep of
# the bundled backbone on the default IMDB task under a small CO2 budget, and
# its report. Extra arguments go to `carbonsweep run` (e.g. --budget 20g).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
bash "$repo/scripts/setup.sh"
cs="$build_dir/cli/carbonsweep"
db=${CARBONSWEEP_DB:-$repo/runs/carbonsweep.db}
mkdir -p "$(dirname "$db")"
name="default-$(date +%Y%m%d-%H%M%S)"
# What the cheap linear model gets for almost no CO2, before any sweep; recorded in the
# store, where the report shows it as the reference row.
"$cs" baseline --task imdb --db "$db" --out "$(dirname "$db")/baseline-imdb.json"
status=0
# A small budget: at the world-average 475 g/kWh and the CPU-time model's 4 W per thread,
# 1 g CO2e is about 16 minutes of two busy cores (7,580 J / 8 W): about 7 default trials.
"$cs" run --name "$name" --db "$db" --budget 1g --strategy random "$@" || status=$?
"$cs" report "$name" --db "$db"
# 3 = the budget was spent: the normal end of a budgeted sweep.
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
