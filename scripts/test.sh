#!/usr/bin/env bash
# The whole test suite: set-up (packages, pinned data, build), then every
# unit and end-to-end suite through CTest, including the Slurm suite (which
# starts and stops its own one-node cluster); then the suites without
# libtorch again under ASan + UBSan (scripts/sanitize.sh) and every fuzzer
# for FUZZ_SECONDS each (scripts/fuzz.sh, default 20). Any failure or
# finding fails the run; every part runs regardless. This is the README's
# test command.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$repo/build}
bash "$repo/scripts/setup.sh"
failed=()
(cd "$build_dir" && ctest --output-on-failure --timeout 1500 -j"${CTEST_PARALLEL:-1}" "$@") || failed+=(ctest)
bash "$repo/scripts/sanitize.sh" || failed+=(sanitize.sh)
bash "$repo/scripts/fuzz.sh" "${FUZZ_SECONDS:-20}" || failed+=(fuzz.sh)
if ((${#failed[@]})); then
  echo "test: failed: ${failed[*]}" >&2
  exit 1
fi
