#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, docs/fuzzing.md) with clang,
# ASan and UBSan in their own build directory and runs each for a bounded
# time on a copy of its seed corpus (the repository stays clean). Fails when
# any target finds something; the inputs that did are kept in the findings
# directory, with the command that replays each.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20, every target)
#   FUZZ_BUILD_DIR   build directory (default <repo>/build-fuzz)
#   FUZZ_FINDINGS    where crashing inputs go (default <FUZZ_BUILD_DIR>/findings)
#   FUZZ_JOBS        build parallelism (default nproc)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-20}
shift || true
build_dir=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
findings=${FUZZ_FINDINGS:-$build_dir/findings}

if [ ! -f "$build_dir/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCARBONSWEEP_WITH_TORCH=OFF -DCARBONSWEEP_FUZZ=ON >/dev/null
fi
cmake --build "$build_dir" --target fuzzers -- -j"${FUZZ_JOBS:-$(nproc)}"

# The longest input worth trying, per target: a line, a small file, a whole log.
max_len() {
  case $1 in
    budget_fuzzer) echo 64 ;;
    trial_event_fuzzer|energy_event_fuzzer|exit_usage_fuzzer) echo 4096 ;;
    events_log_fuzzer|dataset_csv_fuzzer|dataset_jsonl_fuzzer) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

# Readers of JSON get tests/fuzz/json.dict unless they have a <target>.dict of their own.
json_targets="trial_event_fuzzer events_log_fuzzer exit_usage_fuzzer energy_event_fuzzer slurm_job_fuzzer"
json_targets+=" dataset_jsonl_fuzzer search_space_fuzzer"

targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in "$repo"/tests/fuzz/*_fuzzer.cc; do targets+=("$(basename "$source" .cc)"); done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$findings"
failed=()
for target in "${targets[@]}"; do
  name=${target%_fuzzer}
  binary=$build_dir/tests/fuzz/$target
  [ -x "$binary" ] || { echo "fuzz: no $binary (is $target in tests/fuzz/CMakeLists.txt?)" >&2; exit 1; }
  mkdir -p "$work/$name"
  cp -r "$repo/tests/fuzz/corpus/$name/." "$work/$name/"
  dict=()
  if [ -f "$repo/tests/fuzz/$target.dict" ]; then
    dict=(-dict="$repo/tests/fuzz/$target.dict")
  elif [[ " $json_targets " == *" $target "* ]]; then
    dict=(-dict="$repo/tests/fuzz/json.dict")
  fi
  echo "fuzz: $target for ${seconds}s"
  if ! TMPDIR=$work "$binary" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -max_len="$(max_len "$target")" -print_final_stats=1 -artifact_prefix="$findings/$target-" \
      "$work/$name" >"$work/$name.log" 2>&1; then
    tail -n 60 "$work/$name.log" >&2
    echo "fuzz: $target FOUND A PROBLEM; replay: $binary $findings/$target-*" >&2
    failed+=("$target")
  else
    grep -E '^stat::number_of_executed_units|^Done' "$work/$name.log" | tr '\n' ' '
    echo
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (inputs in $findings)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, nothing found"
