#!/usr/bin/env bash
# The unit suites that do not link libtorch, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (clang, so float-to-integer overflows count too)
# in their own build directory and run through CTest. Any report fails the
# suite that printed it, and so this script.
#
#   bash scripts/sanitize.sh [CTEST ARGS...]
#   ASAN_BUILD_DIR   build directory (default <repo>/build-asan)
#   ASAN_JOBS        build parallelism (default nproc)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${ASAN_BUILD_DIR:-$repo/build-asan}
# Every suite without libtorch, except those needing a browser or a Slurm cluster.
suites=(common_test store_test carbon_test search_spaces_test data_test orchestrator_test
        slurm_launcher_test report_test)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

if [ ! -f "$build_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCARBONSWEEP_WITH_TORCH=OFF -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build "$build_dir" --target "${suites[@]}" -- -j"${ASAN_JOBS:-$(nproc)}"
pattern="^($(IFS='|'; echo "${suites[*]}"))\$"
cd "$build_dir"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  ctest --output-on-failure --timeout 900 -R "$pattern" "$@"
