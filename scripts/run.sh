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
"$cs" baseline --task imdb --db "$db" || true
status=0
"$cs" run --name "$name" --db "$db" --budget 5g --strategy random "$@" || status=$?
"$cs" report "$name" --db "$db"
# 3 = the budget was spent: the normal end of a budgeted sweep.
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
