#!/usr/bin/env bash
# The whole test suite: set-up (packages, pinned data, build), then every
# unit and end-to-end suite through CTest, including the Slurm suite (which
# starts and stops its own one-node cluster). This is the README's test command.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
bash "$repo/scripts/setup.sh"
cd "$build_dir"
ctest --output-on-failure --timeout 1500 -j"${CTEST_PARALLEL:-1}" "$@"
